/**
 * A small guarded state machine: a table of allowed successors, one `transition(to)` that throws
 * `InvalidStateTransitionError` on an illegal move, and listeners notified after the move.
 */
import { InvalidStateTransitionError } from '../../lib/errors.js'

export class StateMachine<S extends string> {
  readonly name: string
  #state: S
  readonly #table: Readonly<Record<S, readonly S[]>>
  readonly #listeners: ((from: S, to: S) => void)[] = []
  constructor(options: { name: string; initial: S; table: Readonly<Record<S, readonly S[]>> }) {
    this.name = options.name
    this.#state = options.initial
    this.#table = options.table
  }
  get state(): S {
    return this.#state
  }
  is(...states: S[]): boolean {
    return states.includes(this.#state)
  }
  can(to: S): boolean {
    return this.#table[this.#state].includes(to)
  }
  /** Moves to `to`; throws on an illegal move. A move to the current state is a no-op. */
  transition(to: S): void {
    const from = this.#state
    if (from === to) return
    if (!this.#table[from].includes(to)) throw new InvalidStateTransitionError(this.name, from, to)
    this.#state = to
    for (const l of this.#listeners) l(from, to)
  }
  /** Like `transition` but returns false instead of throwing. */
  tryTransition(to: S): boolean {
    if (this.#state !== to && !this.can(to)) return false
    this.transition(to)
    return true
  }
  onTransition(l: (from: S, to: S) => void): void {
    this.#listeners.push(l)
  }
}
