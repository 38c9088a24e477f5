/**
 * In-process transport (nvmet loop.c): queues without sockets, so the core can be driven by tests
 * (and by an in-process initiator) with SQEs and data buffers. Each `connect()` is one queue, live
 * at once (there is no ICReq); `submit()` resolves with the CQE and any C2H data.
 */
import type { Logger } from 'pino'
import type { Sqe } from '../../lib/nvme/sqe.js'
import type { Cqe } from '../../lib/nvme/cqe.js'
import { ConnectionError } from '../../lib/errors.js'
import type { Decision } from '../core/hooks.js'
import type { Queue } from '../core/queue.js'
import type { Request } from '../core/request.js'
import type { TargetCore } from '../core/target-core.js'
import type { QueueTransport } from '../core/transport-ops.js'

export interface LoopbackCompletion {
  cqe: Cqe
  data: Buffer | undefined
}

/** One in-process queue. */
export class LoopbackQueue implements QueueTransport {
  readonly connectionId: number
  readonly portId: number
  readonly remoteAddress = 'loopback'
  readonly remotePort = 0
  readonly queue: Queue
  readonly #pending = new Map<number, { resolve: (c: LoopbackCompletion) => void; reject: (e: Error) => void; data: Buffer | undefined }>()
  #closed = false

  constructor(core: TargetCore, portId: number, connectionId: number, logger: Logger) {
    this.portId = portId
    this.connectionId = connectionId
    this.queue = core.createQueue(this, logger.child({ loopback: connectionId }))
    this.queue.markLive()
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Submit a command; `data` is the host→controller data (carried "in-capsule" when `inCapsule`). */
  submit(sqe: Sqe, data?: Buffer, o: { inCapsule?: boolean } = {}): Promise<LoopbackCompletion> {
    if (this.#closed) return Promise.reject(new ConnectionError('loopback queue closed'))
    return new Promise((resolve, reject) => {
      this.#pending.set(sqe.cid, { resolve, reject, data })
      this.queue.submit(sqe, o.inCapsule === true ? data : undefined)
    })
  }

  fetchData(req: Request): Promise<Buffer | number> {
    const p = this.#pending.get(req.cid)
    if (p?.data === undefined) return Promise.reject(new ConnectionError('no data for this command'))
    return Promise.resolve(Buffer.from(p.data.subarray(0, req.dataLength)))
  }

  queueResponse(req: Request): void {
    const p = this.#pending.get(req.cid)
    if (p === undefined) return
    this.#pending.delete(req.cid)
    const q = this.queue
    const data = req.status === 0 && req.c2hData !== undefined ? req.c2hData.subarray(0, req.dataLength) : undefined
    p.resolve({ cqe: { dw0: req.dw0 >>> 0, dw1: req.dw1 >>> 0, sqhd: q.sqhd, sqid: q.qid < 0 ? 0 : q.qid, cid: req.cid, status: req.status }, data })
  }

  close(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    for (const p of this.#pending.values()) p.reject(new ConnectionError(`loopback queue closed: ${reason}`))
    this.#pending.clear()
    this.queue.disconnect(reason)
  }

  applyFault(d: Decision): void {
    if (d.action === 'close' || d.action === 'reset' || d.action === 'termReq') this.close(`fault: ${d.action}`)
  }
}

export class LoopbackTransport {
  readonly #core: TargetCore
  readonly #logger: Logger
  #next = 1
  constructor(options: { core: TargetCore; logger: Logger }) {
    this.#core = options.core
    this.#logger = options.logger
  }
  /** A new queue "connected" through port `portId` (the port must exist in the core). */
  connect(options: { portId: number }): LoopbackQueue {
    if (this.#core.port(options.portId) === undefined) throw new ConnectionError(`no port ${options.portId}`)
    return new LoopbackQueue(this.#core, options.portId, this.#next++, this.#logger)
  }
}
