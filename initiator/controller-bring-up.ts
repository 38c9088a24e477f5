/**
 * The bring-up of one connection of a host controller (wire reference 9.1): the admin queue
 * (ICReq/ICResp), its Fabrics Connect and authentication when the controller asks, CC.EN, Identify
 * Controller, the ANA log, Set Features Number of Queues, then each I/O queue with its own Connect
 * (and authentication). A discovery controller stops after Identify. What the controller learns is
 * handed over as soon as it is known (the ANA read needs Identify), and every queue as it opens, so
 * a failure part-way closes it with the rest of the attempt.
 */
import type { Clock } from '../lib/clock.js'
import { NvmeStatusError } from '../lib/errors.js'
import { CONNECT_DYNAMIC_CNTLID, parseConnectResponseDw0 } from '../lib/nvme/fabrics.js'
import { encodeNumQueues, usableIoQueues } from '../lib/nvme/features.js'
import { CMIC_ANA, decodeIdentifyController, type IdentifyController } from '../lib/nvme/identify-controller.js'
import { makeIdentifySqe } from '../lib/nvme/commands.js'
import { AdminOpcode, Cns, FeatureId } from '../lib/nvme/opcodes.js'
import { makeSqe } from '../lib/nvme/sqe.js'
import { enableController, type AdminCommand } from './controller-admin.js'
import type { ControllerAuth } from './controller-auth.js'
import type { ControllerAna } from './controller-ana.js'
import type { ResolvedControllerOptions } from './controller-options.js'
import { connectQueue, ioQueueGeometry, openQueue, type QueueOpen } from './controller-queues.js'
import type { QueuePair } from './transport/queue-pair.js'

/** Admin queue depth of the host (Linux NVME_AQ_DEPTH). */
export const ADMIN_QUEUE_DEPTH = 32
/** Linux NVME_TCP_ADMIN_CCSZ: in-capsule data up to 8 KiB on the admin queue (wire reference 10.1). */
const ADMIN_IN_CAPSULE = 8192

export interface BringUp {
  options: ResolvedControllerOptions & { hostid: Buffer; hostnqn: string; discovery?: boolean | undefined }
  clock: Clock
  id: string
  auth: ControllerAuth
  ana: ControllerAna
  queueHandlers: Pick<QueueOpen, 'onClose' | 'onTimeout'>
  /** A queue of this attempt opened (throws when the attempt was abandoned meanwhile). */
  adopt(q: QueuePair, kind: 'admin' | 'io'): void
  /** Any admin command (status as data), and one that must succeed. */
  submitAdmin: AdminCommand
  adminCommand: AdminCommand
  learned(facts: { cntlid?: number; identify?: IdentifyController; maxTransferBytes?: number }): void
}

/** Runs the bring-up; resolves with the Identify Controller data once every queue is connected. */
export async function bringUp(b: BringUp): Promise<IdentifyController> {
  const o = b.options
  const admin = await openQueue(o, b.clock, { qid: 0, depth: ADMIN_QUEUE_DEPTH, inCapsuleMax: ADMIN_IN_CAPSULE, maxC2HData: 1 << 20, ...b.queueHandlers })
  b.adopt(admin, 'admin')
  const connectCommand = { hostid: o.hostid, hostnqn: o.hostnqn, subnqn: o.subnqn, disableSqflow: o.disableSqflow, timeoutMs: o.adminTimeoutMs }
  const connect = await connectQueue(admin, { ...connectCommand, cntlid: CONNECT_DYNAMIC_CNTLID, qid: 0, sqsize: ADMIN_QUEUE_DEPTH - 1, kato: o.kato })
  const cntlid = parseConnectResponseDw0(connect.dw0).cntlid
  b.learned({ cntlid })
  await b.auth.ifAsked(admin, 0, connect.dw0)
  const cap = await enableController(b.adminCommand, b.clock, b.id)
  const idc = await b.submitAdmin(makeIdentifySqe({ cid: 0, cns: Cns.CONTROLLER }), { readLength: 4096 })
  const id = decodeIdentifyController(idc.data as Buffer)
  b.learned({ identify: id })
  if (o.discovery === true) return id
  if ((id.cmic & CMIC_ANA) !== 0) await b.ana.read()
  // Set Features Number of Queues: NSQR/NCQR 0's based (wire reference 9.1 step 17).
  const n = o.nrIoQueues
  const nq = await b.submitAdmin(makeSqe({ opc: AdminOpcode.SET_FEATURES, cdw10: FeatureId.NUM_QUEUES, cdw11: encodeNumQueues({ nsq: n, ncq: n }) }))
  if (nq.cqe.status !== 0) throw new NvmeStatusError(nq.cqe.status, { cid: nq.cqe.cid, qid: 0, name: 'Set Features Number of Queues' })
  const granted = Math.min(n, usableIoQueues(nq.cqe.dw0))
  const g = ioQueueGeometry(o.queueSize, id, cap)
  b.learned({ maxTransferBytes: g.maxTransferBytes })
  for (let qid = 1; qid <= granted; qid++) {
    const q = await openQueue(o, b.clock, { qid, depth: g.depth, inCapsuleMax: 8192, maxC2HData: g.maxTransferBytes, ...b.queueHandlers })
    // Listed at once, so a failure from here on closes it with the others.
    b.adopt(q, 'io')
    const c = await connectQueue(q, { ...connectCommand, cntlid, qid, sqsize: g.depth - 1, kato: 0 })
    await b.auth.ifAsked(q, qid, c.dw0)
    q.inCapsuleMax = g.inCapsule
  }
  return id
}
