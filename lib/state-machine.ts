/**
 * The one guarded state machine of the project, used by the target (connection, queue, controller,
 * request) and the initiator (queue pair, controller, path): a table of allowed successors is the
 * whole truth, a move it does not list throws `InvalidStateTransitionError`, and listeners run after
 * each move (style guide 4.7; grpc-js `transitionToState`).
 *
 * Two verbs: `transition(to)` treats a move to the current state as a no-op (the target's
 * idempotent teardown paths rely on it); `move(to)` is strict — a self-move is legal only when the
 * table lists it — and returns the state left (the initiator's controller machine uses it).
 */
import { InvalidStateTransitionError } from './errors.js'

export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>
export type TransitionListener<S extends string> = (from: S, to: S) => void

export interface StateMachineOptions<S extends string> {
  /** Names the machine in errors and logs, e.g. `queue` or `controller c1`. */
  name: string
  initial: S
  table: TransitionTable<S>
  onTransition?: TransitionListener<S>
}

export class StateMachine<S extends string> {
  readonly name: string
  #state: S
  readonly #table: TransitionTable<S>
  /** Allocated on the first listener: a request (one machine per command) usually has none. */
  #listeners: TransitionListener<S>[] | undefined

  constructor(options: StateMachineOptions<S>) {
    this.name = options.name
    this.#state = options.initial
    this.#table = options.table
    if (options.onTransition !== undefined) this.#listeners = [options.onTransition]
  }

  get state(): S {
    return this.#state
  }
  /** The current state is one of these (fixed parameters: no array per call on the hot path). */
  is(s1: S, s2?: S, s3?: S, s4?: S): boolean {
    const st = this.#state
    return st === s1 || st === s2 || st === s3 || st === s4
  }
  /** True when the table lists `to` as a successor of the current state. */
  canTransition(to: S): boolean {
    return this.#table[this.#state].includes(to)
  }
  can(to: S): boolean {
    return this.canTransition(to)
  }
  /** Moves to `to`; a move to the current state is a no-op; an unlisted move throws. */
  transition(to: S): void {
    if (this.#state === to) return
    this.move(to)
  }
  /** Like `transition` but returns false instead of throwing. */
  tryTransition(to: S): boolean {
    if (this.#state !== to && !this.canTransition(to)) return false
    this.transition(to)
    return true
  }
  onTransition(l: TransitionListener<S>): void {
    ;(this.#listeners ??= []).push(l)
  }
  /** The strict move: `to` must be listed (even when it is the current state); returns the state left. */
  protected move(to: S): S {
    const from = this.#state
    if (!this.#table[from].includes(to)) throw new InvalidStateTransitionError(this.name, from, to)
    this.#state = to
    if (this.#listeners !== undefined) for (const l of this.#listeners) l(from, to)
    return from
  }
}
