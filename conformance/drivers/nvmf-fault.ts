/**
 * Our own initiator under test, in-process: one NvmeHost (initiator/host.ts) connected on every
 * path, one multipath head per namespace, the `io` workload (initiator/workload.ts) on each head.
 * Its failovers (diagnostics channel) and the application-visible errors become DriverEvents.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import { seededRandom, systemClock, type Clock } from '../../lib/clock.js'
import { InvalidStateError } from '../../lib/errors.js'
import { NvmeHost, INITIATOR_CHANNELS, runDeviceWorkload, type FailoverEvent, type ControllerConnectOptions, type IoPolicy } from '../../initiator/index.js'
import type { NvmeDevice } from '../../initiator/device.js'
import type { DriverEvent, DriverTarget, DriverWorkload, InitiatorDriver } from '../driver-types.js'
import type { InitiatorInfo } from '../report-types.js'

export interface NvmfFaultDriverOptions {
  clock?: Clock
  seed?: number
  iopolicy?: IoPolicy
  /** Controller options (defaults: reconnect 200 ms, ctrl_loss_tmo 30 s, KATO 2 s, I/O timeout 5 s). */
  controller?: Partial<ControllerConnectOptions>
  /** Keep a persistent discovery controller on the first port (re-read the log on its AENs). */
  persistentDiscovery?: boolean
  /** Queue-if-no-path after the last path left (ms). */
  delayedRemovalMs?: number
  version?: string
}

/** The options our initiator runs the catalogue with: short timers so that a run takes seconds. */
export const NVMF_FAULT_DRIVER_DEFAULTS: Readonly<Partial<ControllerConnectOptions>> = Object.freeze({
  kato: 2000,
  reconnectDelayMs: 200,
  ctrlLossTmoMs: 30_000,
  ioTimeoutMs: 5000,
  adminTimeoutMs: 5000,
  connectTimeoutMs: 5000,
})

export class NvmfFaultDriver implements InitiatorDriver {
  readonly info: InitiatorInfo
  readonly #o: NvmfFaultDriverOptions
  readonly #clock: Clock
  #host: NvmeHost | undefined
  #work: Promise<void> | undefined
  #stopped: Promise<void> | undefined
  #unsubscribe: (() => void) | undefined
  #onEvent: ((e: DriverEvent) => void) | undefined
  #errors = 0

  constructor(o: NvmfFaultDriverOptions = {}) {
    this.#o = o
    this.#clock = o.clock ?? systemClock
    const pol = o.iopolicy ?? 'round-robin'
    this.info = {
      id: 'nvmf-fault',
      kind: 'nvmf-fault',
      description: `nvmf-fault ${o.version ?? ''} initiator, in-process (multipath head, iopolicy ${pol}, reconnect ${o.controller?.reconnectDelayMs ?? NVMF_FAULT_DRIVER_DEFAULTS.reconnectDelayMs} ms)`.replace('  ', ' '),
    }
  }

  /** The host under test (for the runner's own assertions in tests). */
  get host(): NvmeHost | undefined {
    return this.#host
  }

  async start(target: DriverTarget, workload: DriverWorkload, onEvent: (e: DriverEvent) => void): Promise<void> {
    if (this.#host !== undefined) throw new InvalidStateError('driver already started')
    const seed = this.#o.seed ?? 1
    const host = new NvmeHost({
      hostnqn: target.hostnqn,
      ...(target.hostid !== undefined ? { hostid: target.hostid } : {}),
      clock: this.#clock,
      random: seededRandom(`${seed}/host`),
      iopolicy: this.#o.iopolicy ?? 'round-robin',
      ...(this.#o.delayedRemovalMs !== undefined ? { delayedRemovalMs: this.#o.delayedRemovalMs } : {}),
      controllerDefaults: { ...NVMF_FAULT_DRIVER_DEFAULTS, ...this.#o.controller },
    })
    this.#host = host
    const report = onEvent
    const emit = (e: DriverEvent): void => {
      if (e.kind === 'error') this.#errors++
      report(e)
    }
    this.#onEvent = emit
    const ch = diagnosticsChannel.channel(INITIATOR_CHANNELS.failover)
    const onFailover = (m: unknown): void => {
      const f = m as FailoverEvent
      if (f.hostId === host.id) emit({ kind: 'failover', detail: `I/O ${f.ioId} failed over from ${f.pathId} (status 0x${f.status.toString(16)})`, path: f.pathId })
    }
    ch.subscribe(onFailover)
    this.#unsubscribe = () => ch.unsubscribe(onFailover)
    for (const trsvcid of target.trsvcids) await host.connect({ traddr: target.traddr, trsvcid, subnqn: target.subnqn })
    if (this.#o.persistentDiscovery === true) await host.connectPersistentDiscovery({ traddr: target.traddr, trsvcid: target.trsvcids[0]!, kato: 2000 })
    const devices = host.devices(target.subnqn).filter((d) => workload.namespaces === 'all' || workload.namespaces.includes(d.nsid))
    emit({ kind: 'ready' })
    this.#work = Promise.all(devices.map((d) => this.#run(d, workload, seed, emit))).then(() => undefined)
  }

  async #run(dev: NvmeDevice, w: DriverWorkload, seed: number, onEvent: (e: DriverEvent) => void): Promise<void> {
    let lastOps = 0
    let lastErrors = 0
    const bytesPerOp = w.bs
    const summary = await runDeviceWorkload(dev, {
      mode: w.rw,
      blockCount: Math.max(1, Math.floor(w.bs / dev.blockSize)),
      qd: w.qd,
      timeMs: w.durationMs,
      spanBlocks: 1 << 14,
      clock: this.#clock,
      random: seededRandom(`${w.pattern}/${seed}/ns${dev.nsid}`),
      progressMs: 250,
      onProgress: (p) => {
        const ops = p.done - lastOps
        const errors = p.errors - lastErrors
        lastOps = p.done
        lastErrors = p.errors
        if (ops > 0 || errors > 0) onEvent({ kind: 'io', nsid: dev.nsid, ops, bytes: ops * bytesPerOp, errors })
      },
    }).catch((err: unknown) => {
      onEvent({ kind: 'error', detail: `nsid ${dev.nsid}: workload failed: ${(err as Error).message}` })
      return undefined
    })
    if (summary === undefined) return
    if (summary.errors > 0) onEvent({ kind: 'error', detail: `nsid ${dev.nsid}: ${summary.errors} I/O error(s) reported to the application, first: ${summary.firstError ?? '?'}` })
    if (summary.verifyFailures > 0) onEvent({ kind: 'error', detail: `nsid ${dev.nsid}: ${summary.verifyFailures} read(s) returned data different from what was written` })
  }

  async stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await this.#work
      this.#unsubscribe?.()
      await this.#host?.close()
      this.#onEvent?.({ kind: 'done', ok: this.#errors === 0, detail: this.#errors === 0 ? 'workload ended, every path disconnected' : `${this.#errors} error report(s)` })
    })()
    return this.#stopped
  }
}
