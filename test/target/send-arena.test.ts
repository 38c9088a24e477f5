/**
 * The send arena (target/transport/tcp-send-arena.ts) over real loopback sockets: small responses
 * copied or encoded into the connection's reused buffer, large ones written uncopied, keep their wire
 * order and their bytes — also when the host stops reading, so the socket still holds arena bytes
 * while later responses are encoded (the arena must not be reused under them).
 */
import t from 'tap'
import { RawHost, withTimeout } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN } from './helpers/fixture.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'
import { makeSqe, rwDwords } from '../../lib/nvme/sqe.js'
import { sglTransportDataBlock } from '../../lib/nvme/sgl.js'
import { decodeCqe } from '../../lib/nvme/cqe.js'
import { encodePdu, PduType } from '../../lib/pdu/index.js'
import { encodeSqe } from '../../lib/nvme/sqe.js'

const WAIT = 30_000
const MIB = 1 << 20

/** Byte `i` of the namespace (8 MiB, NSID 1): no two 4 KiB blocks alike. */
function pattern(offset: number, length: number): Buffer {
  const b = Buffer.alloc(length)
  for (let i = 0; i < length; i++) {
    const x = offset + i
    b[i] = (x * 31 + (x >>> 12) * 7 + (x >>> 20)) & 0xff
  }
  return b
}

t.test('small and large read responses interleaved behind a host that stops reading arrive in order and intact', async (t) => {
  const target = await startTarget(t)
  const { io } = await RawHost.ioPair({ port: portOf(target), subnqn: SUBNQN, sqsize: 63, teardown: (fn) => t.teardown(fn) })
  for (let off = 0; off < 8 * MIB; off += 128 * 1024) {
    const w = await io.write(1, BigInt(off / 512), pattern(off, 128 * 1024), { timeoutMs: WAIT })
    if (w.cqe.status !== 0) throw new Error(`write at ${off} failed`)
  }
  // The host stops reading; 64 Reads go out: 128 KiB ones (written uncopied, they fill the socket)
  // between 4 KiB ones (through the arena) and one 512-byte one.
  io.socket.pause()
  const from = io.received.length
  const reads: { cid: number; off: number; len: number }[] = []
  for (let i = 0; i < 64; i++) {
    const len = i === 63 ? 512 : i % 2 === 0 ? 128 * 1024 : 4096
    const off = ((i * 37) % 60) * 128 * 1024 + (len === 4096 ? (i % 32) * 4096 : 0)
    const sqe = makeSqe({ opc: IoOpcode.READ, cid: io.nextCid(), nsid: 1, ...rwDwords({ slba: BigInt(off / 512), nlb: len / 512 - 1 }), sgl: sglTransportDataBlock(len) })
    reads.push({ cid: sqe.cid, off, len })
    io.post(sqe)
  }
  const done = Promise.all(reads.map((r) => io.wait(r.cid, WAIT)))
  io.socket.resume()
  const all = await withTimeout(done, WAIT, 'all reads')
  let bad = 0
  for (let i = 0; i < reads.length; i++) {
    const r = reads[i]!
    const got = all[i]!
    if (got.cqe.status !== 0 || !got.data.equals(pattern(r.off, r.len))) bad++
  }
  t.equal(bad, 0, 'every Read completed with exactly its bytes')
  // The memory store completes Reads in order (budget waits are FIFO): the wire keeps the order of
  // the writer's sends, arena bytes and uncopied data alike (a C2HData never overtakes an earlier
  // command's CapsuleResp).
  const cids = io.received.slice(from).map((p) => (p.pdu?.type === PduType.C2H_DATA ? p.pdu.cccid : p.pdu?.type === PduType.CAPSULE_RESP ? decodeCqe(p.pdu.cqe).cid : -1))
  const idx = cids.map((cid) => reads.findIndex((r) => r.cid === cid))
  t.ok(
    idx.every((x, i) => x >= 0 && (i === 0 || x >= idx[i - 1]!)),
    'response PDUs on the wire in command order',
  )
  // Still usable afterwards: the arena starts over once the socket wrote everything.
  const again = await io.read(1, 8n, 8, 512, WAIT)
  t.same(again.data, pattern(4096, 4096), 'a later 4 KiB Read returns its bytes')
})

t.test('a response completed in the read that then closes the connection still goes out before the FIN', async (t) => {
  const target = await startTarget(t)
  const { io } = await RawHost.ioPair({ port: portOf(target), subnqn: SUBNQN, sqsize: 15, teardown: (fn) => t.teardown(fn) })
  await io.write(1, 0n, pattern(0, 4096), { timeoutMs: WAIT })
  // One TCP chunk: a 4 KiB Read (answered at once, through the arena), then an H2CTermReq (close).
  const sqe = makeSqe({ opc: IoOpcode.READ, cid: io.nextCid(), nsid: 1, ...rwDwords({ slba: 0n, nlb: 7 }), sgl: sglTransportDataBlock(4096) })
  const done = io.wait(sqe.cid, WAIT)
  io.sendRaw(Buffer.concat([encodePdu({ type: PduType.CAPSULE_CMD, sqe: encodeSqe(sqe) }), encodePdu({ type: PduType.H2C_TERM_REQ, fes: 1, fei: 0, data: Buffer.alloc(0) })]))
  const c = await done
  t.equal(c.cqe.status, 0, 'the Read completed')
  t.same(c.data, pattern(0, 4096), 'with its data')
  await withTimeout(io.closed, WAIT, 'close')
  t.pass('then the connection closed')
})
