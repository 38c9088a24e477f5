/**
 * The initiator against a hostile target (issue 11 findings): every bring-up step has a deadline and
 * a timeout fails the bring-up; every failure path closes every socket it opened; the admin
 * Connect's own status is reported (with IPO/IATTR); the namespace scan is bounded by NN and by the
 * NSIDs already seen; an H2CTermReq reaches the target before the close.
 */
import t, { type Test } from 'tap'
import { NvmeHost } from '../../initiator/host.js'
import { ConnectRejectedError } from '../../initiator/connect-error.js'
import { ConnectionError, TimeoutError } from '../../lib/errors.js'
import { Cns, FabricsType, AdminOpcode } from '../../lib/nvme/opcodes.js'
import { Property, makeConnectInvalidParamDw0, CONNECT_DATA_SUBNQN } from '../../lib/nvme/fabrics.js'
import { identifyFields } from '../../lib/nvme/commands.js'
import { NvmeStatus } from '../../lib/status.js'
import { FES } from '../../lib/errors.js'
import { PduType, encodePdu } from '../../lib/pdu/index.js'
import { RawTarget, type FakeCommand, type FakeReply } from '../helpers/raw-target.js'
import { waitFor, withTimeout } from '../helpers/raw-host.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:hostile'
/** Short command deadlines; the waits below are 30x longer so a loaded machine still passes. */
const FAST = { adminTimeoutMs: 300, ioTimeoutMs: 300, connectTimeoutMs: 2000, reconnectDelayMs: 0, ctrlLossTmoMs: 0 }

function newHost(): NvmeHost {
  return new NvmeHost({ controllerDefaults: FAST })
}

async function hostile(t: Test, onCommand: (c: FakeCommand) => FakeReply | undefined, extra: { nn?: number; namespaces?: number } = {}): Promise<RawTarget> {
  const target = await RawTarget.listen({ onCommand, ...extra })
  t.teardown(() => target.close())
  return target
}

const isProp = (c: FakeCommand, fctype: number, ofst: number): boolean => c.fctype === fctype && (c.sqe.cdw11 & 0xff) === ofst
const steps: [string, (c: FakeCommand) => boolean][] = [
  ['admin Connect', (c) => c.fctype === FabricsType.CONNECT && c.qid === 0],
  ['Property Get CAP', (c) => isProp(c, FabricsType.PROPERTY_GET, Property.CAP)],
  ['Property Set CC', (c) => isProp(c, FabricsType.PROPERTY_SET, Property.CC)],
  ['Property Get CSTS', (c) => isProp(c, FabricsType.PROPERTY_GET, Property.CSTS)],
  ['Identify Controller', (c) => c.qid === 0 && c.sqe.opc === AdminOpcode.IDENTIFY && identifyFields(c.sqe).cns === Cns.CONTROLLER],
  ['Set Features Number of Queues', (c) => c.qid === 0 && c.sqe.opc === AdminOpcode.SET_FEATURES],
  ['I/O queue Connect', (c) => c.fctype === FabricsType.CONNECT && c.qid > 0],
]

for (const [name, match] of steps) {
  t.test(`an unanswered ${name} fails connect() with a timeout and closes every socket`, async (t) => {
    const target = await hostile(t, (c) => (match(c) ? { kind: 'drop' } : undefined))
    const host = newHost()
    t.teardown(() => host.close())
    const err = await withTimeout(host.connect({ traddr: '127.0.0.1', trsvcid: target.port, subnqn: SUBNQN }), 10_000, 'connect() to settle').catch((e: unknown) => e)
    t.type(err, TimeoutError, `${String(err)}`)
    await waitFor(() => target.openConnections === 0, 'every socket closed', 10_000)
    t.ok(target.connections.length >= 1)
  })
}

t.test('discover() fails with a timeout when Identify is never answered', async (t) => {
  const target = await hostile(t, (c) => (c.sqe.opc === AdminOpcode.IDENTIFY ? { kind: 'drop' } : undefined))
  const host = newHost()
  t.teardown(() => host.close())
  const err = await withTimeout(host.discover({ traddr: '127.0.0.1', trsvcid: target.port }), 10_000, 'discover() to settle').catch((e: unknown) => e)
  t.type(err, TimeoutError)
  await waitFor(() => target.openConnections === 0, 'every socket closed', 10_000)
})

t.test('a refused I/O queue Connect rejects and closes the admin and I/O sockets', async (t) => {
  const target = await hostile(t, (c) => (c.fctype === FabricsType.CONNECT && c.qid === 2 ? { kind: 'complete', status: NvmeStatus.CONNECT_INVALID_PARAM | 0x4000, dw0: makeConnectInvalidParamDw0({ ipo: 44 }) } : undefined))
  const host = new NvmeHost({ controllerDefaults: { ...FAST, nrIoQueues: 3 } })
  t.teardown(() => host.close())
  const err = await withTimeout(host.connect({ traddr: '127.0.0.1', trsvcid: target.port, subnqn: SUBNQN }), 10_000, 'connect()').catch((e: unknown) => e)
  t.type(err, ConnectRejectedError)
  t.equal((err as ConnectRejectedError).qid, 2)
  t.match((err as Error).message, /I\/O queue Connect refused, Connect Invalid Parameters: SQSIZE at byte 44 of the Connect command/)
  await waitFor(() => target.openConnections === 0, 'admin + 2 I/O sockets closed', 10_000)
  t.equal(target.connections.length, 3, 'admin, I/O queue 1, I/O queue 2')
})

t.test("the admin Connect's own status is reported, not the next command's", async (t) => {
  for (const status of [NvmeStatus.CONNECT_INVALID_HOST, NvmeStatus.CONNECT_CTRL_BUSY]) {
    const target = await hostile(t, (c) => (c.fctype === FabricsType.CONNECT ? { kind: 'complete', status: status | 0x4000 } : undefined))
    const host = newHost()
    const err = await withTimeout(host.connect({ traddr: '127.0.0.1', trsvcid: target.port, subnqn: SUBNQN }), 10_000, 'connect()').catch((e: unknown) => e)
    await host.close()
    t.type(err, ConnectRejectedError)
    t.equal((err as ConnectRejectedError).status & 0x7ff, status)
    t.equal((err as ConnectRejectedError).qid, 0)
    t.notMatch((err as Error).message, /Invalid Command Opcode/)
    // Nothing after the refused Connect: no Property Get went out.
    t.notOk(target.connections.some((c) => c.received.filter((p) => p.type === PduType.CAPSULE_CMD).length > 1), 'no command after the Connect')
  }
  const target = await hostile(t, (c) =>
    c.fctype === FabricsType.CONNECT ? { kind: 'complete', status: NvmeStatus.CONNECT_INVALID_PARAM | 0x4000, dw0: makeConnectInvalidParamDw0({ ipo: CONNECT_DATA_SUBNQN, inData: true }) } : undefined,
  )
  const host = newHost()
  t.teardown(() => host.close())
  const err = (await host.connect({ traddr: '127.0.0.1', trsvcid: target.port, subnqn: SUBNQN }).catch((e: unknown) => e)) as ConnectRejectedError
  t.type(err, ConnectRejectedError)
  t.same(err.invalidParameter, { ipo: 256, iattr: 1, in: 'data', field: 'SUBNQN' })
  t.match(err.message, /admin queue Connect refused, Connect Invalid Parameters: SUBNQN at byte 256 of the Connect data \(IATTR 0x1\)/)
})

t.test('a target answering every Active NS ID list with a full page: the scan stops at NN', async (t) => {
  let lists = 0
  const fullPage = Buffer.alloc(4096)
  for (let i = 0; i < 1024; i++) fullPage.writeUInt32LE(i + 1, i * 4)
  const target = await hostile(
    t,
    (c) => {
      if (c.qid !== 0 || c.sqe.opc !== AdminOpcode.IDENTIFY || identifyFields(c.sqe).cns !== Cns.ACTIVE_NS_LIST) return undefined
      // Bounded here too, so an unfixed host fails the count rather than eating the machine.
      return ++lists > 50 ? { kind: 'drop' } : { kind: 'complete', data: fullPage }
    },
    { nn: 2, namespaces: 2 },
  )
  const host = newHost()
  t.teardown(() => host.close())
  await withTimeout(host.connect({ traddr: '127.0.0.1', trsvcid: target.port, subnqn: SUBNQN }), 10_000, 'connect()')
  t.equal(lists, 1, 'one page: NN = 2 ends the walk')
  t.same(host.devices().map((d) => d.info.nsid).sort(), [1, 2])

  // NN large, every page the same NSIDs: the second page goes backwards and ends the walk.
  let lists2 = 0
  const target2 = await hostile(
    t,
    (c) => {
      if (c.qid !== 0 || c.sqe.opc !== AdminOpcode.IDENTIFY || identifyFields(c.sqe).cns !== Cns.ACTIVE_NS_LIST) return undefined
      return ++lists2 > 50 ? { kind: 'drop' } : { kind: 'complete', data: fullPage }
    },
    { nn: 100_000, namespaces: 1 },
  )
  const host2 = newHost()
  t.teardown(() => host2.close())
  await withTimeout(host2.connect({ traddr: '127.0.0.1', trsvcid: target2.port, subnqn: SUBNQN }), 20_000, 'connect()')
  t.equal(lists2, 2, 'the repeated page is seen once more, then the walk stops')
})

t.test('an H2CTermReq reaches the target before the host closes', async (t) => {
  // Answer the admin Connect with C2HData for a CID the host never used: a PDU Sequence Error.
  const bogus = encodePdu({ type: PduType.C2H_DATA, cccid: 0x777, datao: 0, last: true, success: false, data: Buffer.alloc(8) })
  const target = await hostile(t, (c) => (c.fctype === FabricsType.CONNECT ? { kind: 'raw', bytes: bogus } : undefined))
  const host = newHost()
  t.teardown(() => host.close())
  const err = await withTimeout(host.connect({ traddr: '127.0.0.1', trsvcid: target.port, subnqn: SUBNQN }), 10_000, 'connect()').catch((e: unknown) => e)
  t.type(err, ConnectionError)
  const conn = target.connections[0]!
  await withTimeout(conn.closed, 10_000, 'host to close')
  t.same(conn.termReqs, [{ fes: FES.PDU_SEQUENCE_ERROR, fei: 8 }], 'H2CTermReq with FES and FEI arrived')
})

t.test('an I/O queue that dies right after its Connect succeeded fails the bring-up (fuzz case seed 11 #1010)', async (t) => {
  // A valid Connect response followed by bytes that are no PDU: the queue dies before the
  // controller is live. Going live anyway left I/O retrying into a dead queue for ever.
  const target = await hostile(t, (c) =>
    c.fctype === FabricsType.CONNECT && c.qid === 1 ? { kind: 'raw', bytes: Buffer.concat([...c.conn.encodeCompletion(c.sqe.cid, { dw0: 1 }), Buffer.alloc(24, 0xa2)]) } : undefined,
  )
  const host = newHost()
  t.teardown(() => host.close())
  const err = await withTimeout(host.connect({ traddr: '127.0.0.1', trsvcid: target.port, subnqn: SUBNQN }), 10_000, 'connect()').catch((e: unknown) => e)
  t.type(err, ConnectionError, String(err))
  await waitFor(() => target.openConnections === 0, 'every socket closed', 10_000)
  t.same(target.connections[1]?.termReqs, [{ fes: FES.INVALID_HEADER_FIELD, fei: 0 }], 'the I/O queue sent its H2CTermReq')
})
