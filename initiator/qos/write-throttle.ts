/**
 * A write-back-throttling policy in the spirit of Linux WBT (anchors 3.6): writes (and write-zeroes,
 * discards) are admitted while fewer than `limit` are charged on the path; the rest wait FIFO. Every
 * `windowMs` the minimum request latency of the window is compared with `targetLatencyMs`: above the
 * target the limit is halved (down to 1), otherwise it grows back by a quarter (up to `maxDepth`).
 * Reads are never throttled. The charge is released in `doneIo`, so an I/O that never completes its
 * charge on this path keeps the path's limit occupied (a leak the invariant checker reports).
 */
import type { Clock } from '../../lib/clock.js'
import { AbortedError, InvalidArgumentError } from '../../lib/errors.js'
import { isWriteLike, type HostIo } from '../host-io.js'
import type { QosDoneInfo, QosPolicy } from './chain.js'

export interface WriteThrottleOptions {
  /** Latency target (ms); Linux default for non-rotational devices is 2 ms. */
  targetLatencyMs?: number
  /** Evaluation window (ms); Linux uses 100 ms. */
  windowMs?: number
  /** Upper bound for the in-flight write limit (normally the I/O queue depth). */
  maxDepth?: number
}

export const DEFAULT_WRITE_THROTTLE_OPTIONS = Object.freeze({ targetLatencyMs: 2, windowMs: 100, maxDepth: 128 })

interface Waiter {
  io: HostIo
  resolve(): void
  reject(err: Error): void
}

export class WriteThrottle implements QosPolicy {
  readonly name = 'wbt'
  readonly #clock: Clock
  readonly targetLatencyMs: number
  readonly windowMs: number
  readonly maxDepth: number
  readonly #charged = new Set<number>()
  readonly #waiters: Waiter[] = []
  #limit: number
  #windowStart: number
  #windowMin = Infinity
  #windowSamples = 0
  #scaleDowns = 0
  #scaleUps = 0
  #throttledTotal = 0
  #waitedTotal = 0
  constructor(options: WriteThrottleOptions & { clock: Clock }) {
    const o = { ...DEFAULT_WRITE_THROTTLE_OPTIONS, ...options }
    if (!(Number.isFinite(o.targetLatencyMs) && o.targetLatencyMs > 0)) throw new InvalidArgumentError('targetLatencyMs', 'must be a positive number of ms')
    if (!(Number.isFinite(o.windowMs) && o.windowMs > 0)) throw new InvalidArgumentError('windowMs', 'must be a positive number of ms')
    if (!(Number.isInteger(o.maxDepth) && o.maxDepth >= 1)) throw new InvalidArgumentError('maxDepth', 'must be an integer >= 1')
    this.#clock = options.clock
    this.targetLatencyMs = o.targetLatencyMs
    this.windowMs = o.windowMs
    this.maxDepth = o.maxDepth
    this.#limit = o.maxDepth
    this.#windowStart = this.#clock.now()
  }
  get inflight(): number {
    return this.#charged.size
  }
  get limit(): number {
    return this.#limit
  }
  get waiting(): number {
    return this.#waiters.length
  }
  throttle(io: HostIo): void | Promise<void> {
    if (!isWriteLike(io.op)) return
    this.#throttledTotal++
    if (this.#charged.size < this.#limit && this.#waiters.length === 0) {
      this.#charged.add(io.id)
      return
    }
    this.#waitedTotal++
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ io, resolve, reject })
    })
  }
  done(_io: HostIo, info: QosDoneInfo): void {
    const now = this.#clock.now()
    this.#windowSamples++
    if (info.latencyMs < this.#windowMin) this.#windowMin = info.latencyMs
    if (now - this.#windowStart >= this.windowMs) {
      if (this.#windowSamples > 0 && this.#windowMin > this.targetLatencyMs) {
        const next = Math.max(1, Math.floor(this.#limit / 2))
        if (next !== this.#limit) this.#scaleDowns++
        this.#limit = next
      } else if (this.#limit < this.maxDepth) {
        this.#limit = Math.min(this.maxDepth, this.#limit + Math.max(1, Math.floor(this.#limit / 4)))
        this.#scaleUps++
        this.#wake()
      }
      this.#windowStart = now
      this.#windowMin = Infinity
      this.#windowSamples = 0
    }
  }
  doneIo(io: HostIo): void {
    if (this.#charged.delete(io.id)) this.#wake()
  }
  cancel(reason: Error): void {
    const waiters = this.#waiters.splice(0)
    for (const w of waiters) w.reject(reason instanceof Error ? reason : new AbortedError('write throttle cancelled'))
  }
  #wake(): void {
    while (this.#waiters.length > 0 && this.#charged.size < this.#limit) {
      const w = this.#waiters.shift() as Waiter
      this.#charged.add(w.io.id)
      w.resolve()
    }
  }
  stats(): Record<string, unknown> {
    return {
      limit: this.#limit,
      inflight: this.#charged.size,
      waiting: this.#waiters.length,
      throttled: this.#throttledTotal,
      waited: this.#waitedTotal,
      scaleDowns: this.#scaleDowns,
      scaleUps: this.#scaleUps,
      targetLatencyMs: this.targetLatencyMs,
    }
  }
}
