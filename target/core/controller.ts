/**
 * A controller (dynamic model: created by an admin Connect, NVMe Base 2.0 section 3.3.1). Owns its
 * queues, the properties CAP/VS/CC/CSTS with the enable/ready/shutdown semantics of section 3.5,
 * the keep-alive timer (section 3.9), the Asynchronous Event queue honouring AEC (section 5.2) and
 * the Error log. Its Changed Namespace List lives in the subsystem's namespace map (keyed by cntlid).
 *
 * State machine: DISABLED → READY (CC.EN=1) → SHUTTING_DOWN → SHUTDOWN, FATAL (CSTS.CFS) from any
 * live state, and DELETED (terminal) from every state.
 */
import type { Logger } from 'pino'
import { decodeCc, encodeCap, CC_CSS_ALL, CC_CSS_NVM, CSTS_SHST_COMPLETE, CSTS_SHST_OCCURRING, Property, NVME_VS_2_0 } from '../../lib/nvme/fabrics.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { AenConfigBit, AenEvent } from '../../lib/nvme/aen.js'
import { LogPageId } from '../../lib/nvme/opcodes.js'
import type { Clock } from '../../lib/clock.js'
import { StateMachine } from './state-machine.js'
import { ErrorLog, type ErrorLogEntry } from './error-log.js'
import { DEFERRED, type Request } from './request.js'
import type { Queue } from './queue.js'
import { clampKato } from '../limits.js'
import { KeepAliveTimer } from './keep-alive-timer.js'

export type ControllerState = 'DISABLED' | 'READY' | 'SHUTTING_DOWN' | 'SHUTDOWN' | 'FATAL' | 'DELETED'
const CONTROLLER_TABLE: Readonly<Record<ControllerState, readonly ControllerState[]>> = {
  DISABLED: ['READY', 'FATAL', 'SHUTTING_DOWN', 'DELETED'],
  READY: ['DISABLED', 'SHUTTING_DOWN', 'FATAL', 'DELETED'],
  SHUTTING_DOWN: ['SHUTDOWN', 'DISABLED', 'FATAL', 'DELETED'],
  SHUTDOWN: ['DISABLED', 'FATAL', 'DELETED'],
  FATAL: ['DISABLED', 'DELETED'],
  DELETED: [],
}

/** AEN masks (AEC / OAES bits, NVMe Base 2.0 Figure 319) and the DW0 values (wire spec 6.2). */
export const AEN = {
  NS_CHANGED: { aecBit: AenConfigBit.NS_ATTR, dw0: AenEvent.NS_CHANGED, lid: LogPageId.CHANGED_NS },
  ANA_CHANGE: { aecBit: AenConfigBit.ANA_CHANGE, dw0: AenEvent.ANA_CHANGE, lid: LogPageId.ANA },
  DISC_CHANGE: { aecBit: AenConfigBit.DISC_CHANGE, dw0: AenEvent.DISC_CHANGE, lid: LogPageId.DISCOVERY },
} as const
/** AEC bits this target supports: NS attribute, ANA change, discovery change. */
export const SUPPORTED_AEC = (AEN.NS_CHANGED.aecBit | AEN.ANA_CHANGE.aecBit | AEN.DISC_CHANGE.aecBit) >>> 0
/** AERL (0's based): at most 4 outstanding AERs. */
export const AERL = 3
/** Discovery controllers substitute this KATO when the host asks for none (Linux nvmet). */
export const DISCOVERY_DEFAULT_KATO_MS = 120_000

export interface ControllerEnv {
  readonly clock: Clock
  readonly logger: Logger
  /** CAP.MQES + 1. */
  readonly maxQueueSize: number
  /** KATO range (limits.kato): requested values are clamped into it. */
  readonly katoRange: { minMs: number; maxMs: number }
  /** Called once when the controller is deleted (unpublish from subsystem, emit events). */
  onDeleted(ctrl: Controller, reason: string): void
  onStateChange(ctrl: Controller, from: ControllerState, to: ControllerState): void
  /** Flush the subsystem's stores (normal shutdown). */
  flush(): Promise<void>
}

export interface ControllerOptions {
  env: ControllerEnv
  cntlid: number
  subnqn: string
  hostnqn: string
  hostid: Buffer
  portId: number
  discovery: boolean
  /** KATO from the admin Connect, ms. */
  kato: number
  /** Highest I/O queue id the subsystem allows. */
  maxIoQueues: number
}

export interface ControllerStatus {
  cntlid: number
  subnqn: string
  hostnqn: string
  portId: number
  state: ControllerState
  kato: number
  discovery: boolean
  queues: ReturnType<Queue['status']>[]
}

export class Controller {
  readonly env: ControllerEnv
  readonly cntlid: number
  readonly subnqn: string
  readonly hostnqn: string
  readonly hostid: Buffer
  readonly portId: number
  readonly discovery: boolean
  readonly sm: StateMachine<ControllerState>
  readonly queues = new Map<number, Queue>()
  readonly errorLog = new ErrorLog()
  readonly logger: Logger
  /** KATO in ms (0 = keep-alive disabled). */
  kato: number
  /** I/O queues granted by Set Features Number of Queues (count, not 0's based). */
  ioQueues: number
  readonly maxIoQueues: number
  cc = 0
  csts = 0
  /** Async Event Configuration (Set Features 0x0B); 0 until the host enables events. */
  aec = 0
  readonly features = new Map<number, number>()
  /** Feature data buffers (Timestamp, Host Behavior, APST). */
  readonly featureData = new Map<number, Buffer>()
  /** SMART counters. */
  /**
   * SMART counters, counted per I/O command: numbers, not bigints (no BigInt allocated per command),
   * exact up to 2^53 (8 PiB moved; years at this target's rates). The log page widens them.
   */
  readonly smart = { hostReadCommands: 0, hostWriteCommands: 0, bytesRead: 0, bytesWritten: 0 }
  readonly #aers: Request[] = []
  readonly #aenQueue: number[] = []
  /** Log page ids whose event was reported and not yet cleared by a log read with RAE=0. */
  readonly #aenMasked = new Set<number>()
  readonly #ka: KeepAliveTimer
  readonly createdAt: number

  constructor(o: ControllerOptions) {
    this.env = o.env
    this.cntlid = o.cntlid
    this.subnqn = o.subnqn
    this.hostnqn = o.hostnqn
    this.hostid = Buffer.from(o.hostid)
    this.portId = o.portId
    this.discovery = o.discovery
    // Clamped: a KATO of 2^31 ms or more would overflow the timer (it then fires every ms).
    this.kato = clampKato(o.discovery && o.kato === 0 ? DISCOVERY_DEFAULT_KATO_MS : o.kato, o.env.katoRange)
    this.maxIoQueues = o.maxIoQueues
    this.ioQueues = o.maxIoQueues
    this.logger = o.env.logger.child({ cntlid: o.cntlid, hostnqn: o.hostnqn, subnqn: o.subnqn })
    this.sm = new StateMachine<ControllerState>({ name: 'controller', initial: 'DISABLED', table: CONTROLLER_TABLE })
    this.sm.onTransition((from, to) => {
      this.logger.debug({ from, to }, 'controller state')
      this.env.onStateChange(this, from, to)
    })
    this.createdAt = o.env.clock.now()
    this.#ka = new KeepAliveTimer({
      clock: o.env.clock,
      kato: () => this.kato,
      onExpired: () => {
        this.logger.warn({ kato: this.kato }, 'keep-alive timeout: a whole KATO period without a command, deleting controller')
        this.delete('keep-alive timeout')
      },
    })
    this.#ka.start()
  }

  get state(): ControllerState {
    return this.sm.state
  }
  get deleted(): boolean {
    return this.sm.is('DELETED')
  }
  /** Commands other than Fabrics are accepted only when CC.EN=1 and CSTS.RDY=1 (Base 2.0 3.5.1). */
  get ready(): boolean {
    return this.sm.is('READY')
  }
  get adminQueue(): Queue | undefined {
    return this.queues.get(0)
  }

  // ---- properties (Base 2.0 section 3.1.4) -------------------------------------------------

  get cap(): bigint {
    // MQES 0's based; CQR 1 (fabrics); TO 15 (7.5 s); CSS bit 0 = NVM command set only, so the host
    // writes CC.CSS = 000b and does not require a CSI descriptor; MPSMIN = MPSMAX = 0 (4 KiB).
    return encodeCap({ mqes: this.env.maxQueueSize - 1, cqr: true, to: 15, css: 0x01, mpsmin: 0, mpsmax: 0 })
  }
  get vs(): number {
    return NVME_VS_2_0
  }

  /** Property Get: value or a status. */
  propertyGet(ofst: number, size: 4 | 8): { status: number; value: bigint } {
    switch (ofst) {
      case Property.CAP:
        return { status: 0, value: size === 8 ? this.cap : this.cap & 0xffffffffn }
      case Property.VS:
        return { status: 0, value: BigInt(this.vs) }
      case Property.CC:
        return { status: 0, value: BigInt(this.cc >>> 0) }
      case Property.CSTS:
        return { status: 0, value: BigInt(this.csts >>> 0) }
      default:
        // Linux nvmet: an unsupported property is Invalid Field in Command (wire spec 3.3).
        return { status: NvmeStatus.INVALID_FIELD | STATUS_DNR, value: 0n }
    }
  }

  propertySet(ofst: number, value: number): number {
    if (ofst !== Property.CC) return NvmeStatus.INVALID_FIELD | STATUS_DNR
    this.#updateCc(value >>> 0)
    return 0
  }

  /** CC write semantics (nvmet_update_cc; Base 2.0 3.5.1 / 3.6). */
  #updateCc(next: number): void {
    const old = decodeCc(this.cc)
    const cc = decodeCc(next)
    this.cc = next
    if (cc.en && !old.en) {
      // Enabling: validate the queue entry sizes and page size before reporting ready.
      const bad = cc.mps !== 0 || cc.ams !== 0 || (cc.css !== CC_CSS_NVM && cc.css !== CC_CSS_ALL) || (!this.discovery && (cc.iosqes !== 6 || cc.iocqes !== 4))
      if (bad) {
        this.logger.warn({ cc: next }, 'invalid CC on enable: controller fatal')
        this.csts |= 0x2
        this.sm.tryTransition('FATAL')
        return
      }
      this.csts = 0x1
      this.sm.transition('READY')
      // nvmet_start_ctrl: enabling restarts the keep-alive period.
      this.#ka.restart()
    }
    if (!cc.en && old.en) {
      // Controller reset: RDY cleared, CC cleared (nvmet_clear_ctrl).
      this.csts &= ~0x1
      this.csts &= ~0x2
      this.cc = 0
      this.sm.tryTransition('DISABLED')
    }
    if (cc.shn !== 0 && old.shn === 0) {
      this.csts = (this.csts & ~0xc) | (CSTS_SHST_OCCURRING << 2)
      if (this.sm.tryTransition('SHUTTING_DOWN')) {
        // Normal shutdown: make written data durable before reporting shutdown complete.
        void this.env
          .flush()
          .catch((err: unknown) => this.logger.error({ err }, 'flush on shutdown failed'))
          .then(() => {
            if (this.deleted) return
            this.csts = (this.csts & ~0xd) | (CSTS_SHST_COMPLETE << 2)
            this.sm.tryTransition('SHUTDOWN')
          })
      }
    }
    if (cc.shn === 0 && old.shn !== 0) {
      this.csts &= ~0xc
      if (this.sm.is('SHUTDOWN', 'SHUTTING_DOWN')) this.sm.tryTransition('DISABLED')
    }
  }

  /** CSTS.CFS: the controller had a fatal error (nvmet debugfs "fatal"); the host resets it. */
  setFatal(reason: string): void {
    if (this.deleted) return
    this.logger.warn({ reason }, 'controller fatal')
    this.csts |= 0x2
    this.sm.tryTransition('FATAL')
  }

  // ---- keep-alive (Base 2.0 section 3.9; judged as nvmet, target/core/keep-alive-timer.ts) -----

  /** Any command counts as keep-alive traffic (CTRATT.TBKAS). */
  touch(): void {
    this.#ka.touch()
  }
  /** Keep Alive: the period restarts now (nvmet mod_delayed_work of ka_work). */
  keepAlive(): void {
    this.#ka.restart()
  }
  /** Set Features KATO: the value in use is clamped into the configured range (Get Features reports it). */
  setKato(ms: number): void {
    this.kato = clampKato(ms, this.env.katoRange)
    this.#ka.restart()
  }
  /**
   * An authentication transaction on `queue` is open (`on`) or over: while any is open the keep-alive
   * does not expire the controller; its end counts as traffic (target/cmd/auth-expiry.ts).
   */
  holdKeepAlive(queue: Queue, on: boolean): void {
    if (on) this.#ka.hold(queue)
    else this.#ka.release(queue)
  }

  // ---- queues ---------------------------------------------------------------------------------

  /** Binds an admin or I/O queue (after Connect validation). */
  addQueue(q: Queue, qid: number): void {
    this.queues.set(qid, q)
  }
  /** A queue's connection went away. Losing the admin queue deletes the controller. */
  queueGone(q: Queue, reason: string): void {
    if (this.queues.get(q.qid) === q) this.queues.delete(q.qid)
    // nvmet_sq_destroy: a queue's teardown counts as traffic (the host sends nothing meanwhile).
    this.#ka.release(q)
    this.#ka.touch()
    if (q.qid === 0) {
      this.#aers.length = 0
      this.delete(`admin queue closed: ${reason}`)
    }
  }

  /** Deletes the controller: marked first, then every connection closed. */
  delete(reason: string): void {
    if (this.deleted) return
    this.sm.transition('DELETED')
    this.#ka.stop()
    this.#aers.length = 0
    for (const q of [...this.queues.values()]) q.transport.close(reason)
    this.env.onDeleted(this, reason)
  }

  // ---- error log ------------------------------------------------------------------------------

  logError(e: Omit<ErrorLogEntry, 'errorCount'>): void {
    this.errorLog.append(e)
  }

  // ---- asynchronous events (Base 2.0 section 5.2) -------------------------------------------

  /** AER: held until an event; more than AERL+1 outstanding → Asynchronous Event Request Limit Exceeded. */
  postAer(req: Request): number | typeof DEFERRED {
    if (this.#aers.length > AERL) return NvmeStatus.ASYNC_LIMIT | STATUS_DNR
    this.#aers.push(req)
    this.#deliverAens()
    return DEFERRED
  }
  get outstandingAers(): number {
    return this.#aers.length
  }
  get queuedAens(): readonly number[] {
    return this.#aenQueue
  }

  /**
   * Queue an event unless the host disabled it (AEC) or an event for the same log page is still
   * unacknowledged (masked until that log is read with RAE=0, as nvmet does). `force` skips the mask
   * (the `raiseAen` API for rescan storms).
   */
  raiseAen(ev: { aecBit: number; dw0: number; lid: number }, force = false): boolean {
    if (this.deleted) return false
    if ((this.aec & ev.aecBit) === 0) return false
    if (!force && this.#aenMasked.has(ev.lid)) return false
    this.#aenMasked.add(ev.lid)
    this.#aenQueue.push(ev.dw0 >>> 0)
    this.#deliverAens()
    return true
  }
  #deliverAens(): void {
    while (this.#aers.length > 0 && this.#aenQueue.length > 0) {
      const req = this.#aers.shift()!
      const dw0 = this.#aenQueue.shift()!
      // Its queue went away (the request was aborted): nothing can be sent on it.
      if (req.aborted) continue
      req.dw0 = dw0
      req.queue.complete(req, 0)
    }
  }
  /** A log page was read with RAE=0: re-arm its event. */
  clearAen(lid: number): void {
    this.#aenMasked.delete(lid)
  }

  status(): ControllerStatus {
    return {
      cntlid: this.cntlid,
      subnqn: this.subnqn,
      hostnqn: this.hostnqn,
      portId: this.portId,
      state: this.state,
      kato: this.kato,
      discovery: this.discovery,
      queues: [...this.queues.values()].map((q) => q.status()),
    }
  }
}
