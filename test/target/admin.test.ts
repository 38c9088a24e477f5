/**
 * Admin commands through a real socket: Identify (CNS 00h/01h/02h/03h/05h/06h/07h/08h and bad
 * ones), Get Log Page (Error, SMART, FW slot, Changed NS, Effects, ANA with and without RGO, odd
 * windows), Set/Get Features, Keep Alive, Abort, unknown opcode.
 */
import t, { type Test } from 'tap'
import { RawHost } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN } from './helpers/fixture.js'
import { AdminOpcode, Cns, FeatureId, LogPageId } from '../../lib/nvme/opcodes.js'
import { NvmeStatus, STATUS_DNR, cqeFieldToStatus } from '../../lib/status.js'
import { decodeIdentifyController } from '../../lib/nvme/identify-controller.js'
import { decodeIdentifyNamespace } from '../../lib/nvme/identify-namespace.js'
import { decodeNsidList, decodeNsIdDescriptors, nsIdentifiersOf, decodeIdentifyNamespaceIndependent } from '../../lib/nvme/identify-lists.js'
import { decodeErrorLog } from '../../lib/nvme/log-error.js'
import { decodeSmartLog } from '../../lib/nvme/log-smart.js'
import { decodeEffectsLog } from '../../lib/nvme/log-effects.js'
import { decodeAnaLog } from '../../lib/nvme/log-ana.js'
import { decodeChangedNsList } from '../../lib/nvme/log-changed-ns.js'

async function setup(t: Test) {
  const target = await startTarget(t)
  const admin = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => admin.destroy())
  const cntlid = await admin.connectAdmin({ subnqn: SUBNQN, kato: 10000 })
  return { target, admin, cntlid }
}

t.test('Identify', async (t) => {
  const { admin, cntlid } = await setup(t)
  const ctrl = await admin.identify(Cns.CONTROLLER)
  t.equal(ctrl.cqe.status, 0)
  t.equal(ctrl.data.length, 4096)
  const id = decodeIdentifyController(ctrl.data)
  t.equal(id.cntlid, cntlid, 'CNTLID matches Connect')
  t.equal(id.cmic, 0x0b, 'CMIC multi-port, multi-controller, ANA')
  t.equal(id.oaes >>> 0, 0x900, 'OAES NS attribute + ANA change')
  t.equal(id.ver, 0x00020000)
  t.equal(id.kas, 10)
  t.equal(id.anacap, 0x1f)
  t.equal(id.anatt, 10)
  t.ok(id.anagrpmax >= 1 && id.nanagrpid === id.anagrpmax)
  t.ok(id.mnan > 0 && id.mnan <= id.nn, '0 < MNAN <= NN')
  t.equal(id.sgls >>> 0, 0x00100001, 'SGLS')
  t.equal(id.sqes, 0x66)
  t.equal(id.cqes, 0x44)
  t.ok(id.ioccsz >= 4)
  t.equal(id.iorcsz, 1)
  t.equal(id.icdoff, 0)
  t.equal(id.msdbd, 1)
  t.equal(id.cntrltype, 1)
  t.equal(id.subnqn, SUBNQN)
  t.equal(id.sn, 'TESTSERIAL01')
  t.equal(id.oncs & 0x0c, 0x0c, 'ONCS DSM + Write Zeroes')
  t.equal(id.vwc & 1, 1, 'volatile write cache → host sends Flush')
  t.equal(id.lpa & 0x02, 0x02, 'LPA effects log')
  t.ok(id.maxcmd >= 128)

  const list = await admin.identify(Cns.ACTIVE_NS_LIST, 0)
  t.same(decodeNsidList(list.data), [1, 2], 'active NSID list')
  t.same(decodeNsidList((await admin.identify(Cns.ACTIVE_NS_LIST, 1)).data), [2], 'NSIDs after 1')
  t.equal((await admin.identify(Cns.ACTIVE_NS_LIST, 0xfffffffe)).cqe.status, NvmeStatus.INVALID_NS | STATUS_DNR)
  t.same(decodeNsidList((await admin.identify(Cns.CSI_ACTIVE_NS_LIST, 0)).data), [1, 2], 'CNS 07h CSI 0')

  const ns1 = decodeIdentifyNamespace((await admin.identify(Cns.NAMESPACE, 1)).data)
  t.equal(ns1.nsze, 16384n, '8 MiB / 512')
  t.equal(ns1.ncap, 16384n)
  t.equal(ns1.nmic & 1, 1, 'shared namespace')
  t.equal(ns1.anagrpid, 1)
  t.equal(ns1.lbaf[0]?.lbads, 9)
  const ns2 = decodeIdentifyNamespace((await admin.identify(Cns.NAMESPACE, 2)).data)
  t.equal(ns2.lbaf[0]?.lbads, 12, '4 KiB blocks')
  t.equal(ns2.anagrpid, 2)
  const inactive = decodeIdentifyNamespace((await admin.identify(Cns.NAMESPACE, 9)).data)
  t.equal(inactive.ncap, 0n, 'inactive NSID: zeroes')
  t.equal((await admin.identify(Cns.NAMESPACE, 0xffffffff)).cqe.status, NvmeStatus.INVALID_NS | STATUS_DNR)

  const descs = nsIdentifiersOf(decodeNsIdDescriptors((await admin.identify(Cns.NS_ID_DESC_LIST, 1)).data))
  t.equal(Buffer.from(descs.uuid ?? []).toString('hex'), '11111111222243338444555555555555', 'UUID descriptor')
  t.equal(descs.csi, 0, 'CSI descriptor NVM')
  t.equal((await admin.identify(Cns.NS_ID_DESC_LIST, 9)).cqe.status, NvmeStatus.INVALID_NS | STATUS_DNR)

  const indep = decodeIdentifyNamespaceIndependent((await admin.identify(Cns.CS_INDEP_NAMESPACE, 1)).data)
  t.equal(indep.nstat & 1, 1, 'CNS 08h NSTAT ready')
  t.equal(indep.nmic & 1, 1)
  t.equal(indep.anagrpid, 1)
  t.equal((await admin.identify(Cns.CSI_CONTROLLER, 0, { csi: 0 })).cqe.status, 0, 'CNS 06h CSI NVM')
  t.equal((await admin.identify(Cns.CSI_CONTROLLER, 0, { csi: 2 })).cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, 'CNS 06h CSI ZNS')
  t.equal((await admin.identify(Cns.CSI_NAMESPACE, 1, { csi: 0 })).cqe.status, 0, 'CNS 05h')
  t.equal((await admin.identify(0x15, 0)).cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, 'unsupported CNS')
})

t.test('Get Log Page', async (t) => {
  const { admin, target } = await setup(t)
  // An error to log first.
  const bad = await admin.admin(0xc7)
  t.equal(bad.cqe.status, NvmeStatus.INVALID_OPCODE | STATUS_DNR, 'unknown admin opcode → Invalid Opcode + DNR')
  const err = decodeErrorLog((await admin.getLogPage(LogPageId.ERROR, 4096)).data)
  t.equal(err.length, 1, 'one error entry')
  t.equal(err[0]?.errorCount, 1n)
  t.equal(cqeFieldToStatus(err[0]?.statusField ?? 0), NvmeStatus.INVALID_OPCODE | STATUS_DNR)
  t.equal(err[0]?.cid, bad.cqe.cid)
  t.equal(err[0]?.parameterErrorLocation, 0, 'error location: opcode byte')

  const smart = decodeSmartLog((await admin.getLogPage(LogPageId.SMART, 512)).data)
  t.equal(smart.numErrorLogEntries, 1n, 'SMART counts error log entries')
  t.equal((await admin.getLogPage(LogPageId.FW_SLOT, 512)).data[0], 1, 'FW slot AFI')

  const eff = decodeEffectsLog((await admin.getLogPage(LogPageId.CMD_EFFECTS, 4096, { nsid: 0 })).data)
  t.equal(eff.acs[AdminOpcode.IDENTIFY]! & 1, 1, 'Identify supported')
  t.equal(eff.iocs[0x01]! & 3, 3, 'Write: CSUPP + LBCC')

  const ana = decodeAnaLog((await admin.getLogPage(LogPageId.ANA, 16 + 128 * 32 + 1024 * 4)).data)
  t.equal(ana.groups.length, 2, 'two groups')
  t.same(ana.groups.map((g) => [g.grpid, g.state, g.nsids]), [[1, 1, [1]], [2, 1, [2]]], 'groups, states, NSIDs')
  const rgo = decodeAnaLog((await admin.getLogPage(LogPageId.ANA, 4096, { lsp: 1 })).data, { rgo: true } as never)
  t.same(rgo.groups.map((g) => g.nsids.length), [0, 0], 'RGO: no NSID lists')
  target.setAnaState({ portId: 1, grpid: 2, state: 'inaccessible' })
  const ana2 = decodeAnaLog((await admin.getLogPage(LogPageId.ANA, 4096)).data)
  t.equal(ana2.groups[1]?.state, 3, 'state change visible')
  t.ok(ana2.chgcnt > ana.chgcnt, 'change count bumped')

  // Odd windows: any dword-aligned offset and length, zero-filled past the end.
  const whole = (await admin.getLogPage(LogPageId.ANA, 16 + 2 * 36)).data
  const win = (await admin.getLogPage(LogPageId.ANA, 12, { offset: 8 })).data
  t.same(win, whole.subarray(8, 20), 'window at offset 8')
  const past = await admin.getLogPage(LogPageId.SMART, 8, { offset: 1024 })
  t.same(past.data, Buffer.alloc(8), 'past the end reads zeroes')
  const unaligned = await admin.command((await import('../../lib/nvme/commands.js')).makeGetLogPageSqe({ cid: admin.nextCid(), lid: 2, length: 8 }), { readLength: 8 })
  t.equal(unaligned.cqe.status, 0)
  const badLid = await admin.getLogPage(0x33, 512)
  t.equal(badLid.cqe.status, NvmeStatus.INVALID_LOG_PAGE | STATUS_DNR, 'unknown log page')

  const changed = decodeChangedNsList((await admin.getLogPage(LogPageId.CHANGED_NS, 4096)).data)
  t.equal(changed.overflow, false)
})

t.test('features, keep alive, abort', async (t) => {
  const { admin } = await setup(t)
  const setF = (fid: number, cdw11: number, o: { data?: Buffer } = {}) =>
    admin.admin(AdminOpcode.SET_FEATURES, { cdw10: fid, cdw11 }, o.data !== undefined ? { data: o.data, inCapsule: true } : {})
  const getF = (fid: number, cdw11 = 0, readLength?: number) => admin.admin(AdminOpcode.GET_FEATURES, { cdw10: fid, cdw11 }, readLength !== undefined ? { readLength } : {})

  t.equal((await setF(FeatureId.NUM_QUEUES, (63 << 16) | 63)).cqe.dw0, (7 << 16) | 7, 'Number of Queues clamped to 8')
  t.equal((await getF(FeatureId.NUM_QUEUES)).cqe.dw0, (7 << 16) | 7)
  t.equal((await setF(FeatureId.NUM_QUEUES, 0xffff)).cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, '0xFFFF → Invalid Field')
  t.equal((await setF(FeatureId.ASYNC_EVENT, 0x900)).cqe.status, 0, 'AEC NS + ANA')
  t.equal((await getF(FeatureId.ASYNC_EVENT)).cqe.dw0, 0x900)
  t.equal((await setF(FeatureId.ASYNC_EVENT, 0x80000000)).cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, 'discovery bit on an I/O controller')
  t.equal((await setF(FeatureId.KATO, 15000)).cqe.status, 0, 'Set KATO')
  t.equal((await getF(FeatureId.KATO)).cqe.dw0, 15000)
  const ts = Buffer.alloc(8)
  ts.writeUIntLE(1_700_000_000_000, 0, 6)
  t.equal((await setF(FeatureId.TIMESTAMP, 0, { data: ts })).cqe.status, 0, 'Timestamp tolerated')
  const tsBack = await getF(FeatureId.TIMESTAMP, 0, 8)
  t.ok(tsBack.data.readUIntLE(0, 6) >= 1_700_000_000_000, 'timestamp reads back')
  t.equal((await setF(FeatureId.HOST_BEHAVIOR, 0, { data: Buffer.alloc(512, 1) })).cqe.status, 0, 'Host Behavior tolerated')
  t.equal((await getF(FeatureId.VOLATILE_WC)).cqe.dw0, 1)
  t.equal((await getF(FeatureId.HOST_ID, 1, 16)).data.toString('hex'), '6a2c0a5e3c0f4b8e9a4d1f2e3d4c5b6a', 'host id')
  t.equal((await setF(0x7e, 1)).cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, 'unknown feature')
  t.equal((await admin.admin(AdminOpcode.SET_FEATURES, { cdw10: (FeatureId.KATO | 0x80000000) >>> 0, cdw11: 1000 })).cqe.status, NvmeStatus.FEATURE_NOT_SAVEABLE | STATUS_DNR, 'save not supported')

  t.equal((await admin.admin(AdminOpcode.KEEP_ALIVE)).cqe.status, 0, 'Keep Alive')
  const abort = await admin.admin(AdminOpcode.ABORT, { cdw10: 5 << 16 })
  t.equal(abort.cqe.status, 0)
  t.equal(abort.cqe.dw0 & 1, 1, 'Abort: not aborted')
})

t.test('transfers beyond MDTS are refused before anything is buffered', async (t) => {
  const { admin } = await setup(t)
  const big = await admin.getLogPage(LogPageId.ERROR, 8 << 20)
  t.equal(big.cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, '8 MiB log read → Invalid Field')
  t.equal(big.data.length, 0)
  const id = await admin.identify(Cns.CONTROLLER, 0, { length: 64 << 20 })
  t.equal(id.cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, '64 MiB Identify → Invalid Field')
  t.equal((await admin.identify(Cns.CONTROLLER, 0, { length: 512 })).data.length, 512, 'a short Identify gets the first 512 bytes')
})
