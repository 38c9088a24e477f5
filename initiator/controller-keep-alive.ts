/**
 * Keep Alive of a host controller (wire reference 9.2): a Keep Alive command every KATO/2 while the
 * connection it was started for stays current and live. A Keep Alive that times out (its timeout is
 * KATO, not the admin timeout) is a command timeout like any other: the controller's error recovery.
 */
import type { Clock, TimerHandle } from '../lib/clock.js'
import { makeKeepAliveSqe } from '../lib/nvme/commands.js'
import type { QueuePair } from './transport/queue-pair.js'

export class KeepAlive {
  readonly #clock: Clock
  readonly #counters: { keepAlives: number }
  #timer: TimerHandle | undefined

  constructor(o: { clock: Clock; counters: { keepAlives: number } }) {
    this.#clock = o.clock
    this.#counters = o.counters
  }

  /** Start for a connection: `current()` false ends it; `admin()` is the queue to send on. KATO 0: off. */
  start(kato: number, current: () => boolean, admin: () => QueuePair | undefined): void {
    if (kato === 0) return
    const period = Math.max(1, Math.floor(kato / 2))
    const tick = (): void => {
      this.#timer = undefined
      if (!current()) return
      this.#counters.keepAlives++
      const q = admin()
      if (q === undefined) return
      q.submit({ sqe: makeKeepAliveSqe({ cid: 0 }), timeoutMs: kato }).then(
        () => undefined,
        () => undefined,
      )
      this.#arm(tick, period)
    }
    this.#arm(tick, period)
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #arm(tick: () => void, ms: number): void {
    this.#timer = this.#clock.setTimeout(tick, ms)
    this.#timer.unref?.()
  }
}
