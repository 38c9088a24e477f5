/**
 * Host controller state machine (after Linux `nvme_change_ctrl_state`): NEW → CONNECTING → LIVE;
 * LIVE → RESETTING (error recovery / timeout / ANATT) → CONNECTING; a failed connect waits in
 * RECONNECTING for `reconnectDelay`; DELETING → DELETED is final.
 */
import { StateMachine } from '../lib/state-machine.js'

export const ControllerState = {
  NEW: 'new',
  CONNECTING: 'connecting',
  LIVE: 'live',
  RESETTING: 'resetting',
  RECONNECTING: 'reconnecting',
  DELETING: 'deleting',
  DELETED: 'deleted',
} as const
export type ControllerStateValue = (typeof ControllerState)[keyof typeof ControllerState]

export const CONTROLLER_TRANSITIONS: Readonly<Record<ControllerStateValue, readonly ControllerStateValue[]>> = Object.freeze({
  new: ['connecting', 'deleting'],
  connecting: ['live', 'reconnecting', 'deleting'],
  live: ['resetting', 'deleting'],
  resetting: ['connecting', 'reconnecting', 'deleting'],
  reconnecting: ['connecting', 'deleting'],
  deleting: ['deleted'],
  deleted: [],
})

/** States in which I/O may be parked on a head rather than failed (Linux `nvme_available_path`). */
export function controllerMayComeBack(state: ControllerStateValue): boolean {
  return state === 'live' || state === 'resetting' || state === 'connecting' || state === 'reconnecting'
}

export class ControllerStateMachine extends StateMachine<ControllerStateValue> {
  readonly #onTransition: ((from: ControllerStateValue, to: ControllerStateValue) => void) | undefined
  constructor(options: { name: string; onTransition?: (from: ControllerStateValue, to: ControllerStateValue) => void }) {
    super({ table: CONTROLLER_TRANSITIONS, name: `controller ${options.name}`, initial: ControllerState.NEW })
    this.#onTransition = options.onTransition
  }
  /** Strict: a move to the current state is refused too (Linux `nvme_change_ctrl_state`). */
  override transition(to: ControllerStateValue): void {
    const from = this.move(to)
    this.#onTransition?.(from, to)
  }
  /** States in which I/O may be parked on a head rather than failed (Linux `nvme_available_path`). */
  get mayComeBack(): boolean {
    return controllerMayComeBack(this.state)
  }
}
