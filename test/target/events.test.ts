/**
 * Asynchronous events and run-time namespace changes through a real socket: AER held until an
 * event, AEC honoured, NS-attribute events with the Changed Namespace List, masking until the log
 * is read, ANA-change events only on the affected port, AER limit, namespace add/remove/
 * enable/disable/UUID/group/resize, and discovery-change events.
 */
import t, { type Test } from 'tap'
import { RawHost, waitFor } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN, DISC_NQN } from './helpers/fixture.js'
import { AdminOpcode, Cns, FeatureId, LogPageId } from '../../lib/nvme/opcodes.js'
import { makeSqe } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { decodeChangedNsList } from '../../lib/nvme/log-changed-ns.js'
import { decodeNsidList, decodeNsIdDescriptors, nsIdentifiersOf } from '../../lib/nvme/identify-lists.js'
import { decodeIdentifyNamespace } from '../../lib/nvme/identify-namespace.js'
import { decodeAnaLog } from '../../lib/nvme/log-ana.js'
import type { TargetHandle } from '../../target/index.js'

const NS_CHANGED = 0x00040002
const ANA_CHANGE = 0x000c0302
const DISC_CHANGE = 0x0070f002

async function adminQueue(t: Test, target: TargetHandle, portId = 1, aec = 0x900) {
  const c = await RawHost.connect({ port: portOf(target, portId) })
  t.teardown(() => c.destroy())
  const cntlid = await c.connectAdmin({ subnqn: SUBNQN })
  if (aec !== 0) await c.admin(AdminOpcode.SET_FEATURES, { cdw10: FeatureId.ASYNC_EVENT, cdw11: aec })
  return { c, cntlid }
}

function postAer(c: RawHost): number {
  const cid = c.nextCid()
  c.post(makeSqe({ opc: AdminOpcode.ASYNC_EVENT_REQUEST, cid }))
  return cid
}

t.test('namespace changes raise NS-attribute AENs with the Changed Namespace List', async (t) => {
  const target = await startTarget(t)
  const { c } = await adminQueue(t, target)
  const cid = postAer(c)
  const aer = c.wait(cid)
  await new Promise((r) => setTimeout(r, 20))
  t.equal(c.pending, 1, 'AER held while nothing happens')
  await target.addNamespace(SUBNQN, { nsid: 5, size: '1MiB' })
  const ev = await aer
  t.equal(ev.cqe.status, 0, 'AER completes with success')
  t.equal(ev.cqe.dw0, NS_CHANGED, 'DW0 Namespace Attribute Changed')
  t.same(decodeNsidList((await c.identify(Cns.ACTIVE_NS_LIST)).data), [1, 2, 5], 'new NSID active')

  // Further changes are masked until the log is read (nvmet), but recorded in the list.
  const cid2 = postAer(c)
  const aer2 = c.wait(cid2)
  target.disableNamespace(SUBNQN, 2)
  await new Promise((r) => setTimeout(r, 20))
  t.equal(c.pending, 1, 'masked until the Changed NS log is read')
  const log = decodeChangedNsList((await c.getLogPage(LogPageId.CHANGED_NS, 4096)).data)
  t.same(log.nsids, [2, 5], 'Changed Namespace List holds both NSIDs')
  t.same(decodeChangedNsList((await c.getLogPage(LogPageId.CHANGED_NS, 4096)).data).nsids, [], 'reading with RAE=0 cleared it')
  target.enableNamespace(SUBNQN, 2)
  t.equal((await aer2).cqe.dw0, NS_CHANGED, 'event re-armed after the log read')

  // UUID only while disabled.
  t.throws(() => target.setNamespaceUuid(SUBNQN, 1, '99999999-2222-4333-8444-555555555555'), { code: 'ERR_NVMEOF_INVALID_STATE' }, 'UUID change refused while enabled')
  target.disableNamespace(SUBNQN, 1)
  target.setNamespaceUuid(SUBNQN, 1, '99999999-2222-4333-8444-555555555555')
  target.setNamespaceNguid(SUBNQN, 1, '0123456789abcdef0123456789abcdef')
  target.enableNamespace(SUBNQN, 1)
  const ids = nsIdentifiersOf(decodeNsIdDescriptors((await c.identify(Cns.NS_ID_DESC_LIST, 1)).data))
  t.equal(Buffer.from(ids.uuid ?? []).toString('hex'), '99999999222243338444555555555555', 'new UUID')
  t.equal(Buffer.from(ids.nguid ?? []).toString('hex'), '0123456789abcdef0123456789abcdef', 'new NGUID')

  await target.resizeNamespace(SUBNQN, 1, 32768)
  t.equal(decodeIdentifyNamespace((await c.identify(Cns.NAMESPACE, 1)).data).nsze, 32768n, 'resized')
  target.setNamespaceGroup(SUBNQN, 5, 2)
  t.equal(decodeIdentifyNamespace((await c.identify(Cns.NAMESPACE, 5)).data).anagrpid, 2, 'moved to group 2')
  const ana = decodeAnaLog((await c.getLogPage(LogPageId.ANA, 4096)).data)
  t.same(ana.groups.map((g) => g.nsids), [[1], [2, 5]], 'ANA log lists the move')

  await target.removeNamespace(SUBNQN, 5)
  t.same(decodeNsidList((await c.identify(Cns.ACTIVE_NS_LIST)).data), [1, 2], 'removed')
  const changed = decodeChangedNsList((await c.getLogPage(LogPageId.CHANGED_NS, 4096)).data).nsids
  t.same(changed, [1, 2, 5], 'every change since the last read recorded')
  await t.rejects(target.addNamespace(SUBNQN, { nsid: 1, size: '1MiB' }), { code: 'ERR_NVMEOF_INVALID_ARG' }, 'duplicate NSID')
  await t.rejects(target.addNamespace(SUBNQN, { nsid: 3, size: 'huge' }), { code: 'ERR_NVMEOF_CONFIG' }, 'bad size named')
})

t.test('AEC is honoured; ANA change only on the affected port; AER limit', async (t) => {
  const target = await startTarget(t)
  const a = await adminQueue(t, target, 1, 0x100) // NS notices only
  const b = await adminQueue(t, target, 2, 0x900)
  const aCid = postAer(a.c)
  const bCid = postAer(b.c)
  const bAer = b.c.wait(bCid)
  target.setAnaState({ portId: 2, grpid: 1, state: 'inaccessible' })
  t.equal((await bAer).cqe.dw0, ANA_CHANGE, 'port 2 controller gets the ANA change')
  await new Promise((r) => setTimeout(r, 20))
  t.equal(a.c.pending, 1, 'port 1 controller (ANA not enabled, other port) gets nothing')
  target.setAnaState({ portId: 1, grpid: 1, state: 'non-optimized' })
  await new Promise((r) => setTimeout(r, 20))
  t.equal(a.c.pending, 1, 'AEC without bit 11: no ANA event')
  const aAer = a.c.wait(aCid)
  target.raiseAen({ type: 'ns-changed', cntlid: a.cntlid, nsid: 2 })
  t.equal((await aAer).cqe.dw0, NS_CHANGED, 'raiseAen delivers')

  // At most AERL+1 = 4 outstanding.
  for (let i = 0; i < 4; i++) postAer(b.c)
  const fifth = await b.c.command(makeSqe({ opc: AdminOpcode.ASYNC_EVENT_REQUEST, cid: b.c.nextCid() }))
  t.equal(fifth.cqe.status, NvmeStatus.ASYNC_LIMIT | STATUS_DNR, 'fifth AER → Asynchronous Event Request Limit Exceeded')
  t.equal(target.status().controllers.find((c) => c.cntlid === b.cntlid)?.queues[0]?.inflight, 4, 'four AERs in flight')
})

t.test('discovery-change AEN on a discovery controller', async (t) => {
  const target = await startTarget(t)
  const d = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => d.destroy())
  await d.connectAdmin({ subnqn: DISC_NQN })
  t.equal((await d.admin(AdminOpcode.SET_FEATURES, { cdw10: FeatureId.ASYNC_EVENT, cdw11: 0x900 })).cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, 'NS/ANA bits refused on discovery')
  t.equal((await d.admin(AdminOpcode.SET_FEATURES, { cdw10: FeatureId.ASYNC_EVENT, cdw11: 0x80000000 })).cqe.status, 0)
  const cid = postAer(d)
  const aer = d.wait(cid)
  const id = target.addReferral({ address: '127.0.0.2', port: 8009 })
  t.equal((await aer).cqe.dw0 >>> 0, DISC_CHANGE, 'discovery log change')
  t.ok(target.removeReferral(id))
})

t.test('events: controller and queue life cycle', async (t) => {
  const target = await startTarget(t)
  const seen: string[] = []
  target.on('queue', (e) => seen.push(`q:${e.type}:${e.qid ?? '-'}`))
  target.on('controller', (e) => seen.push(`c:${e.type}`))
  const { c } = await adminQueue(t, target, 1, 0)
  c.destroy()
  await waitFor(() => seen.includes('c:deleted'), 'controller deleted')
  t.same(seen.filter((s) => s.startsWith('q:')), ['q:live:-', 'q:connected:0', 'q:closed:0'], 'queue events')
  t.ok(seen.includes('c:created') && seen.includes('c:deleted'), 'controller events')
  await waitFor(() => target.status().controllers.length === 0 && target.status().unboundQueues.length === 0, 'nothing left')
})
