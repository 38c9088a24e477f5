/**
 * `nvmf-fault target`: run a standalone NVMe/TCP target from a YAML/JSON config file, from
 * `--listen ADDR:PORT` flags, or (with neither) the built-in default of `npm start`.
 */
import { Command, InvalidArgumentError as CommanderArgError } from 'commander'
import { pino, type Logger, type LevelWithSilent } from 'pino'
import { ConfigError } from '../lib/errors.js'
import { DEFAULT_SUBSYSTEM_NQN, defaultTargetConfig, type PortConfig, type TargetConfig } from './config.js'
import type { ConfigWarning } from './config-nvmetcli.js'
import { CONFIG_FORMAT_OPTIONS, readConfigSource, rebasePorts, type ConfigFormatOption } from './config-source.js'
import { createTarget, type TargetHandle } from './index.js'
import { addTargetFaultOptions, startTargetFaults, type TargetFaultCliOptions } from '../faults/cli-target.js'

const LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export interface TargetCliOptions {
  listen: string[]
  config?: string
  /** auto (default), native or nvmetcli. */
  configFormat?: ConfigFormatOption
  /** Move the config's ports: the lowest to N, the others keeping their distance; 0 = free ports. */
  portBase?: number
  logLevel: string
  tracePdu?: boolean
  pretty?: boolean
}

/** "ADDR:PORT" or "[v6addr]:PORT" → { address, port }. */
export function parseListen(v: string): { address: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v.trim())
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65535) throw new CommanderArgError(`--listen expects ADDR:PORT (e.g. 127.0.0.1:4420), got "${v}"`)
  return { address: (m[1] ?? m[2])!, port }
}

/**
 * The configuration the flags describe (file in either format, or default; --port-base moving its
 * ports, or --listen replacing them). `onWarning` hears every field an nvmetcli file has that the
 * target does not honour.
 */
export async function resolveCliConfig(o: TargetCliOptions, onWarning?: (w: ConfigWarning) => void): Promise<TargetConfig> {
  if (o.portBase !== undefined && o.listen.length > 0) throw new CommanderArgError('--port-base moves the configured ports; it cannot be combined with --listen')
  const base: TargetConfig =
    o.config !== undefined
      ? await readConfigSource(o.config, { format: o.configFormat ?? 'auto', ...(onWarning !== undefined ? { onWarning } : {}) })
      : defaultTargetConfig()
  if (o.portBase !== undefined) return rebasePorts(base, o.portBase)
  if (o.listen.length > 0) {
    base.ports = o.listen.map((l, i): PortConfig => ({ id: i + 1, ...parseListen(l) }))
  }
  return base
}

function makeLogger(level: string, pretty: boolean): Logger {
  if (pretty) {
    try {
      return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } })
    } catch {
      // pino-pretty missing: JSON logs
    }
  }
  return pino({ level })
}

/** The `nvme discover` / `nvme connect` lines for the ports of a running target. */
export function connectHints(target: TargetHandle): string[] {
  const st = target.status()
  const lines: string[] = []
  for (const p of st.ports) {
    const a = p.advertise
    if (p.discovery) lines.push(`nvme discover -t tcp -a ${a.address} -s ${a.port}`)
    for (const s of p.subsystems) lines.push(`nvme connect -t tcp -a ${a.address} -s ${a.port} -n ${s}`)
  }
  return lines
}

export async function runTarget(o: TargetCliOptions): Promise<TargetHandle> {
  if (!LEVELS.includes(o.logLevel)) throw new CommanderArgError(`--log-level must be one of ${LEVELS.join(', ')}`)
  const level = o.tracePdu === true && o.logLevel !== 'silent' ? 'trace' : o.logLevel
  const logger = makeLogger(level as LevelWithSilent, o.pretty ?? process.stdout.isTTY === true)
  const config = await resolveCliConfig(o, (w) => logger.warn({ path: w.path }, `config: ${w.path}: ${w.message}`))
  const target = await createTarget({ ...config, logger, tracePdu: o.tracePdu === true })
  for (const p of target.ports) logger.info({ portId: p.id, address: p.address, port: p.port }, `listening on ${p.address}:${p.port}`)
  for (const line of connectHints(target)) logger.info(line)
  let stopping = false
  const stop = (sig: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal: sig }, 'shutting down: stop accepting, finish in-flight commands, close')
    void target.close().then(
      () => {
        logger.flush?.()
        process.exitCode = 0
        // Let pino's transport flush, then leave even if a stray handle lingers.
        setTimeout(() => process.exit(0), 100)
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
  return target
}

/** Adds `target` to the program (called from bin/program.ts). */
export function registerTargetCommand(program: Command): void {
  const cmd = program
    .command('target')
    .description(`run an NVMe/TCP target (default: 127.0.0.1:4420 and :4421, subsystem ${DEFAULT_SUBSYSTEM_NQN}, 1 GiB memory namespace)`)
    .option('-l, --listen <addr:port>', 'listen address (repeatable; replaces the ports of the config). Port 0 picks a free port', (v: string, prev: string[]) => {
      parseListen(v)
      return [...prev, v]
    }, [] as string[])
    .option('-c, --config <file>', "YAML or JSON configuration file (native, or nvmetcli's saveconfig JSON)")
    .option('--config-format <format>', `format of --config: ${CONFIG_FORMAT_OPTIONS.join(', ')} (default auto: detected)`, (v: string) => {
      if (!CONFIG_FORMAT_OPTIONS.includes(v as ConfigFormatOption)) throw new CommanderArgError(`--config-format must be one of ${CONFIG_FORMAT_OPTIONS.join(', ')}, got "${v}"`)
      return v
    })
    .option('--port-base <n>', "move the config's ports: the lowest to N, the others keeping their distance (ids and per-port ANA tables unchanged); 0 = free ports", (v: string) => {
      const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN
      if (!(n >= 0 && n <= 65535)) throw new CommanderArgError(`--port-base must be an integer in [0, 65535], got "${v}"`)
      return n
    })
    .option('--log-level <level>', `log level (${LEVELS.join(', ')})`, 'info')
    .option('--trace-pdu', 'log every PDU (trace level)')
    .option('--no-pretty', 'JSON logs even on a terminal')
  addTargetFaultOptions(cmd) // faults/: --scenario, --seed, --control, --control-tcp, --control-token, --record-pdus, --trace-out
  cmd.action(async (opts: { listen: string[]; config?: string; configFormat?: ConfigFormatOption; portBase?: number; logLevel: string; tracePdu?: boolean; pretty: boolean } & TargetFaultCliOptions) => {
      try {
        const o: TargetCliOptions = { listen: opts.listen, logLevel: opts.logLevel, pretty: opts.pretty && process.stdout.isTTY === true }
        if (opts.config !== undefined) o.config = opts.config
        if (opts.configFormat !== undefined) o.configFormat = opts.configFormat
        if (opts.portBase !== undefined) o.portBase = opts.portBase
        if (opts.tracePdu === true) o.tracePdu = true
        const target = await runTarget(o)
        await startTargetFaults(target, opts)
      } catch (err) {
        // Keep the code: the CLI prints it and maps ERR_NVMEOF_CONFIG to the usage exit code.
        if (err instanceof ConfigError) throw Object.assign(new Error(`invalid configuration: ${err.message}`, { cause: err }), { code: err.code })
        throw err
      }
    })
}
