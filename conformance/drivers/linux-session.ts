/**
 * One Linux host guest kept across the scenarios of a conformance run (a boot costs ~20 s of TCG
 * or more on a loaded machine; the catalogue's scenarios are seconds each). The guest runs
 * kernel/guest/conformance-session.sh: scenario N's start() writes "run.N" (the target's ports,
 * host identity, workload) and waits for "ready.N"; stop() writes "stop.N" and waits for
 * "finished.N" (the guest job has stopped the writers and disconnected every path). close()
 * powers the guest off.
 *
 * Bounded: each start waits at most readyTimeoutSec, each stop stopTimeoutMs (then the guest is
 * killed and the next scenario boots a new one); the guest itself ends after sessionSec, or after
 * idleSec without a scenario (a run that died without close()).
 *
 * Console lines are attributed to the scenario running when they appear: its driver emits them.
 * Kernel error lines (oops/BUG/WARNING/hung task) that appear between two scenarios are emitted
 * to the next scenario, prefixed with "between scenarios, after <previous>:", so they are never
 * lost and never silently blamed on the wrong fault.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError, InvalidStateError } from '../../lib/errors.js'
import type { VmImage } from '../../kernel/vm-image.js'
import { guestScript, startGuest, type GuestVm } from '../../kernel/vm.js'
import type { DriverEvent, DriverTarget, DriverWorkload, InitiatorDriver } from '../driver-types.js'
import type { InitiatorInfo } from '../report-types.js'
import { guestLineEvent, IoDeltas, KernelLogClassifier } from './linux-console.js'
import { LinuxQemuDriver, patternSeed, regionPattern, validate, type LinuxQemuDriverOptions } from './linux-qemu.js'

export interface LinuxSessionOptions extends Omit<LinuxQemuDriverOptions, 'kernel' | 'image' | 'holdSec'> {
  image: VmImage
  /** Hard limit of the guest's whole life (default 3600 s). */
  sessionSec?: number
  /** The guest ends by itself after this long without a scenario (default 600 s). */
  idleSec?: number
}

const MiB = 1024 * 1024
const RESULT = /@@VM result (\w+)=(.*)@@/
/** Kernel error lines kept from between two scenarios. */
const BETWEEN_MAX = 100

interface ScenarioSlot {
  n: number
  label: string
  emit: (e: DriverEvent) => void
  deltas: IoDeltas
  results: Record<string, string>
  appErrors: number
}

/** Shell-quote a value for the guest's `run.N` file (single quotes; values never contain one). */
function assign(name: string, value: string): string {
  if (value.includes("'") || /[\n\r]/.test(value)) throw new InvalidArgumentError(name, 'must not contain a quote or a newline')
  return `${name}='${value}'`
}

/**
 * The guest's stop: writers get 60 s to leave the kernel, then `nvme disconnect` up to 90 s (it
 * waits out a reconnect's admin timeout). Below the runner's driverStopLimitMs for Linux (180 s).
 */
const SESSION_STOP_MS = 170_000

export class LinuxQemuSession {
  readonly info: InitiatorInfo
  readonly #o: LinuxSessionOptions
  readonly #classifier = new KernelLogClassifier()
  #vm: GuestVm | undefined
  #share: string | undefined
  #n = 0
  #current: ScenarioSlot | undefined
  #previous = 'the guest boot'
  #between: string[] = []
  #closed = false

  constructor(o: LinuxSessionOptions) {
    for (const [k, v, max] of [['sessionSec', o.sessionSec, 86_400], ['idleSec', o.idleSec, 86_400]] as const) {
      if (v !== undefined && (!Number.isFinite(v) || v <= 0 || v > max)) throw new InvalidArgumentError(k, `must be a number in (0, ${max}]`)
    }
    this.#o = o
    // The same description as a one-guest driver on the same image.
    this.info = new LinuxQemuDriver(o).info
  }

  /** A driver for one scenario run on this session's guest. */
  driver(connectOptions?: string): InitiatorDriver {
    return new LinuxSessionDriver(this, connectOptions)
  }

  #onConsole(line: string): void {
    this.#o.onConsoleLine?.(line)
    const slot = this.#current
    const r = RESULT.exec(line)
    if (r !== null && slot !== undefined) slot.results[r[1]!] = r[2]!
    const e = guestLineEvent(line, this.#classifier, slot?.deltas ?? new IoDeltas())
    if (e === undefined) return
    if (slot === undefined) {
      if (e.kind === 'log' && e.level === 'error' && this.#between.length < BETWEEN_MAX) this.#between.push(e.detail)
      return
    }
    if (e.kind === 'error') slot.appErrors++
    slot.emit(e)
  }

  async #guest(): Promise<GuestVm> {
    if (this.#vm !== undefined) return this.#vm
    const o = this.#o
    const share = mkdtempSync(join(tmpdir(), 'nvmf-fault-conf-session-'))
    this.#share = share
    copyFileSync(guestScript('conformance-host.sh'), join(share, 'conformance-host.sh'))
    const sessionSec = o.sessionSec ?? 3600
    const vm = await startGuest({
      script: guestScript('conformance-session.sh'),
      env: { CS_IDLE_SECS: String(o.idleSec ?? 600) },
      share,
      image: o.image,
      timeoutSec: sessionSec,
      bootTimeoutSec: o.bootTimeoutSec ?? 300,
      jobLogLevel: 7,
      memMiB: o.memMiB ?? Math.max(512, 384 + 4 * (o.regionMiB ?? 8)),
      cpus: o.cpus ?? 2,
      ...(o.log !== undefined ? { log: o.log } : {}),
      onConsoleLine: (line) => this.#onConsole(line),
    })
    this.#vm = vm
    void vm.done.then((r) => {
      if (this.#vm === vm) this.#vm = undefined
      const slot = this.#current
      if (slot !== undefined) {
        slot.emit({ kind: 'log', level: 'error', detail: `the session guest ended during this scenario: rc ${r.rc}${r.timedOut ? ' (timed out)' : ''}` })
      }
      rmSync(share, { recursive: true, force: true })
    })
    o.log?.(`session guest started (${this.info.description})`)
    return vm
  }

  /** Scenario start: connect every path of `target`, start the workload; resolves at ready.N. */
  async begin(target: DriverTarget, w: DriverWorkload, emit: (e: DriverEvent) => void, connectOptions?: string): Promise<ScenarioSlot> {
    if (this.#closed) throw new InvalidStateError('the Linux host session is closed')
    if (this.#current !== undefined) throw new InvalidStateError('the Linux host session runs one scenario at a time')
    validate(target, w)
    const o = this.#o
    const vm = await this.#guest()
    const n = ++this.#n
    const seed = patternSeed(w.pattern)
    const blocks = Math.max(w.qd, Math.floor(((o.regionMiB ?? 8) * MiB) / w.bs))
    const dir = join(this.#share!, `p.${n}`)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'pattern0.bin'), regionPattern(seed, 0, blocks * w.bs))
    writeFileSync(join(dir, 'pattern1.bin'), regionPattern(seed, 1, blocks * w.bs))
    const slot: ScenarioSlot = { n, label: `scenario ${n}`, emit, deltas: new IoDeltas(), results: {}, appErrors: 0 }
    for (const d of this.#between) emit({ kind: 'log', level: 'error', detail: `between scenarios, after ${this.#previous}: ${d}` })
    this.#between = []
    this.#current = slot
    const vars = [
      assign('CH_SUBNQN', target.subnqn),
      assign('CH_PORTS', target.trsvcids.join(' ')),
      assign('CH_HOSTNQN', target.hostnqn),
      ...(target.hostid !== undefined ? [assign('CH_HOSTID', target.hostid)] : []),
      assign('CH_NSIDS', w.namespaces === 'all' ? 'all' : w.namespaces.join(' ')),
      assign('CH_RW', w.rw),
      assign('CH_BS', String(w.bs)),
      assign('CH_QD', String(Math.min(w.qd, 4))),
      assign('CH_SECONDS', String(Math.ceil(w.durationMs / 1000))),
      // The stop comes from the runner; the job's own wait only bounds a runner that vanished.
      assign('CH_HOLD_SECS', '300'),
      assign('CH_BLOCKS', String(blocks)),
      assign('CH_CONNECT_OPTS', connectOptions ?? o.connectOptions ?? '--ctrl-loss-tmo=60 --reconnect-delay=1'),
    ]
    vm.share.signal(`run.${n}`, `${vars.join('\n')}\n`)
    const got = await vm.waitAnySignal([`ready.${n}`, `failed.${n}`], (o.readyTimeoutSec ?? 600) * 1000).catch((e: unknown) => ({ name: 'error', text: e instanceof Error ? e.message : String(e) }))
    if (got.name !== `ready.${n}`) {
      await this.end(slot, 'not ready')
      throw new Error(`Linux host not ready: ${got.text}`)
    }
    o.log?.(`scenario ${n} ready: namespaces ${got.text.trim()}`)
    return slot
  }

  /** Scenario stop: the guest stops the writers and disconnects; emits the scenario's `done`. */
  async end(slot: ScenarioSlot, why: string): Promise<void> {
    if (this.#current !== slot) return
    const vm = this.#vm
    const limit = this.#o.stopTimeoutMs ?? SESSION_STOP_MS
    let rc = 'none'
    let killed = false
    if (vm !== undefined) {
      try {
        vm.share.signal(`stop.${slot.n}`, '')
        rc = (await vm.waitAnySignal([`finished.${slot.n}`], limit)).text.trim()
      } catch (e) {
        this.#o.log?.(`scenario ${slot.n}: no finish within ${limit} ms (${e instanceof Error ? e.message : String(e)}); killing the guest`)
        killed = true
        vm.kill()
        await vm.done
      }
    }
    this.#current = undefined
    this.#previous = slot.label
    const res = slot.results
    const t = slot.deltas.totals()
    const ok = !killed && rc === '0' && res.disconnect === 'ok' && res.writers_stuck === '0'
    slot.emit({
      kind: 'done',
      ok,
      detail:
        `${why}: session scenario ${slot.n}, job rc ${rc}${killed ? ' (guest killed)' : ''}; ops ${t.ops}, bytes ${t.bytes}, errors ${t.errors} ` +
        `(${slot.appErrors} reported); disconnect ${res.disconnect ?? 'not reached'}; writers stuck ${res.writers_stuck ?? '?'}`,
    })
  }

  /** Power the guest off (bounded; killed if it does not end in time). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    const vm = this.#vm
    if (vm === undefined) return
    try {
      vm.share.signal('quit', '')
    } catch {
      // already gone
    }
    let timer: NodeJS.Timeout | undefined
    const ended = await Promise.race([vm.done.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.#o.stopTimeoutMs ?? SESSION_STOP_MS)))])
    clearTimeout(timer)
    if (!ended) vm.kill()
    await vm.done
  }
}

/** One scenario's driver on a session guest. */
class LinuxSessionDriver implements InitiatorDriver {
  readonly info: InitiatorInfo
  readonly #session: LinuxQemuSession
  readonly #connectOptions: string | undefined
  #slot: ScenarioSlot | undefined
  #started = false
  #doneSent = false
  #stopping: Promise<void> | undefined

  constructor(session: LinuxQemuSession, connectOptions: string | undefined) {
    this.#session = session
    this.#connectOptions = connectOptions
    this.info = session.info
  }

  async start(target: DriverTarget, workload: DriverWorkload, onEvent: (e: DriverEvent) => void): Promise<void> {
    if (this.#started) throw new InvalidStateError('this driver runs one scenario; ask the session for another')
    this.#started = true
    const emit = (e: DriverEvent): void => {
      if (this.#doneSent) return
      if (e.kind === 'done') this.#doneSent = true
      try {
        onEvent(e)
      } catch {
        // the runner's handler never throws; a throwing one must not break the session's console reader
      }
    }
    this.#slot = await this.#session.begin(target, workload, emit, this.#connectOptions)
    emit({ kind: 'ready' })
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#slot === undefined ? Promise.resolve() : this.#session.end(this.#slot, 'stopped')
    return this.#stopping
  }
}
