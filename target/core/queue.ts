/**
 * One NVMe queue = one connection (NVMe/TCP 1.0 section 3.3). State machine
 * CONNECTING (waiting for ICReq) → LIVE → DISCONNECTING → CLOSED, and the single command pipeline
 * `parse → execute → complete` (nvmet `nvmet_req_init` / `nvmet_req_complete`):
 *
 * - parse: pick the handler by queue/opcode, validate fields, take the namespace reference;
 * - fault seam `onCommand`; fetch write data (R2T) when it was not in the capsule;
 * - execute; then `complete` writes the CQE fields, advances SQHD, appends to the error log on an
 *   error, runs the `onCompletion` seam and hands the response to the transport.
 *
 * Each request moves through its own state machine (request.ts), which alone releases the namespace
 * reference; a continuation that finds its request `aborted` (the queue went away) does nothing.
 * The seams dispatch through target/seams: with no hooks installed nothing here awaits unless the
 * command itself is asynchronous.
 */
// The module's Buffer, not the global: in ESM the global is a getter run on every use (hot path).
import { Buffer } from 'node:buffer'
import type { Logger } from 'pino'
import type { Sqe } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { StateMachine } from './state-machine.js'
import { DEFERRED, Request, type ExecuteResult } from './request.js'
import type { QueueTransport } from './transport-ops.js'
import { SEAMS, type CommandDecision, type HookContext, type HookSlot } from '../seams/index.js'
import type { Controller } from './controller.js'
import type { Clock } from '../../lib/clock.js'

export type QueueState = 'CONNECTING' | 'LIVE' | 'DISCONNECTING' | 'CLOSED'
const QUEUE_TABLE: Readonly<Record<QueueState, readonly QueueState[]>> = {
  CONNECTING: ['LIVE', 'DISCONNECTING', 'CLOSED'],
  LIVE: ['DISCONNECTING', 'CLOSED'],
  DISCONNECTING: ['CLOSED'],
  CLOSED: [],
}

/** What a queue needs from its surroundings (the target core). */
export interface QueueEnv {
  readonly clock: Clock
  readonly hooks: HookSlot
  readonly logger: Logger
  /** Parse by queue kind; returns the status (0 = go on; req.execute is set). */
  parse(req: Request): number
  queueEvent(queue: Queue, event: 'live' | 'connected' | 'closed'): void
}

export interface QueueStatus {
  connectionId: number
  portId: number
  qid: number | undefined
  state: QueueState
  depth: number
  inflight: number
  remoteAddress: string
  remotePort: number
}

export class Queue {
  readonly env: QueueEnv
  readonly transport: QueueTransport
  readonly sm: StateMachine<QueueState>
  /** Set by Connect. */
  qid = -1
  sqsize = 0
  /** Connect CATTR bit 2: SQ flow control disabled (SQHD 0xFFFF, C2HData SUCCESS allowed). */
  sqFlowDisabled = false
  controller: Controller | undefined
  sqhd = 0
  readonly inflight = new Map<number, Request>()
  logger: Logger
  readonly #ctx: HookContext

  constructor(options: { env: QueueEnv; transport: QueueTransport; logger: Logger }) {
    this.env = options.env
    this.transport = options.transport
    this.logger = options.logger
    this.sm = new StateMachine<QueueState>({ name: 'queue', initial: 'CONNECTING', table: QUEUE_TABLE })
    this.sm.onTransition((from, to) => this.logger.debug({ from, to }, 'queue state'))
    this.#ctx = { portId: options.transport.portId, connectionId: options.transport.connectionId }
  }

  get state(): QueueState {
    return this.sm.state
  }
  get connected(): boolean {
    return this.controller !== undefined
  }
  /** Hook context (grows once Connect has bound the queue). */
  get hookContext(): HookContext {
    return this.#ctx
  }
  /** Queue depth = SQSIZE+1 once connected; 32 before (admin Connect size as the Linux host sends it). */
  get depth(): number {
    return this.connected ? this.sqsize + 1 : 32
  }

  /** ICReq/ICResp done. */
  markLive(): void {
    this.sm.transition('LIVE')
    this.env.queueEvent(this, 'live')
  }

  /** Called by Connect once the queue is bound to `ctrl` (the controller already holds it). */
  bind(ctrl: Controller, qid: number, sqsize: number, sqFlowDisabled: boolean): void {
    this.controller = ctrl
    this.qid = qid
    this.sqsize = sqsize
    this.sqFlowDisabled = sqFlowDisabled
    this.#ctx.qid = qid
    this.#ctx.cntlid = ctrl.cntlid
    this.#ctx.hostnqn = ctrl.hostnqn
    this.#ctx.subnqn = ctrl.subnqn
    this.logger = this.logger.child({ qid, cntlid: ctrl.cntlid })
    this.env.queueEvent(this, 'connected')
  }

  /** A capsule arrived: run the pipeline. `inCapsule` is a view valid only during this call. */
  submit(sqe: Sqe, inCapsule: Buffer | undefined): void {
    if (!this.sm.is('LIVE')) return
    const lent = inCapsule !== undefined && inCapsule.length > 0 ? inCapsule : undefined
    // Parse sees the view; the command keeps it only if it is done with it before this call returns.
    const req = new Request(this, sqe, lent)
    this.#start(req)
    // The framer's buffer is reused after this call (views contract): a view left on the request
    // (one that ran through synchronously) is dropped, so nothing can read it later.
    if (lent !== undefined && req.data === lent) req.data = undefined
  }

  #start(req: Request): void {
    if (this.inflight.has(req.cid)) {
      // NVMe Base 2.0 section 4.6.1.2.1: CID must be unique among outstanding commands of the SQ.
      this.#refuse(req, NvmeStatus.CMDID_CONFLICT | STATUS_DNR)
      return
    }
    this.inflight.set(req.cid, req)
    this.controller?.touch()
    let status: number
    try {
      status = this.env.parse(req)
    } catch (err) {
      this.logger.error({ err, opc: req.opc }, 'parse failed')
      status = NvmeStatus.INTERNAL | STATUS_DNR
    }
    if (status !== 0) {
      this.complete(req, status)
      return
    }
    // In-capsule data is copied unless the executor copies it synchronously (a Write into the memory
    // store) and no onCommand hook can defer it: then the store's copy is the only one.
    if (req.inCapsule && !(req.consumesDataInline && !SEAMS.command.installed(this.env.hooks))) req.data = Buffer.from(req.data!)
    req.transition('DECIDING')
    SEAMS.command.run(this.env.hooks, this.logger, this.#ctx, req, this.#afterCommandSeam)
  }

  /**
   * A command the transport refuses before parsing (bad SGL for in-capsule data, data digest
   * error): completed with `status` through the normal completion step.
   */
  reject(sqe: Sqe, status: number, errorLocation: number): void {
    if (!this.sm.is('LIVE')) return
    const req = new Request(this, sqe, undefined)
    req.errorLocation = errorLocation
    if (this.inflight.has(req.cid)) {
      this.#refuse(req, NvmeStatus.CMDID_CONFLICT | STATUS_DNR)
      return
    }
    this.inflight.set(req.cid, req)
    this.complete(req, status)
  }

  /** A command that never enters the pipeline (CID conflict): answered without the seams, not in flight. */
  #refuse(req: Request, status: number): void {
    req.finishExecution()
    req.transition('COMPLETING')
    this.#send(req, status)
  }

  readonly #afterCommandSeam = (d: CommandDecision, req: Request): void => {
    // Its queue went away while the hook ran: the abort already ended it.
    if (req.aborted) return
    switch (d.action) {
      case 'pass':
        this.#proceed(req)
        return
      case 'delay':
        this.env.clock.setTimeout(() => {
          if (!req.aborted) this.#proceed(req)
        }, d.ms)
        return
      case 'drop':
        // Never executed nor completed (it stays in flight for the host to time out), so it no
        // longer uses the namespace: a removal must not wait for it.
        req.drop()
        return
      case 'complete':
        req.dw0 = d.dw0 ?? 0
        this.complete(req, d.status, true)
        return
      case 'stall':
        // The queue stops reading for a while; this command still goes on to execute.
        this.transport.applyFault(d)
        this.#proceed(req)
        return
      case 'close':
      case 'reset':
      case 'termReq':
        // The connection goes away and the command with it (no response can be sent).
        this.transport.applyFault(d)
        req.abort()
        return
    }
  }

  /** Fetch data if needed, then execute. */
  #proceed(req: Request): void {
    if (req.direction === 'host-to-controller' && req.dataLength > 0 && req.data === undefined) {
      req.transition('TRANSFERRING_H2C')
      this.transport.fetchData(req).then(
        (data) => {
          if (req.aborted) return
          if (typeof data === 'number') {
            this.complete(req, data)
            return
          }
          req.data = data
          this.#execute(req)
        },
        (err: unknown) => {
          // The connection is going away; the request dies with it (no response possible).
          this.logger.debug({ err, cid: req.cid }, 'data transfer failed')
          req.abort()
        },
      )
      return
    }
    if (req.direction === 'controller-to-host' && req.dataLength > 0 && this.transport.reserveData !== undefined) {
      // Room for the data is reserved before the command builds it (the transport's byte budget).
      const wait = this.transport.reserveData(req)
      if (wait !== undefined) {
        req.transition('NEED_BUFFER')
        wait.then(
          () => {
            if (!req.aborted) this.#execute(req)
            else this.transport.releaseData?.(req)
          },
          () => req.abort(),
        )
        return
      }
    }
    this.#execute(req)
  }

  #execute(req: Request): void {
    req.transition('EXECUTING')
    const exec = req.execute
    if (exec === undefined) {
      this.complete(req, NvmeStatus.INTERNAL)
      return
    }
    let r: ExecuteResult
    try {
      r = exec(req)
    } catch (err) {
      this.logger.error({ err, opc: req.opc, qid: this.qid }, 'execute failed')
      this.complete(req, NvmeStatus.INTERNAL)
      return
    }
    if (typeof r === 'number') this.complete(req, r)
    // Deferred (an AER waiting for an event): done with any namespace, completed by its handler.
    else if (r === DEFERRED) req.executed()
    else {
      r.then(
        (s) => this.#settled(req, s),
        (err: unknown) => {
          this.logger.error({ err, opc: req.opc, qid: this.qid }, 'execute failed')
          this.#settled(req, NvmeStatus.INTERNAL)
        },
      )
    }
  }

  /** An asynchronous execute step finished: complete it, or, if its queue went away, let it go. */
  #settled(req: Request, s: number | typeof DEFERRED): void {
    if (!req.executed()) return
    if (s !== DEFERRED) this.complete(req, s)
  }

  /**
   * The one completion step: status into the request, SQHD advanced, error log appended on error,
   * `onCompletion` seam, then the transport sends it. `fromHook` skips the completion hook for a
   * status a command hook imposed.
   */
  complete(req: Request, status: number, fromHook = false): void {
    if (req.is('COMPLETING', 'DONE', 'DROPPED', 'ABORTED')) return
    // Execution is over: the namespace is no longer used (the completion hooks see only the status).
    req.finishExecution()
    req.transition('COMPLETING')
    req.status = status
    if (fromHook) this.#send(req, status)
    else SEAMS.completion.run(this.env.hooks, this.logger, this.#ctx, req, this.#afterCompletionSeam)
  }

  readonly #afterCompletionSeam = (d: CommandDecision, req: Request): void => {
    switch (d.action) {
      case 'pass':
        this.#send(req, req.status)
        return
      case 'delay':
        this.env.clock.setTimeout(() => this.#send(req, req.status), d.ms)
        return
      case 'drop':
        if (req.aborted) return
        req.drop()
        this.transport.releaseData?.(req)
        return
      case 'complete':
        if (d.dw0 !== undefined) req.dw0 = d.dw0
        this.#send(req, d.status)
        return
      case 'stall':
        this.transport.applyFault(d)
        this.#send(req, req.status)
        return
      case 'close':
      case 'reset':
      case 'termReq':
        // The connection goes away (its teardown aborts the request): nothing is sent.
        this.transport.applyFault(d)
        return
    }
  }

  #send(req: Request, status: number): void {
    req.status = status
    if (req.aborted) return
    if (this.inflight.get(req.cid) === req) this.inflight.delete(req.cid)
    if (!this.sm.is('LIVE')) {
      req.transition('DONE')
      return
    }
    // SQHD: advance per completion modulo the queue size (NVMe Base 2.0 section 4.6.1.2.1);
    // 0xFFFF when the host disabled SQ flow control (wire spec 2.2).
    if (this.connected) this.sqhd = this.sqFlowDisabled ? 0xffff : (this.sqhd + 1) % (this.sqsize + 1)
    const ctrl = this.controller
    if (status !== 0 && ctrl !== undefined) {
      ctrl.logError({
        sqid: this.qid < 0 ? 0 : this.qid,
        cid: req.cid,
        status,
        parameterErrorLocation: req.errorLocation,
        lba: req.slba ?? 0n,
        nsid: req.nsid,
      })
    }
    req.transition('DONE')
    this.transport.queueResponse(req)
  }

  /** The connection is going away: fail what is in flight (nothing more can be sent) and unbind. */
  disconnect(reason: string): void {
    if (this.sm.is('CLOSED', 'DISCONNECTING')) return
    this.sm.transition('DISCONNECTING')
    this.logger.debug({ reason, inflight: this.inflight.size }, 'queue disconnecting')
    // A store operation still running keeps its reference until it settles (`#settled`), so a
    // removal cannot close the store under it; every other request lets go now (request.ts).
    for (const req of this.inflight.values()) req.abort()
    this.inflight.clear()
    const ctrl = this.controller
    if (ctrl !== undefined) ctrl.queueGone(this, reason)
    this.sm.transition('CLOSED')
    this.env.queueEvent(this, 'closed')
  }

  status(): QueueStatus {
    return {
      connectionId: this.transport.connectionId,
      portId: this.transport.portId,
      qid: this.qid < 0 ? undefined : this.qid,
      state: this.state,
      depth: this.depth,
      inflight: this.inflight.size,
      remoteAddress: this.transport.remoteAddress,
      remotePort: this.transport.remotePort,
    }
  }
}

