/**
 * A controller's keep-alive timer (NVMe Base 2.0 section 3.9), judged as Linux nvmet judges it
 * (drivers/nvme/target/core.c, 6.12 and 7.2 alike):
 *
 * - nvmet_start_keep_alive_timer arms a work item KATO after the admin Connect (nvmet_alloc_ctrl);
 * - nvmet_req_init sets ctrl->reset_tbkas for every command it accepts on a queue bound to the
 *   controller (the Connect itself is not counted: its queue has no controller yet);
 * - nvmet_keep_alive_timer runs once per KATO period: when reset_tbkas was set it clears it and
 *   re-arms for another whole period, otherwise the controller is fatal (nvmet_ctrl_fatal_error);
 * - Keep Alive (admin-cmd.c nvmet_execute_keep_alive: mod_delayed_work), Set Features KATO
 *   (nvmet_set_feat_kato: stop, then start) and CC.EN 0->1 (nvmet_start_ctrl) restart the period;
 *   an I/O queue's teardown (nvmet_sq_destroy) sets reset_tbkas.
 *
 * So a controller expires after a whole KATO period in which no command arrived: never sooner than
 * KATO after the last command, and at most 2 x KATO after it (exactly 2 x KATO when that command was
 * a Keep Alive). Section 3.9 restarts the timer on any Admin or I/O command when CTRATT.TBKAS is 1,
 * and on Keep Alive only when it is 0. Identify Controller (target/cmd/admin-identify.ts) always
 * reports TBKAS, so every command is traffic here. A host that keeps to the cadence the spec
 * recommends (a command every KATO/2) is never near either bound.
 *
 * A hold (an authentication transaction open on one of the controller's queues, target/cmd/auth-
 * expiry.ts) keeps the controller: the host computes its DH value between Challenge and Reply and
 * sends nothing. Releasing a hold counts as traffic, so the period starts again from there.
 */
import type { Clock, TimerHandle } from '../../lib/clock.js'

export interface KeepAliveTimerOptions {
  clock: Clock
  /** The KATO in use, ms (0: keep-alive disabled); read at each arming. */
  kato(): number
  /** A whole period passed without traffic (and the second look confirmed it). */
  onExpired(): void
}

export class KeepAliveTimer {
  readonly #clock: Clock
  readonly #kato: () => number
  readonly #onExpired: () => void
  #timer: TimerHandle | undefined
  /** A command arrived since the last check (nvmet ctrl->reset_tbkas). */
  #traffic = false
  /** The check found the period idle once and looks again after one I/O turn. */
  #recheck = false
  #stopped = false
  readonly #holds = new Set<object>()

  constructor(o: KeepAliveTimerOptions) {
    this.#clock = o.clock
    this.#kato = o.kato
    this.#onExpired = o.onExpired
  }

  /** The first period, from the admin Connect (which is no traffic). */
  start(): void {
    this.#arm()
  }
  /** Any command: noted, judged at the next check (CTRATT.TBKAS). */
  touch(): void {
    this.#traffic = true
  }
  /** Keep Alive, Set Features KATO, CC.EN 0->1: traffic, and a whole period from now. */
  restart(): void {
    this.#traffic = true
    this.#arm()
  }
  hold(key: object): void {
    this.#holds.add(key)
  }
  /** Ends a hold (if `key` had one): counts as traffic. */
  release(key: object): void {
    if (this.#holds.delete(key)) this.#traffic = true
  }
  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** A period of KATO from now (or `ms` for the second look). */
  #arm(ms = this.#kato(), recheck = false): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#recheck = recheck
    if (this.#stopped || this.#kato() === 0) return
    this.#timer = this.#clock.setTimeout(() => this.#check(), Math.max(1, ms))
    this.#timer.unref?.()
  }
  #check(): void {
    this.#timer = undefined
    if (this.#stopped || this.#kato() === 0) return
    if (this.#traffic || this.#holds.size > 0) {
      // A command arrived in this period (or a hold is on): one more whole period.
      this.#traffic = false
      this.#arm()
      return
    }
    if (!this.#recheck) {
      // Look once more after the event loop has read the sockets: Node runs due timers before it
      // polls for I/O, so after a stall of this process (GC, a busy or descheduled machine) the
      // check fires while the host's command may already sit unread in the socket. Expiring then
      // would blame the host for our own delay. A timer set now runs in a later loop turn.
      this.#arm(1, true)
      return
    }
    this.#onExpired()
  }
}
