/**
 * Command timeouts of one queue pair with one timer, armed at the earliest deadline, instead of a
 * timer created and cleared per command (that was measurable CPU per I/O: docs/performance.md).
 * A completed command needs no cancel: when the timer fires, only commands still pending and past
 * their deadline are reported, each once, and the timer is re-armed for the next deadline.
 */
import type { Clock, TimerHandle } from '../../lib/clock.js'

export interface Deadlined {
  /** Clock time after which the command is reported (0: no timeout, or already reported). */
  deadline: number
}

export class CommandDeadlines<P extends Deadlined> {
  readonly #clock: Clock
  readonly #pending: () => Iterable<P>
  readonly #onExpired: (p: P) => void
  #timer: TimerHandle | undefined
  #at = 0

  /** `pending()` lists the commands still pending; `onExpired(p)` is called once per command past its deadline. */
  constructor(o: { clock: Clock; pending: () => Iterable<P>; onExpired: (p: P) => void }) {
    this.#clock = o.clock
    this.#pending = o.pending
    this.#onExpired = o.onExpired
  }

  /** The deadline of a command submitted now with `timeoutMs` (0: none); arms the timer if it is the earliest. */
  deadlineFor(timeoutMs: number): number {
    if (timeoutMs <= 0) return 0
    const at = this.#clock.now() + timeoutMs
    if (this.#timer === undefined || at < this.#at) this.#arm(at)
    return at
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#at = at
    this.#timer = this.#clock.setTimeout(() => this.#expire(), Math.max(0, at - this.#clock.now()))
    this.#timer.unref?.()
  }

  #expire(): void {
    this.#timer = undefined
    const now = this.#clock.now()
    let next = 0
    const expired: P[] = []
    for (const p of this.#pending()) {
      if (p.deadline === 0) continue
      if (p.deadline <= now) {
        p.deadline = 0
        expired.push(p)
      } else if (next === 0 || p.deadline < next) next = p.deadline
    }
    if (next !== 0) this.#arm(next)
    // Reported after the scan: the owner's escalation (Abort, reset) may complete or close things.
    for (const p of expired) this.#onExpired(p)
  }
}
