/**
 * One loss of a host controller's connection and its recovery clock (anchors 3.5): when the loss
 * began (ctrl_loss_tmo counts from there), the reconnect attempts since, the delay before the next
 * one (reconnect_delay, optional backoff), and fast_io_fail_tmo, after which queued I/O stops
 * waiting. The controller decides what an attempt does; this only keeps the time.
 */
import type { Clock, Random, TimerHandle } from '../lib/clock.js'
import { reconnectDelay, type ResolvedControllerOptions } from './controller-options.js'

type LossOptions = Pick<ResolvedControllerOptions, 'reconnectDelayMs' | 'reconnectBackoff' | 'ctrlLossTmoMs' | 'fastIoFailTmoMs'>

export class ConnectionLoss {
  readonly #o: LossOptions
  readonly #clock: Clock
  readonly #random: Random
  /** Whether the controller is live again (a fast-fail timer firing then does nothing). */
  readonly #live: () => boolean
  readonly #onFailfast: () => void
  #reconnectTimer: TimerHandle | undefined
  #fastFailTimer: TimerHandle | undefined
  #start: number | undefined
  #attempts = 0
  #failfast = false

  constructor(o: { options: LossOptions; clock: Clock; random: Random; live: () => boolean; onFailfast: () => void }) {
    this.#o = o.options
    this.#clock = o.clock
    this.#random = o.random
    this.#live = o.live
    this.#onFailfast = o.onFailfast
  }

  /** fast_io_fail_tmo expired during this loss. */
  get failfast(): boolean {
    return this.#failfast
  }

  /** The connection was lost: the loss starts now unless one is running; fast_io_fail_tmo is armed. */
  lost(): void {
    this.#start ??= this.#clock.now()
    const f = this.#o.fastIoFailTmoMs
    if (f < 0 || this.#fastFailTimer !== undefined || this.#failfast) return
    this.#fastFailTimer = this.#clock.setTimeout(() => {
      this.#fastFailTimer = undefined
      if (this.#live()) return
      this.#failfast = true
      this.#onFailfast()
    }, f)
  }

  /** The controller is live again: the loss is over. */
  recovered(): void {
    this.#start = undefined
    this.#attempts = 0
    this.#failfast = false
    if (this.#fastFailTimer !== undefined) this.#clock.clearTimeout(this.#fastFailTimer)
    this.#fastFailTimer = undefined
  }

  /**
   * The delay before the next attempt (`override`, else reconnect_delay with the backoff), or
   * undefined when that attempt would start after ctrl_loss_tmo (Linux nvmf_should_reconnect:
   * nr_reconnects < max_reconnects = ctrl_loss_tmo / reconnect_delay): the controller gives up.
   */
  nextDelay(override?: number): number | undefined {
    const start = this.#start ?? this.#clock.now()
    const delay = override ?? reconnectDelay(this.#o, this.#attempts, this.#random)
    if (this.#o.ctrlLossTmoMs >= 0 && this.#clock.now() + delay - start > this.#o.ctrlLossTmoMs) return undefined
    return delay
  }

  /** Call `attempt` after `delay` ms (the controller checks it still wants one, then {@link countAttempt}). */
  schedule(delay: number, attempt: () => void): void {
    this.#reconnectTimer = this.#clock.setTimeout(() => {
      this.#reconnectTimer = undefined
      attempt()
    }, delay)
  }

  countAttempt(): void {
    this.#attempts++
  }

  /** The controller goes away: no more attempts, no fast-fail. */
  cancel(): void {
    if (this.#reconnectTimer !== undefined) this.#clock.clearTimeout(this.#reconnectTimer)
    if (this.#fastFailTimer !== undefined) this.#clock.clearTimeout(this.#fastFailTimer)
    this.#reconnectTimer = undefined
    this.#fastFailTimer = undefined
  }
}
