/**
 * Regression tests of the target findings of issue 11 (a hostile host over real loopback sockets):
 * receive backpressure with an R2T outstanding, SQ overflow, KATO of 2^31 ms or more, Connect
 * after ICReq and partial PDUs that never finish. Time limits run on a ManualClock, so nothing here
 * depends on how fast a loaded machine is.
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { RawHost, waitFor, withTimeout } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN } from './helpers/fixture.js'
import { ManualClock } from '../../lib/clock.js'
import { FES } from '../../lib/errors.js'
import { PduType } from '../../lib/pdu/index.js'
import { encodeSqe, makeSqe, rwDwords } from '../../lib/nvme/sqe.js'
import { sglTransportDataBlock } from '../../lib/nvme/sgl.js'
import { AdminOpcode, FeatureId, IoOpcode } from '../../lib/nvme/opcodes.js'
import type { ConnectionStats, TargetHandle } from '../../target/index.js'

/** Generous bound for positive waits (a loaded 2-core machine); never a "nothing happened" window. */
const WAIT = 30_000

const ioPair = (t: Test, target: TargetHandle, sqsize: number) => RawHost.ioPair({ port: portOf(target), subnqn: SUBNQN, sqsize, teardown: (fn) => t.teardown(fn) })

/** A write whose data must come by R2T; the host never answers it. */
function unansweredWrite(io: RawHost, slba: bigint, bytes: number): number {
  const cid = io.nextCid()
  io.sendCapsule(makeSqe({ opc: IoOpcode.WRITE, cid, nsid: 1, ...rwDwords({ slba, nlb: bytes / 512 - 1 }), sgl: sglTransportDataBlock(bytes) }))
  return cid
}

/** The target's per-connection receive state (empty where the target cannot report it). */
function connectionStats(target: TargetHandle): ConnectionStats[] {
  return target.connectionStats?.() ?? []
}

function r2tCount(io: RawHost): number {
  return io.received.filter((p) => p.type === PduType.R2T).length
}

t.test('Reads flooded behind an unanswered R2T by a host that does not read: the target stays within its budget', async (t) => {
  const budget = 4 << 20 // the default limits.maxBufferedBytes
  // A file store reads asynchronously: every Read of a burst is parsed before the first completes,
  // so only the budget (not the socket's write side) stands between them and their buffers.
  const dir = t.testdir({})
  const target = await startTarget(t, {
    subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '8MiB', store: { type: 'file', path: join(dir, 'ns1.img') } }] }],
  })
  const { io } = await ioPair(t, target, 63)
  unansweredWrite(io, 0n, 4096)
  await waitFor(() => r2tCount(io) === 1, 'R2T', WAIT)
  // The host stops reading its socket, then floods 1 MiB Reads (72 bytes each on the wire).
  io.socket.pause()
  const before = process.memoryUsage().arrayBuffers
  const mib = 1 << 20
  const cids: number[] = []
  for (let i = 0; i < 62; i++) {
    const sqe = makeSqe({ opc: IoOpcode.READ, cid: io.nextCid(), nsid: 1, ...rwDwords({ slba: 0n, nlb: mib / 512 - 1 }), sgl: sglTransportDataBlock(mib) })
    cids.push(sqe.cid)
    io.post(sqe)
  }
  const stats = () => connectionStats(target).find((c) => c.inflight > 0 && c.r2t === 1)
  // Either the target parks Reads for lack of room (fixed) or it builds them all (the finding).
  await waitFor(() => (stats()?.waiting ?? 0) > 0 || process.memoryUsage().arrayBuffers - before > 48 * mib, 'reads parked or memory grown', WAIT)
  const grown = process.memoryUsage().arrayBuffers - before
  const s = stats()
  t.ok(grown < 32 * mib, `read data held stays bounded (grew ${(grown / mib).toFixed(1)} MiB for 62 MiB of Reads)`)
  t.ok(s !== undefined && s.heldBytes <= budget, `bytes reserved within limits.maxBufferedBytes (${s?.heldBytes})`)
  t.ok((s?.waiting ?? 0) > 0, 'the remaining Reads wait for room')
  await waitFor(() => stats()?.paused === true, 'reading paused', WAIT)
  t.pass('reading is paused although an R2T is outstanding (the host does not read)')
  // Once the host reads again every Read completes.
  const done = Promise.all(cids.map((cid) => io.wait(cid, WAIT)))
  io.socket.resume()
  const all = await done
  t.ok(all.every((c) => c.cqe.status === 0 && c.data.length === mib), 'all 62 Reads complete with their data')
})

t.test('a capsule beyond SQSIZE+1 while R2Ts are outstanding is a PDU sequence error', async (t) => {
  const target = await startTarget(t)
  const { io } = await ioPair(t, target, 3)
  for (let i = 0; i < 4; i++) unansweredWrite(io, BigInt(i * 8), 4096)
  await waitFor(() => r2tCount(io) === 4, '4 R2Ts', WAIT)
  unansweredWrite(io, 64n, 4096)
  await io.waitForPdu((p) => p.type === PduType.C2H_TERM_REQ || p.type === PduType.R2T, WAIT, io.received.length)
  t.equal(r2tCount(io), 4, 'no R2T (no buffer) for the fifth command of a 4-entry queue')
  t.equal(io.termReqs[0]?.fes, FES.PDU_SEQUENCE_ERROR, 'C2HTermReq FES 02h (PDU Sequence Error)')
  await withTimeout(io.closed, WAIT, 'close')
  t.pass('connection closed')
})

t.test('outstanding R2Ts are bounded by limits.maxR2T; the next write waits for a slot', async (t) => {
  const target = await startTarget(t, { limits: { maxR2T: 2 } })
  const { io } = await ioPair(t, target, 15)
  const w1 = io.write(1, 0n, Buffer.alloc(4096, 1), { timeoutMs: WAIT })
  unansweredWrite(io, 16n, 4096)
  unansweredWrite(io, 32n, 4096)
  // w1 is answered as soon as its R2T comes; then the two unanswered writes hold both slots.
  t.equal((await w1).cqe.status, 0)
  await waitFor(() => r2tCount(io) === 3, 'R2Ts for the two unanswered writes', WAIT)
  const w4 = io.write(1, 48n, Buffer.alloc(4096, 4), { timeoutMs: WAIT })
  await waitFor(() => connectionStats(target).some((c) => c.waiting === 1 && c.r2t === 2), 'fourth write waiting for an R2T slot', WAIT)
  t.equal(r2tCount(io), 3, 'no R2T beyond the limit')
  io.destroy()
  await t.rejects(w4, 'the waiting write ends with its connection')
})

t.test('KATO of 2^31 ms or more: clamped to limits.kato.maxMs, no timer overflow', async (t) => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => {
    warnings.push(w.name)
  }
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  const target = await startTarget(t)
  const h = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => h.destroy())
  await h.connectAdmin({ subnqn: SUBNQN, kato: 0xffffffff })
  const kato = async (): Promise<number> => (await h.admin(AdminOpcode.GET_FEATURES, { cdw10: FeatureId.KATO })).cqe.dw0 >>> 0
  t.equal(await kato(), 3_600_000, 'Connect KATO 0xFFFFFFFF → 1 h (the default limits.kato.maxMs)')
  t.equal((await h.admin(AdminOpcode.SET_FEATURES, { cdw10: FeatureId.KATO, cdw11: 2 ** 31 })).cqe.status, 0)
  t.equal(await kato(), 3_600_000, 'Set Features KATO 2^31 → 1 h')
  await new Promise((r) => setImmediate(r))
  t.same(warnings.filter((w) => w === 'TimeoutOverflowWarning'), [], 'no Node timer overflow')
  t.equal(target.status().controllers.length, 1, 'the controller is there')
})

t.test('KATO range: configured bounds apply to Connect and Set Features; 0 stays disabled', async (t) => {
  const target = await startTarget(t, { limits: { kato: { minMs: 1000, maxMs: 60_000 } } })
  const h = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => h.destroy())
  await h.connectAdmin({ subnqn: SUBNQN, kato: 10 })
  const kato = async (): Promise<number> => (await h.admin(AdminOpcode.GET_FEATURES, { cdw10: FeatureId.KATO })).cqe.dw0 >>> 0
  t.equal(await kato(), 1000, 'raised to minMs')
  await h.admin(AdminOpcode.SET_FEATURES, { cdw10: FeatureId.KATO, cdw11: 120_000 })
  t.equal(await kato(), 60_000, 'lowered to maxMs')
  await h.admin(AdminOpcode.SET_FEATURES, { cdw10: FeatureId.KATO, cdw11: 0 })
  t.equal(await kato(), 0, '0 disables keep-alive')
})

t.test('no Connect after ICReq within limits.connectTimeoutMs: closed (manual clock)', async (t) => {
  const clock = new ManualClock()
  const target = await startTarget(t, { clock }) // default limits.connectTimeoutMs: 10 s
  const silent = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => silent.destroy())
  const good = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => good.destroy())
  await good.connectAdmin({ subnqn: SUBNQN })
  clock.advance(9999)
  t.notOk(silent.isClosed, 'open before the limit')
  clock.advance(1)
  await withTimeout(silent.closed, WAIT, 'close')
  t.pass('closed at the limit')
  t.notOk(good.isClosed, 'the connected queue is kept')
})

t.test('a started PDU not finished within limits.pduTimeoutMs: closed (manual clock)', async (t) => {
  const clock = new ManualClock()
  const target = await startTarget(t, { clock }) // default limits.pduTimeoutMs: 30 s
  const h = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => h.destroy())
  // A CapsuleCmd announcing 4 KiB of in-capsule data, of which 100 bytes ever come.
  const sqe = encodeSqe(makeSqe({ opc: AdminOpcode.IDENTIFY, cid: 1 }))
  const head = Buffer.alloc(72 + 100)
  head[0] = PduType.CAPSULE_CMD
  head[2] = 72
  head[3] = 72
  head.writeUInt32LE(72 + 4096, 4)
  sqe.copy(head, 8)
  h.sendRaw(head)
  await waitFor(() => connectionStats(target).some((c) => c.framerBytes === head.length), 'partial PDU received', WAIT)
  clock.advance(29_999)
  t.notOk(h.isClosed, 'open before the limit')
  clock.advance(1)
  await withTimeout(h.closed, WAIT, 'close')
  await waitFor(() => connectionStats(target).length === 0, 'connection gone', WAIT)
  t.pass('closed at the limit, nothing left')
})

t.test('an idle queue with keep-alive disabled is closed after limits.idleTimeoutMs (manual clock)', async (t) => {
  const clock = new ManualClock()
  const target = await startTarget(t, { clock }) // default limits.idleTimeoutMs: 5 min
  const idle = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => idle.destroy())
  await idle.connectAdmin({ subnqn: SUBNQN, kato: 0 })
  const kept = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => kept.destroy())
  await kept.connectAdmin({ subnqn: SUBNQN, kato: 3_600_000 })
  clock.advance(299_999)
  t.notOk(idle.isClosed, 'open before the limit')
  clock.advance(1)
  await withTimeout(idle.closed, WAIT, 'close')
  t.notOk(kept.isClosed, 'a queue covered by keep-alive is left to the KATO')
})
