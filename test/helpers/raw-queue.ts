/**
 * Test helper: one initiator queue pair (initiator/transport/queue-pair.ts) against a scripted raw
 * controller on 127.0.0.1, and the Read traffic the queue-pair tests share — a byte pattern that
 * depends on each byte's offset and the LBA, and a Read of `length` bytes at `slba`.
 */
import { systemClock } from '../../lib/clock.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'
import { makeSqe, rwDwords } from '../../lib/nvme/sqe.js'
import { QueuePair, type QueueCompletion } from '../../initiator/transport/queue-pair.js'

/** The bytes a raw controller returns for the read at `slba`. */
export function readPattern(slba: number, length: number): Buffer {
  const b = Buffer.alloc(length)
  for (let i = 0; i < length; i++) b[i] = (i * 13 + slba * 7) & 0xff
  return b
}

/** An I/O queue (qid 1, no Connect command) to `port` with test defaults; digests off unless asked. */
export function connectRawQueue(port: number, o: { depth?: number; hdgst?: boolean; ddgst?: boolean; connectTimeoutMs?: number } = {}): Promise<QueuePair> {
  return QueuePair.connect({
    host: '127.0.0.1',
    port,
    qid: 1,
    depth: o.depth ?? 8,
    hdgst: o.hdgst ?? false,
    ddgst: o.ddgst ?? false,
    clock: systemClock,
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    inCapsuleMax: 8192,
    maxC2HData: 1 << 20,
  })
}

/** Read `length` bytes (512-byte blocks) of NSID 1 at `slba`, no timeout. */
export function readAt(qp: QueuePair, slba: number, length: number): Promise<QueueCompletion> {
  return qp.submit({ sqe: makeSqe({ opc: IoOpcode.READ, nsid: 1, ...rwDwords({ slba: BigInt(slba), nlb: length / 512 - 1 }) }), readLength: length, timeoutMs: 0 })
}
