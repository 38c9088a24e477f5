/**
 * Host controller state machine (after Linux `nvme_change_ctrl_state`): NEW → CONNECTING → LIVE;
 * LIVE → RESETTING (error recovery / timeout / ANATT) → CONNECTING; a failed connect waits in
 * RECONNECTING for `reconnectDelay`; DELETING → DELETED is final.
 */
import { InvalidStateTransitionError } from '../lib/errors.js'

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

export class ControllerStateMachine {
  readonly #name: string
  readonly #onTransition: ((from: ControllerStateValue, to: ControllerStateValue) => void) | undefined
  #state: ControllerStateValue = ControllerState.NEW
  constructor(options: { name: string; onTransition?: (from: ControllerStateValue, to: ControllerStateValue) => void }) {
    this.#name = options.name
    this.#onTransition = options.onTransition
  }
  get state(): ControllerStateValue {
    return this.#state
  }
  canTransition(to: ControllerStateValue): boolean {
    return CONTROLLER_TRANSITIONS[this.#state].includes(to)
  }
  transition(to: ControllerStateValue): void {
    if (!this.canTransition(to)) throw new InvalidStateTransitionError(`controller ${this.#name}`, this.#state, to)
    const from = this.#state
    this.#state = to
    this.#onTransition?.(from, to)
  }
  /** States in which I/O may be parked on a head rather than failed (Linux `nvme_available_path`). */
  get mayComeBack(): boolean {
    return this.#state === 'live' || this.#state === 'resetting' || this.#state === 'connecting' || this.#state === 'reconnecting'
  }
}
