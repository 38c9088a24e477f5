/**
 * The `hold` decision at onPduSend (held PDUs go out with the next PDU written, in one corked write)
 * and the `mutate` decision at onPduReceived (the replacement bytes are checked and handled as if the
 * host had sent them: framer header checks, header digest → C2HTermReq FES 03h, data digest →
 * Transient Transport Error), through real sockets and a raw host.
 */
import t, { type Test } from 'tap'
import { crc32c } from '../../lib/crc32c.js'
import { RawHost } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN } from './helpers/fixture.js'
import { PduType } from '../../lib/pdu/index.js'
import { CH_PLEN } from '../../lib/pdu/common.js'
import { FES } from '../../lib/errors.js'
import { NvmeStatus } from '../../lib/status.js'
import type { TargetHandle } from '../../target/index.js'

async function ioQueue(t: Test, target: TargetHandle, o: { hdgst?: boolean; ddgst?: boolean } = {}): Promise<RawHost> {
  const port = portOf(target)
  const admin = await RawHost.connect({ port })
  t.teardown(() => admin.destroy())
  const cntlid = await admin.connectAdmin({ subnqn: SUBNQN })
  const io = await RawHost.connect({ port, hdgst: o.hdgst === true, ddgst: o.ddgst === true })
  t.teardown(() => io.destroy())
  await io.connectIo({ subnqn: SUBNQN, cntlid })
  return io
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('hold: a read’s C2HData waits for its CapsuleResp and both arrive in one read', async (t) => {
  const target = await startTarget(t)
  const io = await ioQueue(t, target)
  const data = Buffer.alloc(16384, 0x6b)
  t.equal((await io.write(1, 0n, data)).cqe.status, 0)
  const decided: string[] = []
  target.setHooks({
    onPduSend: async (_ctx, tx) => {
      if (tx.pdu.type === PduType.C2H_DATA && !tx.pdu.success) {
        decided.push('hold')
        return { action: 'hold' }
      }
      if (tx.pdu.type === PduType.CAPSULE_RESP) {
        // A gap the held C2HData would show if it were written on its own.
        await sleep(60)
        decided.push('resp')
      }
      return { action: 'pass' }
    },
  })
  const before = io.chunkSizes.length
  const r = await io.read(1, 0n, 32)
  t.equal(r.cqe.status, 0, 'read succeeds')
  t.same(r.data, data, 'data intact')
  t.same(decided, ['hold', 'resp'], 'the C2HData was held, then the CapsuleResp passed')
  const onWire = r.pdus.reduce((n, p) => n + p.plen, 0)
  t.same(r.pdus.map((p) => p.type), [PduType.C2H_DATA, PduType.CAPSULE_RESP], 'C2HData then CapsuleResp, in order')
  t.same(io.chunkSizes.slice(before), [onWire], `both PDUs in one read of ${onWire} bytes`)
})

t.test('hold: a dropped PDU does not flush; the next PDU written (hooks removed) carries what was held', async (t) => {
  const target = await startTarget(t)
  const io = await ioQueue(t, target)
  const a = Buffer.alloc(4096, 0x21)
  const b = Buffer.alloc(4096, 0x42)
  t.equal((await io.write(1, 0n, Buffer.concat([a, b]))).cqe.status, 0)
  target.setHooks({
    onPduSend: (_ctx, tx) => (tx.pdu.type === PduType.C2H_DATA ? { action: 'hold' } : tx.pdu.type === PduType.CAPSULE_RESP ? { action: 'drop' } : { action: 'pass' }),
  })
  const seen = io.received.length
  await t.rejects(io.read(1, 0n, 8, 512, 200), /timeout/, 'read A: its C2HData held, its CapsuleResp dropped')
  t.equal(io.received.length, seen, 'nothing reached the host: a drop does not flush what is held')
  target.setHooks(undefined)
  const before = io.chunkSizes.length
  const r = await io.read(1, 8n, 8)
  t.same(r.data, b, 'read B completes with its own data')
  const c2h = io.received.slice(seen).filter((p) => p.type === PduType.C2H_DATA)
  t.equal(c2h.length, 2, 'two C2HData arrived')
  t.same(c2h[0]!.raw.subarray(c2h[0]!.pdo, c2h[0]!.pdo + 4096), a, 'read A’s held C2HData first, data intact')
  t.equal(c2h[0]!.raw.readUInt16LE(8) + 1, r.cqe.cid, 'then read B’s (CCCID order)')
  t.equal(io.chunkSizes.length - before, 1, 'held and new PDUs in one read')
})

t.test('hold: a mutated PDU carries the held parts in front of its replacement', async (t) => {
  const target = await startTarget(t)
  const io = await ioQueue(t, target)
  const data = Buffer.alloc(4096, 0x37)
  t.equal((await io.write(1, 8n, data)).cqe.status, 0)
  target.setHooks({
    onPduSend: (_ctx, tx) => {
      if (tx.pdu.type === PduType.C2H_DATA) return { action: 'hold' }
      if (tx.pdu.type !== PduType.CAPSULE_RESP) return { action: 'pass' }
      const resp = Buffer.concat(tx.parts)
      resp.writeUInt32LE(0xabcd, 8) // DW0
      return { action: 'mutate', parts: [resp] }
    },
  })
  const before = io.chunkSizes.length
  const r = await io.read(1, 8n, 8)
  t.same(r.data, data, 'held C2HData went out in front of the mutated CapsuleResp')
  t.equal(r.cqe.dw0, 0xabcd, 'the replacement CapsuleResp')
  t.equal(io.chunkSizes.length - before, 1, 'in one read')
})

t.test('rx mutate: replacement bytes are handled as received (data, drop, bad data digest)', async (t) => {
  const target = await startTarget(t)
  const io = await ioQueue(t, target, { hdgst: true, ddgst: true })
  const data = Buffer.alloc(8192, 0x11)
  // Replace the H2CData payload (and fix its digest): the namespace gets what the hook wrote.
  target.setHooks({
    onPduReceived: (_ctx, rx) => {
      if (rx.pdu.type !== PduType.H2C_DATA) return { action: 'pass' }
      const b = Buffer.from(rx.raw)
      const pdo = b[3]!
      b.fill(0x22, pdo, b.length - 4)
      b.writeUInt32LE(crc32c(b.subarray(pdo, b.length - 4)) >>> 0, b.length - 4)
      return { action: 'mutate', parts: [b] }
    },
  })
  t.equal((await io.write(1, 0n, data)).cqe.status, 0, 'write with replaced data succeeds')
  t.same(await target.readNamespace(SUBNQN, 1, 0, data.length), Buffer.alloc(8192, 0x22), 'the replacement data was written')

  // A corrupted data digest: the command fails with Transient Transport Error; the queue lives on.
  target.setHooks({
    onPduReceived: (_ctx, rx) => {
      if (rx.pdu.type !== PduType.H2C_DATA) return { action: 'pass' }
      const b = Buffer.from(rx.raw)
      b[b.length - 1] = b[b.length - 1]! ^ 0xff
      return { action: 'mutate', parts: [b] }
    },
  })
  t.equal((await io.write(1, 0n, data)).cqe.status, NvmeStatus.TRANSIENT_TR_ERR, 'bad DDGST: Transient Transport Error (22h)')
  target.setHooks(undefined)
  t.equal((await io.read(1, 0n, 1)).cqe.status, 0, 'the queue keeps working')

  // Zero replacement bytes: the PDU is gone (a drop) — the command never completes.
  target.setHooks({ onPduReceived: (_ctx, rx) => (rx.pdu.type === PduType.CAPSULE_CMD ? { action: 'mutate', parts: [] } : { action: 'pass' }) })
  await t.rejects(io.read(1, 0n, 1, 512, 200), /timeout/, 'a capsule replaced by nothing is never seen')
  t.equal(io.termReqs.length, 0, 'and is no protocol error')
})

t.test('rx mutate: a bad header digest still ends the connection with C2HTermReq FES 03h', async (t) => {
  const target = await startTarget(t)
  const io = await ioQueue(t, target, { hdgst: true })
  target.setHooks({
    onPduReceived: (_ctx, rx) => {
      if (rx.pdu.type !== PduType.CAPSULE_CMD) return { action: 'pass' }
      const b = Buffer.from(rx.raw)
      b[b[2]!] = b[b[2]!]! ^ 0x01 // first HDGST byte, right after the header (HLEN)
      return { action: 'mutate', parts: [b] }
    },
  })
  await t.rejects(io.read(1, 0n, 1), /connection closed/, 'the read dies with the connection')
  await io.closed
  t.same(io.termReqs.map((x) => x.fes), [FES.HEADER_DIGEST_ERROR], 'C2HTermReq FES 03h (Header Digest Error)')
})

t.test('rx mutate: bytes ending inside a PDU are a PLEN error', async (t) => {
  const target = await startTarget(t)
  const io = await ioQueue(t, target)
  target.setHooks({
    onPduReceived: (_ctx, rx) => (rx.pdu.type === PduType.CAPSULE_CMD ? { action: 'mutate', parts: [Buffer.from(rx.raw.subarray(0, rx.raw.length - 1))] } : { action: 'pass' }),
  })
  await t.rejects(io.read(1, 0n, 1), /connection closed/)
  await io.closed
  t.same(io.termReqs.map((x) => [x.fes, x.fei]), [[FES.INVALID_HEADER_FIELD, CH_PLEN]], 'C2HTermReq FES 01h at PLEN')
})
