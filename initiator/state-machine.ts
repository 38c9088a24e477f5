/**
 * The initiator's state machines (controller, path, queue pair) use the project's one base
 * (lib/state-machine.ts); `TableStateMachine` is its older name here.
 */
export { StateMachine as TableStateMachine, StateMachine, type TransitionTable } from '../lib/state-machine.js'
