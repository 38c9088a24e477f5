/**
 * The time limit of a target-side DH-HMAC-CHAP transaction (target/cmd/auth.ts), and how it holds the
 * controller's keep-alive (target/core/controller.ts holdKeepAlive).
 *
 * Linux nvmet (drivers/nvme/target/fabrics-cmd-auth.c): nvmet_execute_auth_send re-arms
 * auth_expired_work for KATO, or 120 s when KATO is 0, after each Send that leaves the transaction
 * open; nvmet_auth_expired_work then resets the step to Negotiate and the T_ID to -1. Here the limit
 * is re-armed after each Receive too, so it counts from the host's last authentication message.
 *
 * While the limit runs, the controller's keep-alive waits: the host computes its DH value between
 * Challenge and Reply and sends nothing, and Linux starts its own keep-alive only after
 * authenticating. After the limit the controller waits AUTH_EXPIRY_MS more for the host's late
 * message, so that it gets AUTH_Failure1 rather than a deleted controller. That is longer than
 * nvmet, whose keep-alive may delete the controller 2 x KATO after the host's last command: blktests
 * nvme/043 on a Debian 6.17 guest under TCG sent its ffdhe8192 Reply about 20 s after the Challenge
 * (KATO 5 s), and Linux then waited out two 60 s command timeouts.
 */
import type { Logger } from 'pino'
import type { Clock } from '../../lib/clock.js'
import type { QueueAuth } from './auth-queue-state.js'

/** Transaction limit when the controller has no KATO (nvmet: 120 s); also the wait for a late message. */
export const AUTH_EXPIRY_MS = 120_000

/**
 * (Re-)arms the limit of the open transaction of `a` and holds its controller's keep-alive.
 * `expire` drops the transaction (the step back to Negotiate); the late-message wait follows.
 */
export function armTransactionExpiry(a: QueueAuth, clock: Clock, logger: Logger, expire: () => void): void {
  stopTransactionExpiry(a, clock)
  const kato = a.queue.controller?.kato ?? 0
  a.timer = clock.setTimeout(() => {
    a.timer = undefined
    logger.info({ qid: a.queue.qid, tid: a.tid, step: a.step }, 'authentication transaction expired')
    a.expiredTid = Math.max(0, a.tid)
    expire()
    a.timer = clock.setTimeout(() => stopTransactionExpiry(a, clock), AUTH_EXPIRY_MS)
    a.timer.unref?.()
    a.queue.controller?.holdKeepAlive(a.queue, true)
  }, kato > 0 ? kato : AUTH_EXPIRY_MS)
  a.timer.unref?.()
  a.queue.controller?.holdKeepAlive(a.queue, true)
}

/** Stops the limit (or the late-message wait) of `a`: its controller's keep-alive judges it again. */
export function stopTransactionExpiry(a: QueueAuth, clock: Clock): void {
  if (a.timer !== undefined) clock.clearTimeout(a.timer)
  a.timer = undefined
  a.queue.controller?.holdKeepAlive(a.queue, false)
}
