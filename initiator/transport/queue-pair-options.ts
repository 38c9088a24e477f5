/**
 * The options of a host queue pair (queue-pair.ts), checked at its edge, and its states.
 */
import type { Clock } from '../../lib/clock.js'
import { InvalidArgumentError } from '../../lib/errors.js'
import type { Cqe } from '../../lib/nvme/cqe.js'
import type { TransitionTable } from '../../lib/state-machine.js'

export interface QueuePairOptions {
  host: string
  port: number
  qid: number
  /** Number of command slots (SQSIZE + 1). */
  depth: number
  hdgst: boolean
  ddgst: boolean
  clock: Clock
  /** ICResp must arrive within this (Linux: 10 s). */
  connectTimeoutMs: number
  /** Largest in-capsule write (admin 8 KiB; I/O IOCCSZ×16−64); larger writes use R2T. */
  inCapsuleMax: number
  /** Largest C2HData we accept (bytes). */
  maxC2HData: number
  /** PDUs that may wait for the socket's 'drain' (default 2 × depth + 16: a capsule and an R2T's data per command). */
  maxQueuedWrites?: number
  /** The queue died (not called after a local `close()`). */
  onClose?: (err: Error) => void
  /** A command exceeded its timeout; it stays pending until completed or the queue closes. */
  onTimeout?: (info: { qid: number; cid: number; opc: number }) => void
  /** Called for every completion whose CID has no pending command (e.g. after an Abort). */
  onStrayCompletion?: (cqe: Cqe) => void
}

/** The checks `QueuePair.connect` makes before opening anything (InvalidArgumentError naming the field). */
export function validateQueuePairOptions(o: QueuePairOptions): void {
  if (!Number.isInteger(o.depth) || o.depth < 2 || o.depth > 4096) throw new InvalidArgumentError('queueSize', 'must be an integer in [2, 4096]')
  if (o.maxQueuedWrites !== undefined && (!Number.isInteger(o.maxQueuedWrites) || o.maxQueuedWrites < 1)) throw new InvalidArgumentError('maxQueuedWrites', 'must be a positive integer')
}

/** connecting (ICReq sent, no ICResp yet) → live → closed (closed locally, or the queue died). */
export const QueuePairState = { CONNECTING: 'connecting', LIVE: 'live', CLOSED: 'closed' } as const
export type QueuePairStateValue = (typeof QueuePairState)[keyof typeof QueuePairState]
export const QUEUE_PAIR_TRANSITIONS: TransitionTable<QueuePairStateValue> = {
  connecting: ['live', 'closed'],
  live: ['closed'],
  closed: [],
}
