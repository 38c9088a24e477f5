/**
 * A per-path chain of QoS policies in the spirit of Linux `rq_qos` (anchors 3.6). Hooks:
 *
 * - `throttle(io)` — before issue; may wait (write throttling). Admission *charges* the I/O to this
 *   path: the chain sets `io.qos.throttled` and `io.qos.chargedBy`.
 * - `track(io)` — the I/O was bound to a request on this path.
 * - `merge(io, into)` — the I/O was merged into another request (sets `io.qos.merged`). The device
 *   pipeline never merges today; the hook exists so a policy can be written against it.
 * - `issue(io)` — the request goes on the wire.
 * - `done(io, info)` — the request completed on this path (any status, including one that fails over).
 * - `doneIo(io)` — the I/O's charge completes (Linux `done_bio`): on final completion on this path, or
 *   when the head fails it over (`completeQosCharge`).
 *
 * Counters (`chargedIos`, `inflightRequests`) are what the invariant checker expects back at zero.
 */
import type { Clock } from '../../lib/clock.js'
import type { HostIo } from '../host-io.js'
import type { QosInvariantChecker, QuiescentView } from './invariant-checker.js'

export interface QosDoneInfo {
  latencyMs: number
  /** NVMe status (Linux form); 0x370/0x371 for host-generated path errors. */
  status: number
}

export interface QosPolicy {
  readonly name: string
  throttle?(io: HostIo): void | Promise<void>
  track?(io: HostIo): void
  merge?(io: HostIo, into: HostIo): void
  issue?(io: HostIo): void
  done?(io: HostIo, info: QosDoneInfo): void
  doneIo?(io: HostIo): void
  /** Release every waiter with `reason` (path going away); waiters were never charged. */
  cancel?(reason: Error): void
  /** I/Os this policy currently holds charged (for the quiescence check). */
  readonly inflight?: number
  stats?(): Record<string, unknown>
}

export class QosChain implements QuiescentView {
  readonly pathId: string
  readonly policies: readonly QosPolicy[]
  readonly #clock: Clock
  readonly #checker: QosInvariantChecker | undefined
  /** Requests issued on this path and not yet done (each such I/O has `issuedOn` = this path). */
  #inflightRequests = 0
  /** The policies with a `done` hook: without any, a completion needs no clock read and no info object. */
  readonly #donePolicies: readonly QosPolicy[]
  #chargedIos = 0
  constructor(options: { pathId: string; policies: readonly QosPolicy[]; clock: Clock; checker?: QosInvariantChecker | undefined }) {
    this.pathId = options.pathId
    this.policies = options.policies
    this.#donePolicies = options.policies.filter((p) => p.done !== undefined)
    this.#clock = options.clock
    this.#checker = options.checker
  }
  get chargedIos(): number {
    return this.#chargedIos
  }
  get inflightRequests(): number {
    return this.#inflightRequests
  }
  get policyInflight(): number {
    let n = 0
    for (const p of this.policies) n += p.inflight ?? 0
    return n
  }
  policy<T extends QosPolicy>(name: string): T | undefined {
    return this.policies.find((p) => p.name === name) as T | undefined
  }

  /**
   * Run every throttle hook in order; on success the I/O is charged to this path. Returns undefined
   * when every hook admitted the I/O at once (the charge is made before returning: no promise, no
   * microtask per I/O), else a promise that settles when the last hook admits or one refuses.
   */
  throttle(io: HostIo): Promise<void> | undefined {
    const ps = this.policies
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i]!
      if (p.throttle === undefined) continue
      let r: void | Promise<void>
      try {
        r = p.throttle(io)
      } catch (err) {
        this.#giveBack(io, i)
        return Promise.reject(err as Error)
      }
      if (r !== undefined) return this.#throttleFrom(io, i, r)
    }
    this.#charge(io)
    return undefined
  }
  /** Policy `i` made the I/O wait on `waiting`: finish the hooks from there asynchronously. */
  async #throttleFrom(io: HostIo, i: number, waiting: Promise<void>): Promise<void> {
    const ps = this.policies
    let j = i
    try {
      await waiting
      for (j = i + 1; j < ps.length; j++) {
        const r = ps[j]!.throttle?.(io)
        if (r !== undefined) await r
      }
    } catch (err) {
      // A later policy refused (path going away): give back what earlier ones admitted.
      this.#giveBack(io, j)
      throw err
    }
    this.#charge(io)
  }
  /** The throttle hooks before policy `end` admitted the I/O: undo that. */
  #giveBack(io: HostIo, end: number): void {
    for (let k = 0; k < end; k++) {
      const p = this.policies[k]!
      if (p.throttle !== undefined) p.doneIo?.(io)
    }
  }
  #charge(io: HostIo): void {
    this.#chargedIos++
    this.#checker?.onCharge(io.id, this.pathId)
    io.qos.chargedBy = this.pathId
    io.qos.throttled = true
  }
  track(io: HostIo): void {
    for (const p of this.policies) p.track?.(io)
  }
  merge(io: HostIo, into: HostIo): void {
    for (const p of this.policies) p.merge?.(io, into)
    io.qos.merged = true
  }
  issue(io: HostIo): void {
    // Only policies read the issue time (done's latency): without any, no clock read per I/O.
    if (this.policies.length > 0) io.issuedAt = this.#clock.now()
    io.issuedOn = this.pathId
    this.#inflightRequests++
    for (const p of this.policies) p.issue?.(io)
  }
  done(io: HostIo, status: number): void {
    if (io.issuedOn !== this.pathId) {
      this.#checker?.report({ kind: 'double-done', ioId: io.id, pathId: this.pathId, message: `request of I/O ${io.id} completed twice on ${this.pathId}` })
      return
    }
    io.issuedOn = undefined
    this.#inflightRequests--
    if (this.#donePolicies.length === 0) return
    const info: QosDoneInfo = { latencyMs: this.#clock.now() - io.issuedAt, status }
    for (const p of this.#donePolicies) p.done!(io, info)
  }
  /**
   * Complete the I/O's charge on this path. A charge made by another path is refused and reported
   * (the kernel would account it against the wrong queue); counters are not touched then.
   */
  doneIo(io: HostIo): void {
    if (io.qos.chargedBy !== this.pathId) {
      this.#checker?.report({
        kind: 'foreign-completion',
        ioId: io.id,
        pathId: this.pathId,
        message: `I/O ${io.id} completes on ${this.pathId} but its flags name ${io.qos.chargedBy ?? 'no path'}`,
      })
      return
    }
    this.#checker?.onUncharge(io.id, this.pathId)
    for (const p of this.policies) p.doneIo?.(io)
    this.#chargedIos--
  }
  cancel(reason: Error): void {
    for (const p of this.policies) p.cancel?.(reason)
  }
  stats(): Record<string, unknown> {
    const out: Record<string, unknown> = { chargedIos: this.#chargedIos, inflightRequests: this.#inflightRequests }
    for (const p of this.policies) if (p.stats !== undefined) out[p.name] = p.stats()
    return out
  }
}
