/**
 * I/O commands through a real socket: Write (in-capsule and R2T/H2CData split by MAXH2CDATA), Read
 * (C2HData), Flush, Write Zeroes, DSM deallocate, with and without digests; LBA out of range, bad
 * NSID, unknown opcode, transfer length mismatch; a disabled namespace and ANA states on the port;
 * C2HData SUCCESS only with SQ flow control disabled; the file store.
 */
import t, { type Test } from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RawHost } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN } from './helpers/fixture.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'
import { makeSqe, rwDwords } from '../../lib/nvme/sqe.js'
import { encodeDsmRanges } from '../../lib/nvme/commands.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import type { TargetHandle } from '../../target/index.js'

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len)
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff
  return b
}

async function ioQueue(t: Test, target: TargetHandle, o: { hdgst?: boolean; ddgst?: boolean; portId?: number; cattr?: number } = {}) {
  const port = portOf(target, o.portId ?? 1)
  const admin = await RawHost.connect({ port, hdgst: o.hdgst ?? false, ddgst: o.ddgst ?? false })
  t.teardown(() => admin.destroy())
  const cntlid = await admin.connectAdmin({ subnqn: SUBNQN })
  const io = await RawHost.connect({ port, hdgst: o.hdgst ?? false, ddgst: o.ddgst ?? false })
  t.teardown(() => io.destroy())
  const c = await io.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid, cattr: o.cattr ?? 0 })
  if (c.cqe.status !== 0) throw new Error(`I/O connect failed 0x${c.cqe.status.toString(16)}`)
  return { admin, io, cntlid }
}

for (const dg of [
  { hdgst: false, ddgst: false },
  { hdgst: true, ddgst: true },
  { hdgst: true, ddgst: false },
]) {
  t.test(`read/write with hdgst=${dg.hdgst} ddgst=${dg.ddgst}`, async (t) => {
    const target = await startTarget(t, { maxH2CData: 8192 })
    const { io } = await ioQueue(t, target, dg)
    t.equal(io.maxh2cdata, 8192, 'ICResp MAXH2CDATA')
    // In-capsule write (4 KiB <= 16 KiB inline).
    const small = pattern(4096, 1)
    const w1 = await io.write(1, 8n, small, { inCapsule: true })
    t.equal(w1.cqe.status, 0, 'in-capsule write')
    t.equal(w1.cqe.sqid, 1)
    // R2T write of 64 KiB: the client splits by MAXH2CDATA = 8 KiB into 8 H2CData PDUs.
    const big = pattern(65536, 2)
    const r2tsBefore = io.received.filter((p) => p.type === 9).length
    const w2 = await io.write(1, 1000n, big)
    t.equal(w2.cqe.status, 0, 'R2T write')
    t.equal(io.received.filter((p) => p.type === 9).length - r2tsBefore, 1, 'one R2T for the whole length')
    const r1 = await io.read(1, 8n, 8)
    t.same(r1.data, small, 'read back in-capsule data')
    t.equal(r1.elided, false, 'CapsuleResp sent (SQ flow control on)')
    const r2 = await io.read(1, 1000n, 128)
    t.ok(r2.data.equals(big), 'read back R2T data')
    t.ok((await target.readNamespace(SUBNQN, 1, 1000 * 512, 65536)).equals(big), 'the store holds the same bytes')
    // 4 KiB-block namespace.
    const b4k = pattern(8192, 3)
    t.equal((await io.write(2, 3n, b4k, { blockSize: 4096 })).cqe.status, 0)
    t.ok((await io.read(2, 3n, 2, 4096)).data.equals(b4k), '4K namespace round trip')
    // Sequence numbers: SQHD advances per completion.
    const r3 = await io.read(1, 0n, 1)
    const r4 = await io.read(1, 0n, 1)
    t.equal((r4.cqe.sqhd - r3.cqe.sqhd + 128) % 128, 1, 'SQHD advances by one')
  })
}

t.test('flush, write zeroes, DSM deallocate, and errors', async (t) => {
  const target = await startTarget(t)
  const { io } = await ioQueue(t, target)
  const data = pattern(16384, 4)
  t.equal((await io.write(1, 100n, data)).cqe.status, 0)
  t.equal((await io.command(makeSqe({ opc: IoOpcode.FLUSH, cid: io.nextCid(), nsid: 1 }))).cqe.status, 0, 'Flush')
  const wz = await io.command(makeSqe({ opc: IoOpcode.WRITE_ZEROES, cid: io.nextCid(), nsid: 1, ...rwDwords({ slba: 100n, nlb: 7 }) }))
  t.equal(wz.cqe.status, 0, 'Write Zeroes')
  const after = (await io.read(1, 100n, 32)).data
  t.same(after.subarray(0, 4096), Buffer.alloc(4096), 'zeroed blocks')
  t.same(after.subarray(4096), data.subarray(4096), 'rest untouched')
  const ranges = encodeDsmRanges([{ cattr: 0, nlb: 8, slba: 108n }, { cattr: 0, nlb: 8, slba: 116n }])
  const dsm = await io.command(makeSqe({ opc: IoOpcode.DATASET_MANAGEMENT, cid: io.nextCid(), nsid: 1, cdw10: 1, cdw11: 0x4 }), { data: ranges, inCapsule: true })
  t.equal(dsm.cqe.status, 0, 'DSM deallocate')
  t.same((await io.read(1, 108n, 16)).data, Buffer.alloc(8192), 'deallocated blocks read zeroes')
  t.same((await io.read(1, 124n, 8)).data, data.subarray(12288), 'outside the ranges untouched')
  const badRange = encodeDsmRanges([{ cattr: 0, nlb: 8, slba: 16380n }])
  t.equal((await io.command(makeSqe({ opc: IoOpcode.DATASET_MANAGEMENT, cid: io.nextCid(), nsid: 1, cdw10: 0, cdw11: 0x4 }), { data: badRange, inCapsule: true })).cqe.status, NvmeStatus.LBA_RANGE | STATUS_DNR, 'DSM range beyond the end')

  // Errors.
  const oor = await io.read(1, 16383n, 2)
  t.equal(oor.cqe.status, NvmeStatus.LBA_RANGE | STATUS_DNR, 'read past the end → LBA Out of Range')
  t.equal(oor.data.length, 0, 'no data sent on error')
  t.equal((await io.write(1, 16384n, pattern(512, 5), { inCapsule: true })).cqe.status, NvmeStatus.LBA_RANGE | STATUS_DNR, 'write past the end')
  t.equal((await io.read(7, 0n, 1)).cqe.status, NvmeStatus.INVALID_NS | STATUS_DNR, 'unknown NSID → Invalid Namespace')
  t.equal((await io.read(0xffffffff, 0n, 1)).cqe.status, NvmeStatus.INVALID_NS | STATUS_DNR, 'broadcast NSID')
  t.equal((await io.command(makeSqe({ opc: 0x7c, cid: io.nextCid(), nsid: 1 }))).cqe.status, NvmeStatus.INVALID_OPCODE | STATUS_DNR, 'unknown I/O opcode')
  const mismatch = await io.command(makeSqe({ opc: IoOpcode.READ, cid: io.nextCid(), nsid: 1, ...rwDwords({ slba: 0n, nlb: 1 }) }), { readLength: 512 })
  t.equal(mismatch.cqe.status, NvmeStatus.SGL_INVALID_DATA | STATUS_DNR, 'transfer length != NLB → Data SGL Length Invalid')
  const wz2 = await io.command(makeSqe({ opc: IoOpcode.WRITE_ZEROES, cid: io.nextCid(), nsid: 1, ...rwDwords({ slba: 16383n, nlb: 1 }) }))
  t.equal(wz2.cqe.status, NvmeStatus.LBA_RANGE | STATUS_DNR, 'Write Zeroes past the end')
  const tooBig = await io.command(makeSqe({ opc: IoOpcode.READ, cid: io.nextCid(), nsid: 1, ...rwDwords({ slba: 0n, nlb: 4095 }) }), { readLength: 4096 * 512 })
  t.equal(tooBig.cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, 'beyond MDTS')
  // Admin opcodes on an I/O queue are unknown there.
  t.equal((await io.admin(0x06, { cdw10: 1 }, { readLength: 4096 })).cqe.status, NvmeStatus.INVALID_OPCODE | STATUS_DNR, 'Identify on an I/O queue')
})

t.test('disabled namespace and ANA states', async (t) => {
  const target = await startTarget(t)
  const { io } = await ioQueue(t, target, { portId: 1 })
  const p2 = await ioQueue(t, target, { portId: 2 })
  target.disableNamespace(SUBNQN, 1)
  t.equal((await io.read(1, 0n, 1)).cqe.status, NvmeStatus.INTERNAL_PATH_ERROR, 'disabled → Internal Path Error (no DNR)')
  target.enableNamespace(SUBNQN, 1)
  t.equal((await io.read(1, 0n, 1)).cqe.status, 0, 'enabled again')
  const cases: ['inaccessible' | 'persistent-loss' | 'change', number][] = [
    ['inaccessible', NvmeStatus.ANA_INACCESSIBLE],
    ['persistent-loss', NvmeStatus.ANA_PERSISTENT_LOSS],
    ['change', NvmeStatus.ANA_TRANSITION],
  ]
  for (const [state, status] of cases) {
    target.setAnaState({ portId: 1, grpid: 1, state })
    t.equal((await io.read(1, 0n, 1)).cqe.status, status, `${state} on port 1 → 0x${status.toString(16)}`)
    t.equal((await p2.io.read(1, 0n, 1)).cqe.status, 0, 'port 2 still optimized')
    t.equal((await io.read(2, 0n, 1, 4096)).cqe.status, 0, 'group 2 unaffected')
  }
  target.setAnaState({ portId: 1, grpid: 1, state: 'non-optimized' })
  t.equal((await io.read(1, 0n, 1)).cqe.status, 0, 'non-optimized serves I/O')
  const st = target.status()
  t.same(st.ana.filter((a) => a.grpid === 1).map((a) => [a.portId, a.state]), [[1, 'non-optimized'], [2, 'optimized']], 'status shows ANA per port x group')
})

t.test('C2HData SUCCESS only with SQ flow control disabled', async (t) => {
  const target = await startTarget(t)
  const { io } = await ioQueue(t, target, { cattr: 0x04 })
  t.equal((await io.write(1, 0n, pattern(1024, 9), { inCapsule: true })).cqe.status, 0)
  const r = await io.read(1, 0n, 2)
  t.equal(r.elided, true, 'response elided with SUCCESS')
  t.same(r.data, pattern(1024, 9))
  const w = await io.write(1, 0n, pattern(512, 1), { inCapsule: true })
  t.equal(w.cqe.sqhd, 0xffff, 'SQHD FFFFh with SQ flow control disabled')
  const err = await io.read(1, 99999n, 1)
  t.equal(err.elided, false)
  t.equal(err.cqe.status, NvmeStatus.LBA_RANGE | STATUS_DNR, 'errors still get a CapsuleResp')
})

t.test('file store: data and flush reach the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nvmf-target-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'ns1.img')
  const target = await startTarget(t, {
    subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '2MiB', store: { type: 'file', path: file } }] }],
  })
  const { io } = await ioQueue(t, target)
  const data = pattern(32768, 11)
  t.equal((await io.write(1, 64n, data)).cqe.status, 0)
  t.equal((await io.command(makeSqe({ opc: IoOpcode.FLUSH, cid: io.nextCid(), nsid: 1 }))).cqe.status, 0, 'Flush (fsync)')
  const onDisk = await readFile(file)
  t.equal(onDisk.length, 2 * 1024 * 1024, 'file sized to the namespace')
  t.ok(onDisk.subarray(64 * 512, 64 * 512 + 32768).equals(data), 'written bytes are in the file')
  t.ok((await io.read(1, 64n, 64)).data.equals(data), 'read back through the target')
  t.equal(target.status().subsystems[0]?.namespaces[0]?.store, 'file')
})
