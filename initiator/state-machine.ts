/**
 * The checked transition table shared by the controller and path state machines: the table is the
 * whole truth, and a move it does not list is refused (style guide 4.7).
 */
import { InvalidStateTransitionError } from '../lib/errors.js'

export class TableStateMachine<S extends string> {
  readonly #table: Readonly<Record<S, readonly S[]>>
  readonly #machine: string
  #state: S
  /** `machine` names the machine in errors, e.g. `controller c1`. */
  constructor(table: Readonly<Record<S, readonly S[]>>, machine: string, initial: S) {
    this.#table = table
    this.#machine = machine
    this.#state = initial
  }
  get state(): S {
    return this.#state
  }
  canTransition(to: S): boolean {
    return this.#table[this.#state].includes(to)
  }
  /** Move to `to` and return the state left; an unlisted move throws InvalidStateTransitionError. */
  protected move(to: S): S {
    if (!this.canTransition(to)) throw new InvalidStateTransitionError(this.#machine, this.#state, to)
    const from = this.#state
    this.#state = to
    return from
  }
}
