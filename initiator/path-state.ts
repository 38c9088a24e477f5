/**
 * The state machine of one path (a namespace as seen through one controller). The table below is the
 * whole truth: every move goes through {@link PathStateMachine.transition}, which refuses anything not
 * listed (style guide 4.7).
 *
 * - CONNECTING: the controller is being (re)connected; the path is not selectable.
 * - LIVE: controller live, ANA optimized.
 * - DEGRADED: controller live, ANA non-optimized (a fallback path).
 * - INACCESSIBLE: controller live but ANA inaccessible / persistent loss / change, or ANA pending
 *   after an ANA error (Linux `NVME_NS_ANA_PENDING`).
 * - RECONNECTING: the controller lost its connection and waits `reconnectDelay` (with backoff).
 * - DELETED: final; the path left its head.
 */
import { StateMachine } from '../lib/state-machine.js'

export const PathState = {
  CONNECTING: 'connecting',
  LIVE: 'live',
  DEGRADED: 'degraded',
  INACCESSIBLE: 'inaccessible',
  RECONNECTING: 'reconnecting',
  DELETED: 'deleted',
} as const
export type PathStateValue = (typeof PathState)[keyof typeof PathState]

/** Allowed successors of each state. */
export const PATH_TRANSITIONS: Readonly<Record<PathStateValue, readonly PathStateValue[]>> = Object.freeze({
  connecting: ['live', 'degraded', 'inaccessible', 'reconnecting', 'deleted'],
  live: ['degraded', 'inaccessible', 'reconnecting', 'deleted'],
  degraded: ['live', 'inaccessible', 'reconnecting', 'deleted'],
  inaccessible: ['live', 'degraded', 'reconnecting', 'deleted'],
  reconnecting: ['connecting', 'deleted'],
  deleted: [],
})

export interface PathTransition {
  from: PathStateValue
  to: PathStateValue
}

export class PathStateMachine extends StateMachine<PathStateValue> {
  readonly #onTransition: ((t: PathTransition) => void) | undefined
  constructor(options: { name: string; initial?: PathStateValue; onTransition?: (t: PathTransition) => void }) {
    super({ table: PATH_TRANSITIONS, name: `path ${options.name}`, initial: options.initial ?? PathState.CONNECTING })
    this.#onTransition = options.onTransition
  }
  /** Move to `to`; a move to the current state is a no-op returning false; an illegal move throws. */
  override transition(to: PathStateValue): boolean {
    if (to === this.state) return false
    const from = this.move(to)
    this.#onTransition?.({ from, to })
    return true
  }
}
