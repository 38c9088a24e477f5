/**
 * Any initiator behind a command (docs/conformance-driver.md): the runner starts
 *   CMD... --traddr A --trsvcid P [--trsvcid P2...] --subnqn N --hostnqn H [--hostid U] --workload FILE
 * reads JSON lines (DriverEvent) from its stdout, waits for `ready`, and at the end sends SIGTERM
 * and waits for `done` and the exit (SIGKILL after the grace period). Lines that are not a valid
 * event, and stderr lines, come back as `log` events so a broken driver is visible in the report.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { ConnectionError, InvalidArgumentError, InvalidStateError } from '../../lib/errors.js'
import type { DriverEvent, DriverTarget, DriverWorkload, InitiatorDriver } from '../driver-types.js'
import type { InitiatorInfo } from '../report-types.js'

export interface ExternalCommandDriverOptions {
  /** argv: the executable and its own leading arguments. */
  command: string[]
  /** Report id (default `driver:<basename>`). */
  id?: string
  description?: string
  /** After SIGTERM, wait this long for the exit before SIGKILL (ms). Default 10000. */
  graceMs?: number
  env?: NodeJS.ProcessEnv
  cwd?: string
}

const LEVELS = new Set(['warn', 'error'])

/** Validate one stdout line as a DriverEvent; a string says what is wrong. */
export function parseDriverEvent(line: string): DriverEvent | string {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch {
    return 'not JSON'
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object'
  const o = v as Record<string, unknown>
  const num = (k: string): boolean => typeof o[k] === 'number' && Number.isFinite(o[k]) && (o[k] as number) >= 0
  const str = (k: string): boolean => typeof o[k] === 'string'
  const optStr = (k: string): boolean => o[k] === undefined || typeof o[k] === 'string'
  switch (o.kind) {
    case 'ready':
      return { kind: 'ready' }
    case 'io':
      if (!num('nsid') || !num('ops') || !num('bytes') || !num('errors') || !optStr('path')) return "'io' needs numbers nsid, ops, bytes, errors (>= 0) and an optional string path"
      return { kind: 'io', nsid: o.nsid as number, ops: o.ops as number, bytes: o.bytes as number, errors: o.errors as number, ...(o.path !== undefined ? { path: o.path as string } : {}) }
    case 'error':
      if (!str('detail')) return "'error' needs a string detail"
      return { kind: 'error', detail: o.detail as string }
    case 'failover':
      if (!str('detail') || !optStr('path')) return "'failover' needs a string detail and an optional string path"
      return { kind: 'failover', detail: o.detail as string, ...(o.path !== undefined ? { path: o.path as string } : {}) }
    case 'log':
      if (!LEVELS.has(o.level as string) || !str('detail')) return "'log' needs level 'warn' or 'error' and a string detail"
      return { kind: 'log', level: o.level as 'warn' | 'error', detail: o.detail as string }
    case 'done':
      if (typeof o.ok !== 'boolean' || !str('detail')) return "'done' needs a boolean ok and a string detail"
      return { kind: 'done', ok: o.ok, detail: o.detail as string }
    default:
      return `unknown kind ${JSON.stringify(o.kind)}`
  }
}

/** Split `driver:CMD` text into argv on white space (no shell quoting: wrap complex commands in a script). */
export function splitCommand(text: string): string[] {
  const argv = text.trim().split(/\s+/).filter((s) => s !== '')
  if (argv.length === 0) throw new InvalidArgumentError('initiator', "'driver:' needs a command, e.g. driver:./my-driver.sh")
  return argv
}

export class ExternalCommandDriver implements InitiatorDriver {
  readonly info: InitiatorInfo
  readonly #o: ExternalCommandDriverOptions
  #child: ChildProcess | undefined
  #exited: Promise<void> | undefined
  #dir: string | undefined
  #sawDone = false
  #onEvent: ((e: DriverEvent) => void) | undefined
  #stopped: Promise<void> | undefined

  constructor(o: ExternalCommandDriverOptions) {
    if (!Array.isArray(o.command) || o.command.length === 0 || o.command.some((a) => typeof a !== 'string' || a === '')) throw new InvalidArgumentError('command', 'must be a non-empty list of non-empty strings')
    if (o.graceMs !== undefined && (!Number.isInteger(o.graceMs) || o.graceMs < 0)) throw new InvalidArgumentError('graceMs', 'must be a non-negative integer (ms)')
    this.#o = o
    // Named after the script it runs (the last argument that is not an option), else the executable.
    const script = [...o.command].reverse().find((a) => !a.startsWith('-')) ?? o.command[0]!
    const base = script.split('/').pop() ?? script
    this.info = { id: o.id ?? `driver:${base}`, kind: 'driver', description: o.description ?? `external driver: ${o.command.join(' ')}` }
  }

  async start(target: DriverTarget, workload: DriverWorkload, onEvent: (e: DriverEvent) => void): Promise<void> {
    if (this.#child !== undefined) throw new InvalidStateError('driver already started')
    this.#onEvent = onEvent
    this.#dir = await mkdtemp(join(tmpdir(), 'nvmf-conformance-'))
    const wfile = join(this.#dir, 'workload.json')
    await writeFile(wfile, JSON.stringify(workload))
    const args = [...this.#o.command.slice(1), '--traddr', target.traddr]
    for (const p of target.trsvcids) args.push('--trsvcid', String(p))
    args.push('--subnqn', target.subnqn, '--hostnqn', target.hostnqn)
    if (target.hostid !== undefined) args.push('--hostid', target.hostid)
    args.push('--workload', wfile)
    const child = spawn(this.#o.command[0]!, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(this.#o.env !== undefined ? { env: this.#o.env } : {}), ...(this.#o.cwd !== undefined ? { cwd: this.#o.cwd } : {}) })
    this.#child = child
    const stderrTail: string[] = []
    let exitInfo = ''
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal !== null ? `killed by ${signal}` : `exit status ${String(code)}`
        resolve()
      })
      child.once('error', (err) => {
        exitInfo = `could not start: ${err.message}`
        resolve()
      })
    })
    let ready!: () => void
    const readyP = new Promise<void>((r) => (ready = r))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.trim() === '') return
      const e = parseDriverEvent(line)
      if (typeof e === 'string') {
        onEvent({ kind: 'log', level: 'warn', detail: `driver stdout line ignored (${e}): ${line.slice(0, 200)}` })
        return
      }
      if (e.kind === 'done') this.#sawDone = true
      if (e.kind === 'ready') ready()
      onEvent(e)
    })
    createInterface({ input: child.stderr! }).on('line', (line) => {
      stderrTail.push(line)
      if (stderrTail.length > 20) stderrTail.shift()
      onEvent({ kind: 'log', level: 'warn', detail: `driver stderr: ${line.slice(0, 300)}` })
    })
    const exitedFirst = this.#exited.then(() => {
      throw new ConnectionError(`driver ${this.info.id} ended before it was ready (${exitInfo})${stderrTail.length > 0 ? `: ${stderrTail.slice(-3).join(' | ')}` : ''}`)
    })
    await Promise.race([readyP, exitedFirst])
  }

  async stop(): Promise<void> {
    this.#stopped ??= (async () => {
      const child = this.#child
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const grace = this.#o.graceMs ?? 10_000
        let t: NodeJS.Timeout | undefined
        const killed = new Promise<void>((resolve) => {
          t = setTimeout(() => {
            child.kill('SIGKILL')
            resolve()
          }, grace)
        })
        await Promise.race([this.#exited, killed])
        clearTimeout(t)
        await this.#exited
      }
      if (!this.#sawDone) this.#onEvent?.({ kind: 'done', ok: false, detail: 'the driver exited without printing done' })
      if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true })
    })()
    return this.#stopped
  }
}
