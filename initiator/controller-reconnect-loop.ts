/**
 * The reconnect loop of a host controller after a connection loss (anchors 3.5): wait the delay
 * {@link ConnectionLoss} gives, make one connect attempt, and after a failed one schedule the next,
 * until ctrl_loss_tmo runs out or a Connect is refused with DNR; either removes the controller.
 * `ConnectionLoss` keeps the time; this decides what an attempt does. A function over the
 * controller's scope, as `onCommandTimeout` is (controller-timeouts.ts), so controller.ts keeps only
 * the wiring.
 */
import type { Logger } from 'pino'
import { NvmeStatusError } from '../lib/errors.js'
import { statusDnr } from '../lib/status.js'
import type { ControllerStateValue } from './controller-state.js'
import type { ConnectionLoss } from './controller-reconnect.js'

export interface ReconnectScope {
  loss: ConnectionLoss
  log: Logger | undefined
  counters: { reconnectAttempts: number }
  state: () => ControllerStateValue
  transition: (to: ControllerStateValue) => void
  /** One connect attempt (bring-up through live). */
  connectOnce: () => Promise<void>
  /** Close what a failed attempt left open. */
  teardown: (err: Error) => void
  /** Give up: delete the controller. */
  remove: () => void
}

export function scheduleReconnect(s: ReconnectScope, delayOverride?: number): void {
  const delay = s.loss.nextDelay(delayOverride)
  if (delay === undefined) {
    s.log?.info('ctrl_loss_tmo expired, removing controller')
    s.remove()
    return
  }
  if (s.state() === 'resetting' || s.state() === 'connecting') s.transition('reconnecting')
  s.loss.schedule(delay, () => {
    if (s.state() !== 'reconnecting') return
    s.loss.countAttempt()
    s.counters.reconnectAttempts++
    s.transition('connecting')
    s.connectOnce().catch((err: unknown) => {
      s.teardown(err as Error)
      if (s.state() !== 'connecting') return
      // A Connect rejected with DNR will never succeed: stop (wire reference 8.2).
      if (err instanceof NvmeStatusError && statusDnr(err.status)) {
        s.remove()
        return
      }
      scheduleReconnect(s)
    })
  })
}
