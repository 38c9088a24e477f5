/**
 * Fault seams of the target (binding contract for faults/). The target calls these at fixed points:
 * a connection accepted, a PDU received, a PDU about to be sent, a command dispatched, a command
 * completed. Each hook returns a {@link Decision}; with no hooks installed the hot path never awaits.
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
  /** tx: send these bytes instead. */
  | { action: 'mutate'; parts: Buffer[] }
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

/** A mutable holder so that `setHooks()` takes effect on live connections. */
export interface HookSlot {
  hooks: TargetHooks | undefined
}
