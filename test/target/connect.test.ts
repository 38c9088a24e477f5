/**
 * Connect validation through a real socket (wire spec 3.2): admin/I-O Connect, unknown subsystem,
 * bad host NQN, wrong queue id, bad SQSIZE, wrong CNTLID, RECFMT, Connect on a connected queue,
 * commands before Connect and before CC.EN, properties CAP/VS/CC/CSTS with enable and shutdown.
 */
import t from 'tap'
import { RawHost, HOSTNQN } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN, DISC_NQN } from './helpers/fixture.js'
import { Property, decodeCap } from '../../lib/nvme/fabrics.js'
import { parseConnectInvalidParamDw0 } from '../../lib/nvme/fabrics.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { AdminOpcode, Cns } from '../../lib/nvme/opcodes.js'

t.test('admin Connect, properties, enable, I/O Connect', async (t) => {
  const target = await startTarget(t)
  const port = portOf(target)
  const events: string[] = []
  target.on('controller', (e) => events.push(`${e.type}:${e.state}`))
  const eventNames: string[] = []
  target.on('controller', (e) => eventNames.push(`${e.type}:${e.fromName ?? '-'}:${e.stateName}`))
  const admin = await RawHost.connect({ port })
  t.teardown(() => admin.destroy())
  const c = await admin.connectCmd({ qid: 0, subnqn: SUBNQN, kato: 5000 })
  t.equal(c.cqe.status, 0, 'admin Connect succeeds')
  const cntlid = c.cqe.dw0 & 0xffff
  t.ok(cntlid >= 1 && cntlid < 0xfff0, 'dynamic CNTLID returned in DW0')
  t.equal(c.cqe.dw0 >>> 16, 0, 'AUTHREQ 0')

  const cap = decodeCap(await admin.propertyGet(Property.CAP, 8))
  t.equal(cap.mqes, 1023, 'CAP.MQES')
  t.equal(cap.to, 15, 'CAP.TO')
  t.equal(cap.css & 1, 1, 'CAP.CSS NVM')
  t.equal(cap.mpsmin, 0, 'CAP.MPSMIN 4 KiB')
  t.equal(await admin.propertyGet(Property.VS), 0x00020000n, 'VS 2.0')
  t.equal(await admin.propertyGet(Property.CSTS), 0n, 'CSTS 0 before enable')

  // Commands other than fabrics before CC.EN: Command Sequence Error.
  const early = await admin.identify(Cns.CONTROLLER)
  t.equal(early.cqe.status, NvmeStatus.CMD_SEQ_ERROR | STATUS_DNR, 'Identify before enable → Command Sequence Error')

  await admin.enable()
  t.equal(await admin.propertyGet(Property.CC), 0x00460001n, 'CC reads back')
  t.equal(await admin.propertyGet(Property.CSTS), 1n, 'CSTS.RDY')
  const bad = await admin.command((await import('../../lib/nvme/fabrics.js')).makePropertyGetSqe({ cid: admin.nextCid(), ofst: 0x24, size: 4 }))
  t.equal(bad.cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, 'unsupported property → Invalid Field')

  // Set Features Number of Queues, then I/O queue Connects.
  const nq = await admin.admin(AdminOpcode.SET_FEATURES, { cdw10: 0x07, cdw11: (3 << 16) | 3 })
  t.equal(nq.cqe.status, 0)
  t.equal(nq.cqe.dw0, (3 << 16) | 3, '4 I/O queues granted (0-based)')

  const io = await RawHost.connect({ port })
  t.teardown(() => io.destroy())
  const ioc = await io.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid, sqsize: 127 })
  t.equal(ioc.cqe.status, 0, 'I/O Connect succeeds')
  t.equal(ioc.cqe.dw0 & 0xffff, cntlid, 'I/O Connect returns the CNTLID')
  const again = await io.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid })
  t.equal(again.cqe.status, NvmeStatus.CMD_SEQ_ERROR | STATUS_DNR, 'Connect on a connected queue → Command Sequence Error')

  // Same qid on another connection.
  const dup = await RawHost.connect({ port })
  t.teardown(() => dup.destroy())
  t.equal((await dup.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid })).cqe.status, NvmeStatus.CMD_SEQ_ERROR | STATUS_DNR, 'qid already connected')
  const qidTooBig = await dup.connectCmd({ qid: 5, subnqn: SUBNQN, cntlid })
  t.equal(qidTooBig.cqe.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR, 'qid beyond granted queues → Invalid Parameters')
  t.same(parseConnectInvalidParamDw0(qidTooBig.cqe.dw0), { ipo: 42, iattr: 0 }, 'IPO 42 (QID) in the SQE')
  const sq = await dup.connectCmd({ qid: 2, subnqn: SUBNQN, cntlid, sqsize: 1024 })
  t.equal(sq.cqe.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR, 'SQSIZE > MQES')
  t.same(parseConnectInvalidParamDw0(sq.cqe.dw0), { ipo: 44, iattr: 0 })
  const wrongCtrl = await dup.connectCmd({ qid: 2, subnqn: SUBNQN, cntlid: cntlid + 100 })
  t.equal(wrongCtrl.cqe.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR, 'unknown CNTLID')
  t.same(parseConnectInvalidParamDw0(wrongCtrl.cqe.dw0), { ipo: 16, iattr: 1 }, 'IPO 16 in the data')
  const wrongHost = await dup.connectCmd({ qid: 2, subnqn: SUBNQN, cntlid, hostnqn: 'nqn.2014-08.org.example:other-host' })
  t.equal(wrongHost.cqe.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR, 'I/O Connect from another host NQN')

  const st = target.status()
  const ctrl = st.controllers.find((x) => x.cntlid === cntlid)
  t.ok(ctrl, 'controller in status')
  t.equal(ctrl?.hostnqn, HOSTNQN)
  t.equal(ctrl?.kato, 5000)
  t.equal(ctrl?.state, 'READY', 'state: the upper-case value, unchanged for one release (deprecated)')
  t.equal(ctrl?.stateName, 'ready', 'stateName: the lower-case name beside it (docs/design.md "State names")')
  t.same(ctrl?.queues.map((q) => [q.state, q.stateName]), [['LIVE', 'live'], ['LIVE', 'live']], 'queues carry both spellings too')
  t.same(ctrl?.queues.map((q) => q.qid).sort(), [0, 1], 'admin + I/O queue')
  t.equal(ctrl?.queues.find((q) => q.qid === 1)?.depth, 128)

  // Normal shutdown: SHN=01 → SHST=10.
  await admin.propertySet(Property.CC, 0x00464001)
  let csts = 0n
  // Bounded by a generous deadline, not by 100 x 2 ms (shutdown flushes stores; a loaded machine is slow).
  for (const end = Date.now() + 30_000; Date.now() < end && (csts & 0xcn) !== 0x8n; ) {
    csts = await admin.propertyGet(Property.CSTS)
    await new Promise((r) => setTimeout(r, 2))
  }
  t.equal(csts & 0xcn, 0x8n, 'CSTS.SHST = shutdown complete')
  t.equal(csts & 1n, 0n, 'RDY cleared')
  t.ok(events.includes('created:DISABLED') && events.includes('state:READY') && events.includes('state:SHUTDOWN'), `controller events ${events.join(',')}`)
  t.ok(eventNames.includes('created:-:disabled') && eventNames.includes('state:disabled:ready') && eventNames.includes('state:shutting-down:shutdown'), `controller events carry stateName and fromName: ${eventNames.join(',')}`)
})

t.test('Connect rejections', async (t) => {
  const target = await startTarget(t, {
    subsystems: [{ nqn: SUBNQN, allowAnyHost: false, hosts: [HOSTNQN], namespaces: [{ nsid: 1, size: '1MiB' }] }],
  })
  const port = portOf(target)
  const c = await RawHost.connect({ port })
  t.teardown(() => c.destroy())

  const unknown = await c.connectCmd({ qid: 0, subnqn: 'nqn.2014-08.org.example:nope' })
  t.equal(unknown.cqe.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR, 'unknown subsystem → Invalid Parameters + DNR')
  t.same(parseConnectInvalidParamDw0(unknown.cqe.dw0), { ipo: 256, iattr: 1 }, 'IPO 256 (SUBNQN) in the data')

  const host = await c.connectCmd({ qid: 0, subnqn: SUBNQN, hostnqn: 'nqn.2014-08.org.example:intruder' })
  t.equal(host.cqe.status, NvmeStatus.CONNECT_INVALID_HOST | STATUS_DNR, 'host not allowed → Invalid Host + DNR')
  t.same(parseConnectInvalidParamDw0(host.cqe.dw0), { ipo: 512, iattr: 1 }, 'IPO 512 (HOSTNQN)')

  const fmt = await c.connectCmd({ qid: 0, subnqn: SUBNQN, recfmt: 1 })
  t.equal(fmt.cqe.status, NvmeStatus.CONNECT_FORMAT | STATUS_DNR, 'RECFMT 1 → Incompatible Format')

  const cntl = await c.connectCmd({ qid: 0, subnqn: SUBNQN, cntlid: 5 })
  t.equal(cntl.cqe.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR, 'admin Connect with CNTLID != FFFFh')
  t.same(parseConnectInvalidParamDw0(cntl.cqe.dw0), { ipo: 16, iattr: 1 })

  const sq0 = await c.connectCmd({ qid: 0, subnqn: SUBNQN, sqsize: 0 })
  t.equal(sq0.cqe.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR, 'SQSIZE 0')
  t.same(parseConnectInvalidParamDw0(sq0.cqe.dw0), { ipo: 44, iattr: 0 })

  const ioFirst = await c.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid: 1 })
  t.equal(ioFirst.cqe.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR, 'I/O Connect without a controller')

  // A non-Connect command on an unconnected queue: Invalid Opcode.
  const before = await c.identify(Cns.CONTROLLER)
  t.equal(before.cqe.status, NvmeStatus.INVALID_OPCODE | STATUS_DNR, 'command before Connect → Invalid Opcode')
  const pg = await c.command((await import('../../lib/nvme/fabrics.js')).makePropertyGetSqe({ cid: c.nextCid(), ofst: 0, size: 8 }))
  t.equal(pg.cqe.status, NvmeStatus.INVALID_OPCODE | STATUS_DNR, 'Property Get before Connect → Invalid Opcode')

  t.equal(target.status().controllers.length, 0, 'no controller was created')
  // Still usable: a good Connect on the same connection works.
  t.ok((await c.connectAdmin({ subnqn: SUBNQN })) > 0, 'a valid Connect after the rejections')
  // Discovery on a port with discovery disabled.
  const target2 = await startTarget(t, { ports: [{ id: 7, address: '127.0.0.1', port: 0, discovery: false }] })
  const d = await RawHost.connect({ port: portOf(target2, 7) })
  t.teardown(() => d.destroy())
  t.equal((await d.connectCmd({ qid: 0, subnqn: DISC_NQN })).cqe.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR, 'discovery disabled on the port')
})
