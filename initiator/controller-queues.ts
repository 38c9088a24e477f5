/**
 * Queue bring-up of a host controller (wire reference 9.1): opening a queue pair with the
 * controller's transport options, the Fabrics Connect on it, and the I/O queue geometry the
 * controller's CAP and Identify Controller allow.
 */
import type { Clock } from '../lib/clock.js'
import { CONNECT_CATTR_DISABLE_SQFLOW, encodeConnectData, makeConnectSqe } from '../lib/nvme/fabrics.js'
import type { IdentifyController } from '../lib/nvme/identify-controller.js'
import type { decodeCap } from '../lib/nvme/fabrics.js'
import type { Cqe } from '../lib/nvme/cqe.js'
import { ConnectRejectedError } from './connect-error.js'
import type { ResolvedControllerOptions } from './controller-options.js'
import { QueuePair } from './transport/queue-pair.js'

export interface QueueOpen {
  qid: number
  depth: number
  inCapsuleMax: number
  maxC2HData: number
  onClose: (err: Error) => void
  onTimeout: (info: { qid: number; cid: number; opc: number }) => void
}

/** TCP connection and ICReq/ICResp of one queue to the controller's address. */
export function openQueue(o: Pick<ResolvedControllerOptions, 'traddr' | 'trsvcid' | 'hdgst' | 'ddgst' | 'connectTimeoutMs'>, clock: Clock, q: QueueOpen): Promise<QueuePair> {
  return QueuePair.connect({ host: o.traddr, port: o.trsvcid, hdgst: o.hdgst, ddgst: o.ddgst, clock, connectTimeoutMs: o.connectTimeoutMs, ...q })
}

export interface ConnectCommand {
  hostid: Buffer
  hostnqn: string
  subnqn: string
  /** 0xFFFF (dynamic) on the admin queue, the admin queue's CNTLID on I/O queues. */
  cntlid: number
  qid: number
  sqsize: number
  kato: number
  /** CATTR bit 2 (as Linux, on the admin and every I/O queue). */
  disableSqflow: boolean
  timeoutMs: number
}

/** Fabrics Connect on `q`; a rejected Connect throws {@link ConnectRejectedError}. Returns the CQE. */
export async function connectQueue(q: QueuePair, c: ConnectCommand): Promise<Cqe> {
  const r = await q.submit({
    sqe: makeConnectSqe({ cid: 0, qid: c.qid, sqsize: c.sqsize, kato: c.kato, cattr: c.disableSqflow ? CONNECT_CATTR_DISABLE_SQFLOW : 0 }),
    data: encodeConnectData({ hostid: c.hostid, cntlid: c.cntlid, subnqn: c.subnqn, hostnqn: c.hostnqn }),
    timeoutMs: c.timeoutMs,
  })
  if (r.cqe.status !== 0) throw new ConnectRejectedError(r.cqe, c.qid)
  return r.cqe
}

export interface IoQueueGeometry {
  /** Slots per I/O queue: the smallest of the asked queue size, MAXCMD and CAP.MQES + 1. */
  depth: number
  /** In-capsule data the I/O queues take (IOCCSZ × 16 − 64). */
  inCapsule: number
  /** Largest transfer of one command (MDTS), capped at 64 MiB. */
  maxTransferBytes: number
}

export function ioQueueGeometry(queueSize: number, id: IdentifyController, cap: ReturnType<typeof decodeCap>): IoQueueGeometry {
  const depth = Math.min(queueSize, id.maxcmd > 0 ? id.maxcmd : queueSize, cap.mqes + 1)
  const inCapsule = id.ioccsz > 4 ? id.ioccsz * 16 - 64 : 0
  // MDTS is a power of two in units of the minimum memory page size (CAP.MPSMIN); 0 = no limit.
  const mdts = id.mdts === 0 ? 1 << 26 : 2 ** (12 + cap.mpsmin) * 2 ** id.mdts
  return { depth, inCapsule, maxTransferBytes: Math.min(mdts, 1 << 26) }
}
