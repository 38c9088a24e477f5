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
 * With no hooks installed nothing here awaits unless the command itself is asynchronous.
 */
import type { Logger } from 'pino'
import type { Sqe } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { StateMachine } from './state-machine.js'
import { DEFERRED, Request, type ExecuteResult } from './request.js'
import type { QueueTransport } from './transport-ops.js'
import { COMMAND_SEAM_ACTIONS, PASS, type Decision, type HookContext, type HookSlot } from './hooks.js'
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
    // Retain in-capsule data: the framer's buffer is reused after this call (views contract).
    const req = new Request(this, sqe, inCapsule !== undefined && inCapsule.length > 0 ? Buffer.from(inCapsule) : undefined, this.env.clock.now())
    if (this.inflight.has(req.cid)) {
      // NVMe Base 2.0 section 4.6.1.2.1: CID must be unique among outstanding commands of the SQ.
      this.#send(req, NvmeStatus.CMDID_CONFLICT | STATUS_DNR)
      return
    }
    this.inflight.set(req.cid, req)
    this.controller?.touch()
    let status: number
    try {
      status = this.env.parse(req)
    } catch (err) {
      this.logger.error({ err, opc: sqe.opc }, 'parse failed')
      status = NvmeStatus.INTERNAL | STATUS_DNR
    }
    if (status !== 0) {
      this.complete(req, status)
      return
    }
    const onCommand = this.env.hooks.hooks?.onCommand
    if (onCommand !== undefined) {
      void Promise.resolve()
        .then(() => onCommand(this.#ctx, req.hookCommand))
        .then(
          (d) => this.#afterCommandHook(req, d),
          (err: unknown) => {
            this.logger.error({ err }, 'onCommand hook failed')
            this.#proceed(req)
          },
        )
      return
    }
    this.#proceed(req)
  }

  /**
   * A command the transport refuses before parsing (bad SGL for in-capsule data, data digest
   * error): completed with `status` through the normal completion step.
   */
  reject(sqe: Sqe, status: number, errorLocation: number): void {
    if (!this.sm.is('LIVE')) return
    const req = new Request(this, sqe, undefined, this.env.clock.now())
    req.errorLocation = errorLocation
    if (this.inflight.has(req.cid)) {
      this.#send(req, NvmeStatus.CMDID_CONFLICT | STATUS_DNR)
      return
    }
    this.inflight.set(req.cid, req)
    this.complete(req, status)
  }

  #afterCommandHook(req: Request, decision: Decision): void {
    const d = this.#applicable('onCommand', decision)
    if (this.inflight.get(req.cid) !== req) {
      // Ended while the hook ran (connection gone): nothing more happens to it.
      req.releaseNamespace()
      return
    }
    switch (d.action) {
      case 'pass':
        this.#proceed(req)
        return
      case 'delay':
        this.env.clock.setTimeout(() => {
          if (this.inflight.get(req.cid) === req && this.sm.is('LIVE')) this.#proceed(req)
          else req.releaseNamespace()
        }, d.ms)
        return
      case 'drop':
        // Never executed nor completed (it stays in flight for the host to time out), so it no
        // longer uses the namespace: a removal must not wait for it.
        req.dropped = true
        req.releaseNamespace()
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
        // The connection goes away: the command is abandoned (no response can be sent).
        this.transport.applyFault(d)
        req.releaseNamespace()
        return
      default:
        // Unreachable while COMMAND_SEAM_ACTIONS and this switch agree; never strand the command.
        this.#proceed(req)
    }
  }

  /**
   * The decision if it applies at a command seam; otherwise (mutate/segment are PDU-send only, or an
   * action — or value — a hook should not return) 'pass' with a warning naming the seam and action
   * (hooks.ts, "Decisions and seams"): a command must never be stranded in flight.
   */
  #applicable(seam: 'onCommand' | 'onCompletion', d: Decision): Decision {
    const action: unknown = typeof d === 'object' && d !== null ? (d as { action?: unknown }).action : d
    if (COMMAND_SEAM_ACTIONS.has(action as Decision['action'])) return d
    this.logger.warn({ seam, action: String(action) }, `fault decision '${String(action)}' does not apply at ${seam}; treated as 'pass'`)
    return PASS
  }

  /** Fetch data if needed, then execute. */
  #proceed(req: Request): void {
    if (req.direction === 'host-to-controller' && req.dataLength > 0 && req.data === undefined) {
      req.state = 'NEED_DATA'
      this.transport.fetchData(req).then(
        (data) => {
          if (this.inflight.get(req.cid) !== req || !this.sm.is('LIVE')) {
            req.releaseNamespace()
            return
          }
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
          req.releaseNamespace()
        },
      )
      return
    }
    if (req.direction === 'controller-to-host' && req.dataLength > 0 && this.transport.reserveData !== undefined) {
      // Room for the data is reserved before the command builds it (the transport's byte budget).
      const wait = this.transport.reserveData(req)
      if (wait !== undefined) {
        req.state = 'NEED_DATA'
        wait.then(
          () => {
            if (this.inflight.get(req.cid) === req && this.sm.is('LIVE')) this.#execute(req)
            else {
              this.transport.releaseData?.(req)
              req.releaseNamespace()
            }
          },
          () => req.releaseNamespace(),
        )
        return
      }
    }
    this.#execute(req)
  }

  #execute(req: Request): void {
    req.state = 'EXECUTING'
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
    else if (r !== DEFERRED) {
      req.executing = true
      r.then(
        (s) => this.#settled(req, s),
        (err: unknown) => {
          this.logger.error({ err, opc: req.opc, qid: this.qid }, 'execute failed')
          this.#settled(req, NvmeStatus.INTERNAL)
        },
      )
    }
  }

  /** An asynchronous execute step finished: complete it, or, if its connection is gone, just let go. */
  #settled(req: Request, s: number | typeof DEFERRED): void {
    req.executing = false
    if (req.state === 'DONE') {
      // Torn down while the store operation ran: the teardown left the reference to this step.
      req.releaseNamespace()
      return
    }
    if (s !== DEFERRED) this.complete(req, s)
  }

  /**
   * The one completion step: status into the request, SQHD advanced, error log appended on error,
   * `onCompletion` seam, then the transport sends it. `fromHook` skips the completion hook for a
   * status a command hook imposed.
   */
  complete(req: Request, status: number, fromHook = false): void {
    if (req.state === 'COMPLETING' || req.state === 'DONE') return
    req.state = 'COMPLETING'
    req.status = status
    // Execution is over: the namespace is no longer used (the completion hooks see only the status).
    req.releaseNamespace()
    const onCompletion = fromHook ? undefined : this.env.hooks.hooks?.onCompletion
    if (onCompletion !== undefined) {
      void Promise.resolve()
        .then(() => onCompletion(this.#ctx, req.hookCommand, { status: req.status, dw0: req.dw0, dw1: req.dw1 }))
        .then(
          (d) => this.#afterCompletionHook(req, d),
          (err: unknown) => {
            this.logger.error({ err }, 'onCompletion hook failed')
            this.#send(req, req.status)
          },
        )
      return
    }
    this.#send(req, status)
  }

  #afterCompletionHook(req: Request, decision: Decision): void {
    const d = this.#applicable('onCompletion', decision)
    switch (d.action) {
      case 'pass':
        this.#send(req, req.status)
        return
      case 'delay':
        this.env.clock.setTimeout(() => this.#send(req, req.status), d.ms)
        return
      case 'drop':
        req.dropped = true
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
        // The connection goes away (its teardown ends the request): nothing is sent.
        this.transport.applyFault(d)
        return
      default:
        // Unreachable while COMMAND_SEAM_ACTIONS and this switch agree; never strand the command.
        this.#send(req, req.status)
    }
  }

  #send(req: Request, status: number): void {
    req.status = status
    if (this.inflight.get(req.cid) === req) this.inflight.delete(req.cid)
    if (!this.sm.is('LIVE')) {
      req.state = 'DONE'
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
    req.state = 'DONE'
    this.transport.queueResponse(req)
  }

  /** The connection is going away: fail what is in flight (nothing more can be sent) and unbind. */
  disconnect(reason: string): void {
    if (this.sm.is('CLOSED', 'DISCONNECTING')) return
    this.sm.transition('DISCONNECTING')
    this.logger.debug({ reason, inflight: this.inflight.size }, 'queue disconnecting')
    for (const req of this.inflight.values()) {
      req.state = 'DONE'
      // A store operation still running keeps its reference until it settles (`#settled`), so a
      // removal cannot close the store under it; every other request lets go now.
      if (!req.executing) req.releaseNamespace()
    }
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

