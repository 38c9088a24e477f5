/**
 * Fault seams of the target (binding contract for faults/). The target calls these at fixed points:
 * a connection accepted, a PDU received, a PDU about to be sent, a command dispatched, a command
 * completed. Each hook returns a {@link Decision}; with no hooks installed the hot path never awaits.
 *
 * Decisions and seams. Not every action makes sense at every seam:
 * - `mutate` replaces the bytes of a PDU: at `onPduSend` the replacement is written instead; at
 *   `onPduReceived` it is processed as if it had been received — through the same framer header checks
 *   and digest-checking decoder as socket bytes, so a bad header digest still ends the connection with
 *   a C2HTermReq (FES 03h) and a bad H2CData data digest fails its command (Transient Transport Error).
 *   Zero bytes is a drop; several PDUs are each handled; bytes ending inside a PDU are a PLEN error.
 * - `segment` and `hold` shape how a PDU being sent is written, so they apply only at `onPduSend`
 *   (at `onPduReceived` they count as `pass`, with a warning).
 * - `hold` keeps the PDU's wire parts back; they go out, in order, together with the next PDU of the
 *   same connection that is written (not held, not dropped), in one corked write — so a host sees them
 *   coalesced. Held parts are discarded if the connection closes first; a fault that holds must only
 *   hold PDUs that something always follows (e.g. C2HData without SUCCESS: its CapsuleResp follows).
 * - At the command seams (`onCommand`, `onCompletion`) the applicable actions are
 *   {@link COMMAND_SEAM_ACTIONS}. Any other decision there (`mutate`, `segment`, or an action this
 *   version does not know) is treated as `pass` and logged as a warning naming the seam and the
 *   action: a decision that does not apply to its seam never strands a command in flight.
 * - At `onCommand`: `stall` pauses the queue and the command still executes; `close`/`reset`/`termReq`
 *   end the connection and the command with it (no response); `drop` leaves it in flight, never
 *   completed (the host times it out) but no longer holding its namespace, so a removal does not
 *   wait for it. At `onCompletion`: `stall` pauses the queue and the response is still sent;
 *   `close`/`reset`/`termReq` end the connection instead of sending it.
 * - Whatever the path, a command's namespace reference is released exactly once: when its request
 *   enters EXECUTED (target/core/request.ts) — at completion, on `drop`, on a connection fault, or
 *   when its connection is torn down — except that a command whose store operation is running keeps
 *   it until that operation settles.
 *
 * Each seam's own decision type and the one dispatch live beside this file (decisions.ts, seam.ts).
 */
import type { Sqe } from '../../lib/nvme/sqe.js'
import type { Pdu } from '../../lib/pdu/index.js'

/** Where a hook fires. `qid`/`cntlid`/... are present once known for the connection. */
export interface HookContext {
  portId: number
  connectionId: number
  qid?: number
  cntlid?: number
  hostnqn?: string
  subnqn?: string
}

export interface ConnectionInfo {
  remoteAddress: string
  remotePort: number
}

export interface ReceivedPdu {
  /** The decoded PDU (views into `raw`). */
  pdu: Pdu
  /** The whole PDU as received (a view, valid only during the call). */
  raw: Buffer
}

export interface OutgoingPdu {
  pdu: Pdu
  /** The wire buffers about to be written (header+digest, data, data digest). */
  parts: Buffer[]
}

export type CommandKind = 'admin' | 'io' | 'fabrics'

export interface HookCommand {
  sqe: Sqe
  opc: number
  kind: CommandKind
  nsid: number
  slba?: bigint
  nlb?: number
}

export interface HookCompletion {
  status: number
  dw0: number
  dw1: number
}

export type Decision =
  | { action: 'pass' }
  | { action: 'delay'; ms: number }
  /** rx/tx PDU discarded; a dropped command is never completed. */
  | { action: 'drop' }
  /** Command: complete now with this status; completion: replace the status (and dw0). */
  | { action: 'complete'; status: number; dw0?: number }
  /** Close the connection (FIN). */
  | { action: 'close' }
  /** Reset the connection (RST). */
  | { action: 'reset' }
  /** Send a C2HTermReq, then close. */
  | { action: 'termReq'; fes: number; fei?: number }
  /** tx: send these bytes instead; rx: process these bytes as if received instead (see above). */
  | { action: 'mutate'; parts: Buffer[] }
  /** tx: hold this PDU; it goes out with the next PDU written on the connection, in one write. */
  | { action: 'hold' }
  /** tx: write the PDU in these segment sizes, `gapMs` apart. */
  | { action: 'segment'; sizes: number[]; gapMs?: number }
  /** Stop processing this queue for `ms`. */
  | { action: 'stall'; ms: number }

export type HookResult = Decision | Promise<Decision>

export interface TargetHooks {
  onConnection?(ctx: HookContext, conn: ConnectionInfo): HookResult
  onPduReceived?(ctx: HookContext, rx: ReceivedPdu): HookResult
  onPduSend?(ctx: HookContext, tx: OutgoingPdu): HookResult
  onCommand?(ctx: HookContext, cmd: HookCommand): HookResult
  onCompletion?(ctx: HookContext, cmd: HookCommand, completion: HookCompletion): HookResult
}

export const PASS: Decision = Object.freeze({ action: 'pass' })

/** The actions that apply at `onCommand` and `onCompletion`; any other decision there counts as `pass`. */
export const COMMAND_SEAM_ACTIONS: ReadonlySet<Decision['action']> = new Set<Decision['action']>(['pass', 'delay', 'drop', 'complete', 'close', 'reset', 'termReq', 'stall'])

/** A mutable holder so that `setHooks()` takes effect on live connections. */
export interface HookSlot {
  hooks: TargetHooks | undefined
}
