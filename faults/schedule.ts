/**
 * Fault schedules. Counting follows the kernel fault-attr model (`interval`, `times`,
 * `probability`): only events that matched count, and the PRNG is consulted only when every other
 * condition allows a firing, so a schedule consumes the same random numbers for the same event
 * sequence.
 */
import type { Clock, Random } from '../lib/clock.js'
import { ConfigError } from '../lib/errors.js'
import type { ScheduleSpec } from './types.js'

export function checkScheduleSpec(s: ScheduleSpec, path: string): ScheduleSpec {
  if (s.probability !== undefined && (s.probability < 0 || s.probability > 1)) {
    throw new ConfigError(`${path}.probability`, `must be in [0, 1], got ${s.probability}`)
  }
  if (s.oneShot === true && s.times !== undefined && s.times > 1) {
    throw new ConfigError(`${path}.oneShot`, `conflicts with times ${s.times}`)
  }
  return s
}

export class Schedule {
  readonly spec: ScheduleSpec
  #random: Random
  #clock: Clock
  #installedAt: number
  #seen = 0
  #fired = 0
  constructor(opts: { spec: ScheduleSpec | undefined; random: Random; clock: Clock }) {
    this.spec = opts.spec ?? {}
    this.#random = opts.random
    this.#clock = opts.clock
    this.#installedAt = opts.clock.now()
  }

  /** True while the time window is open (`startMs`, `durationMs` from installation). */
  windowOpen(): boolean {
    const t = this.#clock.now() - this.#installedAt
    const start = this.spec.startMs ?? 0
    if (t < start) return false
    const d = this.spec.durationMs ?? 0
    return d === 0 || t < start + d
  }

  /** True once the fault can never fire again (times exhausted, or the window has passed). */
  get exhausted(): boolean {
    const limit = this.#limit()
    if (limit !== undefined && this.#fired >= limit) return true
    const d = this.spec.durationMs ?? 0
    return d !== 0 && this.#clock.now() - this.#installedAt >= (this.spec.startMs ?? 0) + d
  }

  #limit(): number | undefined {
    if (this.spec.oneShot === true) return 1
    return this.spec.times !== undefined && this.spec.times > 0 ? this.spec.times : undefined
  }

  /** One matching event: decide whether the fault fires on it. */
  fire(): boolean {
    if (!this.windowOpen()) return false
    const n = ++this.#seen
    const after = this.spec.afterN ?? 0
    if (n <= after) return false
    const k = n - after
    const firstN = this.spec.firstN ?? 0
    if (firstN > 0 && k > firstN) return false
    const nth = this.spec.everyNth ?? 0
    if (nth > 1 && k % nth !== 0) return false
    const limit = this.#limit()
    if (limit !== undefined && this.#fired >= limit) return false
    const p = this.spec.probability
    if (p !== undefined && p < 1 && !(this.#random.next() < p)) return false
    this.#fired++
    return true
  }

  get counts(): { seen: number; fired: number } {
    return { seen: this.#seen, fired: this.#fired }
  }
}
