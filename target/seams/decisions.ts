/**
 * One decision type per seam. A hook returns the wide {@link Decision} (faults/ builds them without
 * knowing where they land); {@link narrowDecision} turns it into the seam's own type once, at the
 * seam, so the code that carries a decision out switches over only what applies there. A decision
 * that does not apply (an action this seam has no meaning for, or a value a hook should not
 * return) counts as `pass` and is logged as a warning naming the seam and the action: it never
 * strands a connection, a PDU or a command.
 */
import type { Logger } from 'pino'
import { PASS, type Decision } from './hooks.js'

export type SeamName = 'onConnection' | 'onPduReceived' | 'onPduSend' | 'onCommand' | 'onCompletion'

type Pick<A extends Decision['action']> = Extract<Decision, { action: A }>

/** Decisions that end or pause the whole connection (carried out by the transport). */
export type ConnectionFault = Pick<'close' | 'reset' | 'termReq' | 'stall'>
/** onConnection: serve later (`delay`), never serve (`drop`), or a connection fault. */
export type ConnectionDecision = Pick<'pass' | 'delay' | 'drop'> | ConnectionFault
/** onPduReceived: deliver later, discard, deliver other bytes (`mutate`), or a connection fault. */
export type ReceiveDecision = Pick<'pass' | 'delay' | 'drop' | 'mutate'> | ConnectionFault
/** onPduSend: the send-side shapers (delay, drop, mutate, hold, segment) or a connection fault. */
export type SendDecision = Pick<'pass' | 'delay' | 'drop' | 'mutate' | 'hold' | 'segment'> | ConnectionFault
/** onCommand and onCompletion: go on, later, never, with another status, or a connection fault. */
export type CommandDecision = Pick<'pass' | 'delay' | 'drop' | 'complete'> | ConnectionFault

export interface SeamDecisions {
  onConnection: ConnectionDecision
  onPduReceived: ReceiveDecision
  onPduSend: SendDecision
  onCommand: CommandDecision
  onCompletion: CommandDecision
}

const FAULTS = ['close', 'reset', 'termReq', 'stall'] as const
/** The actions each seam carries out (hooks.ts, "Decisions and seams"). */
export const SEAM_ACTIONS: { readonly [K in SeamName]: ReadonlySet<string> } = {
  onConnection: new Set(['pass', 'delay', 'drop', ...FAULTS]),
  onPduReceived: new Set(['pass', 'delay', 'drop', 'mutate', ...FAULTS]),
  onPduSend: new Set(['pass', 'delay', 'drop', 'mutate', 'hold', 'segment', ...FAULTS]),
  onCommand: new Set(['pass', 'delay', 'drop', 'complete', ...FAULTS]),
  onCompletion: new Set(['pass', 'delay', 'drop', 'complete', ...FAULTS]),
}

/**
 * The seam's own decision, or `pass`. `complete` counts as `pass` silently at the PDU and
 * connection seams (as it always has: a command fault rule matching a PDU seam changes nothing).
 */
export function narrowDecision<K extends SeamName>(seam: K, d: Decision, logger: Logger): SeamDecisions[K] {
  const action: unknown = typeof d === 'object' && d !== null ? (d as { action?: unknown }).action : d
  if (typeof action === 'string' && SEAM_ACTIONS[seam].has(action)) return d as SeamDecisions[K]
  if (action !== 'complete') logger.warn({ seam, action: String(action) }, `fault decision '${String(action)}' does not apply at ${seam}; treated as 'pass'`)
  return PASS as SeamDecisions[K]
}
