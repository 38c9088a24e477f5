/** The target's state machines use the project's one base (lib/state-machine.ts). */
export { StateMachine, type TransitionTable } from '../../lib/state-machine.js'
