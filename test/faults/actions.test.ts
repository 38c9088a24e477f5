/**
 * One test per built-in fault action, through a real target on 127.0.0.1 and a raw NVMe/TCP host:
 * each shows the action's effect on the wire (status in the CQE, no completion, FIN vs RST,
 * C2HTermReq, corrupted digests, segmented writes, refused Connect, CSTS.CFS, ...).
 */
import t from 'tap'
import { NvmeStatus, STATUS_DNR, STATUS_MORE, STATUS_TABLE } from '../../lib/status.js'
import { PduType } from '../../lib/pdu/common.js'
import { fixture, SUBNQN } from './helpers/fixture.js'
import { ddgstOk, hdgstOk, orUndefined, RawHost } from '../helpers/raw-host.js'

const DATA = Buffer.alloc(4096, 0x5a)

t.test('status: any status with DNR/More/CRD at dispatch, or replacing a completion', async (t) => {
  const f = await fixture(t)
  f.faults.engine.add({ type: 'status', match: { commands: ['read'], lba: { start: 0, end: 7 } }, params: { status: 'ANA_TRANSITION', crd: 1 } })
  f.faults.engine.add({ type: 'status', match: { commands: ['read'], lba: { start: 8, end: 15 } }, params: { sct: 3, sc: 0x70, dnr: true, more: true } })
  f.faults.engine.add({ type: 'status', at: 'completion', match: { commands: ['write'] }, params: { status: 'INTERNAL_PATH_ERROR' } })
  const { host } = await f.io()
  t.equal((await host.read(1, 0n, 8))?.cqe.status, NvmeStatus.ANA_TRANSITION | (1 << 11), 'SCT 3h SC 03h, CRD 1')
  t.equal((await host.read(1, 8n, 8))?.cqe.status, 0x370 | STATUS_DNR | STATUS_MORE, 'Host Pathing Error with DNR and More')
  t.equal((await host.read(1, 16n, 8))?.cqe.status, 0, 'other LBAs pass')
  const w = await host.write(1, 64n, DATA)
  t.equal(w?.cqe.status, NvmeStatus.INTERNAL_PATH_ERROR, 'completion status replaced')
  const back = await f.target.readNamespace(SUBNQN, 1, 64 * 512, DATA.length)
  t.same(back, DATA, 'the write itself was executed (only its status was replaced)')
})

t.test('status: every path-related (SCT 3h) code reaches the host', async (t) => {
  const f = await fixture(t)
  const { host } = await f.io()
  const path = STATUS_TABLE.filter((e) => e.sct === 3)
  t.ok(path.length >= 6, `${path.length} SCT 3h codes`)
  for (const e of path) {
    const id = f.faults.engine.add({ type: 'status', match: { commands: ['read'] }, params: { status: e.key } })
    t.equal((await host.read(1, 0n, 1))?.cqe.status, e.value, `${e.key} (0x${e.value.toString(16)})`)
    f.faults.engine.remove(id)
  }
})

t.test('delay: command delayed, then completed; trace records the delay', async (t) => {
  const f = await fixture(t)
  f.faults.engine.add({ id: 'd', type: 'delay', match: { commands: ['read'] }, params: { delay: { minMs: 50, maxMs: 80 } } })
  f.faults.engine.add({ id: 'p', type: 'delay', at: 'pdu-send', match: { pduTypes: ['c2h-data'] }, params: { delay: { p50Ms: 5, p99Ms: 20 } } })
  const { host } = await f.io()
  const r = await host.read(1, 0n, 8)
  t.equal(r?.cqe.status, 0)
  t.equal(r?.data.length, 4096)
  const ev = f.faults.engine.trace.events.filter((e) => e.kind === 'fault' && e.action === 'delay')
  t.equal(ev.length, 2)
  const ms = Number(/^([\d.]+) ms$/.exec(ev[0]!.detail ?? '')?.[1])
  t.ok(ms >= 50 && ms <= 80, `uniform delay in range (${ms})`)
  t.equal(ev[1]!.seam, 'pdu-send')
})

t.test('drop: the command is never completed; the queue keeps working', async (t) => {
  const f = await fixture(t)
  f.faults.engine.add({ type: 'drop', match: { commands: ['read'] }, schedule: { oneShot: true } })
  const { host } = await f.io()
  t.equal(await orUndefined(host.read(1, 0n, 8, 512, 300)), undefined, 'no completion for the dropped read')
  t.equal((await host.read(1, 0n, 8))?.cqe.status, 0, 'the next read completes')
})

t.test('stall: the queue stops for a while, then every command completes in order', async (t) => {
  const f = await fixture(t)
  f.faults.engine.add({ type: 'stall', match: { commands: ['read'] }, schedule: { oneShot: true }, params: { delay: { ms: 150 } } })
  const { host } = await f.io()
  const [a, b] = await Promise.all([host.read(1, 0n, 8), host.read(1, 8n, 8)])
  t.equal(a?.cqe.status, 0)
  t.equal(b?.cqe.status, 0)
  t.match(f.faults.engine.trace.events.find((e) => e.action === 'stall'), { seam: 'command', qid: 1, detail: '150 ms' })
})

t.test('close (FIN) on a command; reset (RST) on a command; close mid data transfer', async (t) => {
  const f = await fixture(t)
  f.faults.engine.add({ type: 'close', match: { commands: ['flush'] } })
  f.faults.engine.add({ type: 'reset', match: { commands: ['read'], lba: { start: 100, end: 100 } } })
  // Mid-transfer: after the first H2CData PDU of a write arrives.
  f.faults.engine.add({ type: 'close', at: 'pdu-received', match: { pduTypes: ['h2c-data'] } })
  const a = await f.io()
  a.host.sendCapsule({ ...(await import('../../lib/nvme/sqe.js')).makeSqe({ opc: 0x00, cid: 77, nsid: 1 }) })
  t.same(await a.host.closed, { how: 'fin' }, 'FIN')
  const b = await f.io()
  void orUndefined(b.host.read(1, 100n, 1))
  t.equal((await b.host.closed).how, 'reset', 'RST')
  const c = await f.io()
  const w = await orUndefined(c.host.write(1, 0n, Buffer.alloc(64 * 1024, 1)))
  t.equal(w, undefined, 'the write never completes')
  t.equal((await c.host.closed).how, 'fin', 'closed in the middle of the data transfer')
  t.ok(c.host.received.some((p) => p.type === PduType.R2T), 'the target had asked for the data (R2T)')
})

t.test('term-req: C2HTermReq with the chosen FES and FEI, then close', async (t) => {
  const f = await fixture(t)
  f.faults.engine.add({ type: 'term-req', match: { commands: ['read'] }, params: { fes: 2, fei: 0 } })
  const { host } = await f.io()
  void orUndefined(host.read(1, 0n, 8))
  const term = await host.waitForPdu((p) => p.type === PduType.C2H_TERM_REQ)
  t.ok(term, 'C2HTermReq received')
  t.equal(term?.raw.readUInt16LE(8), 2, 'FES 2 (PDU Sequence Error)')
  t.equal(term?.raw.readUInt32LE(10), 0, 'FEI')
  await host.closed
  t.ok(host.isClosed)
})

t.test('corrupt: header digest, data digest, silent data corruption', async (t) => {
  const f = await fixture(t)
  const { host } = await f.io({ hdgst: true, ddgst: true })
  f.faults.engine.add({ type: 'corrupt', match: { pduTypes: ['capsule-resp'], qids: [1] }, schedule: { oneShot: true }, params: { what: 'hdgst' } })
  f.faults.engine.add({ type: 'corrupt', match: { pduTypes: ['c2h-data'] }, schedule: { oneShot: true }, params: { what: 'ddgst' } })
  // Asked only when the fault above passes (the first decision wins), so it sees the second C2HData first.
  f.faults.engine.add({ type: 'corrupt', match: { pduTypes: ['c2h-data'] }, schedule: { oneShot: true }, params: { what: 'data', offset: 10, xor: 0x0f, fixDigest: true } })
  t.ok(host.hdgst && host.ddgst, 'digests negotiated')
  const w = await host.write(1, 0n, DATA)
  t.ok(w !== undefined && !hdgstOk(w.pdus[w.pdus.length - 1]!), 'CapsuleResp header digest is wrong')
  const r1 = await host.read(1, 0n, 8)
  t.notOk(ddgstOk(r1!.pdus.find((p) => p.type === PduType.C2H_DATA)!), 'C2HData data digest is wrong')
  t.same(r1!.data, DATA, 'data itself intact')
  const r2 = await host.read(1, 0n, 8)
  const c2h = r2!.pdus.find((p) => p.type === PduType.C2H_DATA)!
  t.ok(ddgstOk(c2h) && hdgstOk(c2h), 'digests consistent (silent corruption)')
  t.equal(r2!.data[10], 0x5a ^ 0x0f, 'byte 10 corrupted')
  t.equal(Buffer.compare(r2!.data.subarray(11), DATA.subarray(11)), 0, 'the rest intact')
})

t.test('segment: a PDU written in small pieces still decodes', async (t) => {
  const f = await fixture(t)
  const { host } = await f.io()
  f.faults.engine.add({ type: 'segment', match: { pduTypes: ['capsule-resp'], qids: [1] }, schedule: { oneShot: true }, params: { size: 5, gapMs: 30 } })
  const before = host.chunkSizes.length
  const w = await host.write(1, 0n, DATA, { inCapsule: true })
  t.equal(w?.cqe.status, 0, 'the completion arrives whole')
  const chunks = host.chunkSizes.slice(before)
  t.ok(chunks.length >= 3, `arrived in ${chunks.length} reads (${chunks.join(',')})`)
  t.match(f.faults.engine.trace.events.find((e) => e.action === 'segment'), { detail: '5 segments gap 30 ms' })
})

t.test('coalesce: the C2HData of a read go out in one write with its CapsuleResp', async (t) => {
  const f = await fixture(t)
  const { host } = await f.io()
  await host.write(1, 0n, Buffer.alloc(32768, 0x33))
  f.faults.engine.add({ type: 'coalesce', match: { qids: [1] } })
  // Faults are asked in order: coalesce passes the CapsuleResp, which this one then delays — a gap
  // that the held C2HData would show if it had been written on its own.
  f.faults.engine.add({ type: 'delay', at: 'pdu-send', match: { pduTypes: ['capsule-resp'], qids: [1] }, params: { delay: { ms: 60 } } })
  const before = host.chunkSizes.length
  const r = await host.read(1, 0n, 64)
  t.equal(r?.cqe.status, 0)
  t.same(r?.data, Buffer.alloc(32768, 0x33), 'data intact')
  const onWire = r!.pdus.reduce((n, p) => n + p.plen, 0)
  t.ok(r!.pdus.some((p) => p.type === PduType.C2H_DATA) && r!.pdus.some((p) => p.type === PduType.CAPSULE_RESP), 'C2HData then CapsuleResp')
  t.same(host.chunkSizes.slice(before), [onWire], `one read of all ${r!.pdus.length} PDUs (${onWire} bytes)`)
  const holds = f.faults.engine.trace.events.filter((e) => e.action === 'hold')
  t.equal(holds.length, r!.pdus.filter((p) => p.type === PduType.C2H_DATA).length, 'every C2HData was held by the target (hold decision)')
  t.ok(holds.every((e) => e.faultType === 'coalesce' && e.seam === 'pdu-send' && e.cid === r!.cqe.cid), 'traced as coalesce holds of this read')
})

t.test('corrupt at pdu-received: the target handles the corrupted bytes as sent by the host', async (t) => {
  const f = await fixture(t)
  const { host } = await f.io({ hdgst: true, ddgst: true })
  // Data digest of an H2CData: that write fails with Transient Transport Error, the queue lives on.
  f.faults.engine.add({ type: 'corrupt', at: 'pdu-received', match: { pduTypes: ['h2c-data'] }, schedule: { oneShot: true }, params: { what: 'ddgst' } })
  t.equal((await host.write(1, 0n, DATA)).cqe.status, NvmeStatus.TRANSIENT_TR_ERR, 'bad DDGST: Transient Transport Error (22h)')
  t.equal((await host.write(1, 0n, DATA)).cqe.status, 0, 'the next write succeeds')
  // Silent data corruption on the way in: digest fixed, the namespace holds the corrupted byte.
  f.faults.engine.add({ type: 'corrupt', at: 'pdu-received', match: { pduTypes: ['h2c-data'] }, schedule: { oneShot: true }, params: { what: 'data', offset: 7, xor: 0x0f, fixDigest: true } })
  t.equal((await host.write(1, 16n, DATA)).cqe.status, 0, 'a consistent digest: the write succeeds')
  const back = await f.target.readNamespace(SUBNQN, 1, 16 * 512, DATA.length)
  t.equal(back[7], 0x5a ^ 0x0f, 'byte 7 corrupted in the namespace')
  t.equal(Buffer.compare(back.subarray(8), DATA.subarray(8)), 0, 'the rest intact')
  const ev = f.faults.engine.trace.events.filter((e) => e.faultType === 'corrupt' && e.action !== 'installed')
  t.same(ev.map((e) => [e.seam, e.action]), [['pdu-received', 'mutate'], ['pdu-received', 'mutate']], 'traced as mutate at pdu-received')
  // Header digest of a command capsule: transport-fatal, C2HTermReq FES 03h, then close.
  f.faults.engine.add({ type: 'corrupt', at: 'pdu-received', match: { pduTypes: ['capsule-cmd'], qids: [1] }, params: { what: 'hdgst' } })
  t.equal(await orUndefined(host.read(1, 0n, 8)), undefined, 'no completion')
  await host.closed
  t.same(host.termReqs.map((x) => x.fes), [0x03], 'C2HTermReq FES 03h (Header Digest Error)')
})

t.test('bandwidth: a token bucket delays PDUs in proportion to their size', async (t) => {
  const f = await fixture(t)
  f.faults.engine.add({ type: 'bandwidth', at: 'pdu-send', match: { qids: [1] }, params: { bytesPerSecond: 1024 * 1024 } })
  const { host } = await f.io()
  for (let i = 0; i < 4; i++) t.equal((await host.read(1, BigInt(i * 64), 64))?.data.length, 32768)
  const delays = f.faults.engine.trace.events.filter((e) => e.action === 'delay').map((e) => Number.parseFloat(e.detail ?? '0'))
  t.ok(delays.length >= 1, 'some PDUs had to wait')
  t.ok(delays.every((d) => d <= 33), `no PDU waited more than its own size at 1 MiB/s (${delays.map((d) => d.toFixed(1)).join(',')})`)
})

t.test('refuse-connect: busy, invalid host, invalid parameters', async (t) => {
  const f = await fixture(t)
  // Faults are asked in order and the first decision wins, so each one-shot fault sees the
  // Connects that come after the previous one is used up.
  f.faults.engine.add({ type: 'refuse-connect', match: { qids: [0] }, schedule: { times: 1 }, params: { reason: 'busy' } })
  f.faults.engine.add({ type: 'refuse-connect', match: { qids: [0] }, schedule: { times: 1 }, params: { reason: 'invalid-host' } })
  f.faults.engine.add({ type: 'refuse-connect', match: { qids: [0] }, schedule: { times: 1 }, params: { reason: 'invalid-param', iattr: 1, ipo: 512 } })
  const connect = async () => {
    const h = await RawHost.connect({ port: f.port })
    t.teardown(() => h.destroy())
    return (await h.connectCmd({ qid: 0, subnqn: SUBNQN })).cqe
  }
  t.equal((await connect()).status, NvmeStatus.CONNECT_CTRL_BUSY)
  t.equal((await connect()).status, NvmeStatus.CONNECT_INVALID_HOST | STATUS_DNR)
  const c = await connect()
  t.equal(c.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR)
  t.equal(c.dw0, (1 << 16) | 512, 'IATTR 1 (data), IPO 512 (HOSTNQN)')
  t.equal((await connect()).status, 0, 'the fourth Connect succeeds')
})

t.test('controller-fatal: CSTS.CFS set on the matching command’s controller, which is then torn down', async (t) => {
  const f = await fixture(t)
  const { host, cntlid } = await f.admin()
  f.faults.engine.add({ type: 'controller-fatal', match: { commands: ['identify'] }, schedule: { oneShot: true } })
  // As nvmet_ctrl_fatal_error: CSTS.CFS, then the controller's connections close; the host resets.
  void orUndefined(host.admin(0x06, { cdw10: 1 }, { readLength: 4096 }))
  const closed = await host.closed
  t.ok(closed.how === 'fin' || closed.how === 'reset', `admin queue closed (${closed.how})`)
  const ev = f.faults.engine.trace.events
  t.match(ev.find((e) => e.action === 'controller-fatal'), { kind: 'state', cntlid })
  t.ok(ev.some((e) => e.action === 'controller-state' && e.cntlid === cntlid && /-> FATAL/.test(e.detail ?? '')), 'the controller went FATAL (CSTS.CFS)')
  t.ok(ev.some((e) => e.action === 'controller-state' && e.cntlid === cntlid && /-> FATAL \(ready -> fatal\)/.test(e.detail ?? '')), 'the trace gives the lower-case state names too')
})

t.test('force-reconnect: the controller is deleted and its connections close', async (t) => {
  const f = await fixture(t)
  const { admin, host } = await f.io()
  f.faults.engine.add({ type: 'force-reconnect', match: { commands: ['read'] }, schedule: { oneShot: true } })
  void orUndefined(host.read(1, 0n, 8))
  const [a, b] = await Promise.all([admin.closed, host.closed])
  t.ok(a.how === 'fin' || a.how === 'reset', `admin queue closed (${a.how})`)
  t.ok(b.how === 'fin' || b.how === 'reset', `I/O queue closed (${b.how})`)
  t.equal(f.target.status().controllers.filter((c) => !c.discovery).length, 0, 'no controller left')
})

t.test('drop and delay at the connection seam', async (t) => {
  const f = await fixture(t)
  f.faults.engine.add({ type: 'close', at: 'connection', schedule: { oneShot: true } })
  const h = await RawHost.connect({ port: f.port, noIcReq: true })
  t.teardown(() => h.destroy())
  t.equal((await h.closed).how, 'fin', 'first connection closed at accept')
  const { cntlid } = await f.admin()
  t.ok(cntlid > 0, 'the next connection works')
})
