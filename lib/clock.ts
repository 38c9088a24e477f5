/** Injected time and randomness, so that runs replay from a seed (no Date.now()/Math.random() in library code). */
// Imported, not the global: the global `performance` is a lazy getter, run on every access.
import { performance } from 'node:perf_hooks'

export interface TimerHandle {
  /** Keep the process from waiting on this timer (no-op for manual clocks). */
  unref?(): unknown
}

export interface Clock {
  /** Milliseconds, monotonic for the life of the clock. */
  now(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/** The real clock: `performance.now()` and Node timers. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): TimerHandle => setTimeout(fn, ms),
  clearTimeout: (h: TimerHandle) => clearTimeout(h as ReturnType<typeof setTimeout>),
})

interface ManualTimer extends TimerHandle {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

/** A clock that moves only when told to: `advance(ms)` fires due timers in time order. */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  #timers: ManualTimer[] = []
  constructor(start = 0) {
    this.#now = start
  }
  now(): number {
    return this.#now
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: ManualTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false, unref: () => t }
    this.#timers.push(t)
    return t
  }
  clearTimeout(handle: TimerHandle): void {
    ;(handle as ManualTimer).cancelled = true
  }
  /** Move time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const end = this.#now + ms
    for (;;) {
      const due = this.#timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
      if (due === undefined) break
      due.cancelled = true
      this.#now = due.at
      due.fn()
    }
    this.#timers = this.#timers.filter((t) => !t.cancelled)
    this.#now = end
  }
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length
  }
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number
}

function hashSeed(seed: number | string): number[] {
  // xmur3-style string hash to four 32-bit words.
  const s = typeof seed === 'number' ? `n:${seed}` : `s:${seed}`
  let h = 1779033703 ^ s.length
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 3432918353)
    h = (h << 13) | (h >>> 19)
  }
  const out: number[] = []
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ (h >>> 16), 2246822507)
    h = Math.imul(h ^ (h >>> 13), 3266489909)
    h ^= h >>> 16
    out.push(h >>> 0)
  }
  return out
}

/** Deterministic PRNG (sfc32) seeded from a number or a string. */
export function seededRandom(seed: number | string): Random {
  let [a, b, c, d] = hashSeed(seed) as [number, number, number, number]
  const next32 = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    let t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    t = (t + d) | 0
    c = (c + t) | 0
    return t >>> 0
  }
  for (let i = 0; i < 12; i++) next32()
  return {
    next: () => next32() / 4294967296,
    int: (maxExclusive: number) => Math.floor((next32() / 4294967296) * maxExclusive),
  }
}
