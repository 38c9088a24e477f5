/**
 * The options `nvmf-fault target` gains from faults/ (--scenario, --seed, --control, --control-tcp,
 * --http, --record-pdus, --trace-out, ...) and the start of the fault engine they ask for; the `ctl`
 * verbs that drive it at run time are faults/cli.ts.
 */
import { writeFileSync } from 'node:fs'
import { Command, InvalidArgumentError as CommanderArgError } from 'commander'
import { pino } from 'pino'
import type { TargetHandle } from '../target/index.js'
import { attachFaults, type AttachFaultsOptions, type FaultsHandle } from './attach.js'
import { intArg } from './cli.js'
import type { TraceFormat } from './trace.js'

/** Options `nvmf-fault target` gains from faults/ (see {@link addTargetFaultOptions}). */
export interface TargetFaultCliOptions {
  scenario?: string
  control?: string
  controlTcp?: string
  controlToken?: string
  seed?: number
  recordPdus?: boolean
  traceOut?: string
  http?: string
  httpSocket?: string
  httpAllow?: string[]
  httpToken?: string
}

/** Add --scenario, --seed, --control, --control-tcp, --control-token, --record-pdus to `nvmf-fault target`. */
export function addTargetFaultOptions(cmd: Command): Command {
  return cmd
    .option('--scenario <file>', 'run a fault scenario (YAML or JSON, proto/scenario.proto)')
    .option('--seed <n>', 'run seed for faults and scenarios (same seed, same fault sequence)', intArg('--seed', 0, Number.MAX_SAFE_INTEGER))
    .option('--control <path>', 'control endpoint: a Unix socket created with mode 0600 (for nvmf-fault ctl)')
    .option('--control-tcp <addr:port>', 'also a TCP control endpoint, loopback only (needs --control-token)')
    .option('--control-token <token>', 'token for --control-tcp (at least 8 characters)')
    .option('--record-pdus', 'record every PDU in the event trace (trace dump --format pcap)')
    .option('--trace-out <file>', 'write the event trace at shutdown (.pcap: pcap, .jsonl/.json: JSON lines, else length-delimited protobuf)')
    .option('--http <addr:port>', 'HTTP/JSON control API and /metrics on this address (loopback unless --http-allow names it; port 0 picks one)')
    .option('--http-socket <path>', 'HTTP/JSON control API on a Unix socket (mode 0600)')
    .option('--http-allow <addr>', 'allow --http on this non-loopback address (repeatable; needs --http-token)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--http-token <token>', 'bearer token for the HTTP API (at least 16 characters; default $NVMF_FAULT_HTTP_TOKEN)')
}

/** `ADDR:PORT` or `[v6]:PORT` of a control flag (`--control-tcp`, `--http`) -> { host, port }. */
export function parseHostPort(v: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v)
  if (m === null || Number(m[3]) > 65535) throw new CommanderArgError(`${flag} expects ADDR:PORT (e.g. 127.0.0.1:8080), got "${v}"`)
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) }
}

function httpOptions(o: TargetFaultCliOptions): NonNullable<AttachFaultsOptions['http']> {
  const token = o.httpToken ?? process.env.NVMF_FAULT_HTTP_TOKEN
  return {
    ...(o.http !== undefined ? { listen: parseHostPort(o.http, '--http') } : {}),
    ...(o.httpSocket !== undefined ? { socketPath: o.httpSocket } : {}),
    ...(o.httpAllow !== undefined ? { allow: o.httpAllow } : {}),
    ...(token !== undefined && token !== '' ? { token } : {}),
  }
}

/** The trace format a file name asks for. */
export function traceFormatFor(file: string): TraceFormat {
  if (/\.pcap$/i.test(file)) return 'pcap'
  if (/\.jsonl?$/i.test(file)) return 'jsonl'
  return 'proto'
}

/**
 * Attach faults to a target started by the CLI when any fault option is given; closes them on
 * SIGINT/SIGTERM (the control socket file is removed). Returns undefined when no option asked for it.
 */
export async function startTargetFaults(target: TargetHandle, o: TargetFaultCliOptions): Promise<FaultsHandle | undefined> {
  const wantHttp = o.http !== undefined || o.httpSocket !== undefined
  if (o.scenario === undefined && o.control === undefined && o.controlTcp === undefined && o.recordPdus !== true && o.traceOut === undefined && !wantHttp) return undefined
  let faults: FaultsHandle
  try {
    let controlTcp: { host: string; port: number; token: string } | undefined
    if (o.controlTcp !== undefined) {
      const hp = parseHostPort(o.controlTcp, '--control-tcp')
      if (o.controlToken === undefined) throw new CommanderArgError('--control-tcp needs --control-token')
      controlTcp = { ...hp, token: o.controlToken }
    }
    faults = await attachFaults(target, {
      logger: pino({ name: 'faults' }),
      ...(o.scenario !== undefined ? { scenario: o.scenario } : {}),
      ...(o.control !== undefined ? { control: o.control } : {}),
      ...(controlTcp !== undefined ? { controlTcp } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.recordPdus === true ? { recordPdus: true } : {}),
      // Loaded only when asked for: the CLI's start-up does not pay for prom-client otherwise.
      ...(wantHttp ? { http: httpOptions(o), metrics: (await import('../target/metrics.js')).createTargetMetrics(target) } : {}),
    })
  } catch (err) {
    // A bad option, scenario or control path: do not leave a half-started target running.
    await target.close()
    throw err
  }
  const stop = (): void => {
    if (o.traceOut !== undefined) {
      try {
        writeFileSync(o.traceOut, faults.engine.trace.export(traceFormatFor(o.traceOut)))
      } catch (err) {
        process.stderr.write(`nvmf-fault: cannot write the trace to ${o.traceOut}: ${(err as Error).message}\n`)
      }
    }
    void faults.close()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return faults
}
