/**
 * The I/O queues of a host controller's connection and the I/O path over them: commands go round
 * robin over the queues, the requests in flight are counted, and a queue's completion becomes the
 * path's {@link IoResult}. A success is reported synchronously from the queue's receive path;
 * anything else (an NVMe error status, a lost queue, no live queue) in a microtask, as a promise
 * would, so recovery and failover run after the receive path and after the teardown that failed the
 * command (docs/performance.md, round 3).
 */
import { NvmeStatus } from '../lib/status.js'
import type { HostIo } from './host-io.js'
import { ioCommand } from './io-command.js'
import type { IoResult } from './ns-path.js'
import type { QueuePair } from './transport/queue-pair.js'

export class IoQueues {
  readonly #o: { ioTimeoutMs: number }
  /** Whether the controller is live (read when a command fails: path error, or aborted by teardown). */
  readonly #live: () => boolean
  #queues: QueuePair[] = []
  #next = 0
  #active = 0

  constructor(o: { options: { ioTimeoutMs: number }; live: () => boolean }) {
    this.#o = o.options
    this.#live = o.live
  }

  get length(): number {
    return this.#queues.length
  }
  /** Requests sent and not yet completed. */
  get active(): number {
    return this.#active
  }
  get list(): readonly QueuePair[] {
    return this.#queues
  }
  /** The queue of I/O queue id `qid` (1-based). */
  byQid(qid: number): QueuePair | undefined {
    return this.#queues[qid - 1]
  }
  add(q: QueuePair): void {
    this.#queues.push(q)
  }
  /** Close every queue with `reason` (their commands fail with it) and forget them. */
  closeAll(reason: Error): void {
    const qs = this.#queues
    this.#queues = []
    for (const q of qs) q.close(reason)
  }

  /** Send one I/O of namespace `nsid`; `done` gets its result (see the module comment for when). */
  send(nsid: number, io: HostIo, done: (r: IoResult) => void): void {
    const n = this.#queues.length
    if (!this.#live() || n === 0) {
      queueMicrotask(() => done({ status: NvmeStatus.HOST_PATH_ERROR }))
      return
    }
    const q = this.#queues[this.#next++ % n]!
    this.#active++
    q.send(ioCommand(nsid, io, this.#o.ioTimeoutMs), (c) => {
      this.#active--
      if (c instanceof Error) {
        // The queue went down under the command: a host-detected path error, so multipath fails it
        // over (wire reference 8.2: 0x370 on send failure, 0x371 when cancelled by teardown).
        queueMicrotask(() => done({ status: this.#live() ? NvmeStatus.HOST_PATH_ERROR : NvmeStatus.HOST_ABORTED_CMD }))
      } else if (c.cqe.status !== 0) {
        const r: IoResult = { status: c.cqe.status, cid: c.cqe.cid, qid: q.qid }
        queueMicrotask(() => done(r))
      } else done(c.data !== undefined ? { status: 0, data: c.data } : { status: 0, cid: c.cqe.cid, qid: q.qid })
    })
  }
}
