/** PduFramer: zero copy, assembly, validation before buffering, sticky errors, backpressure, view lifetime. */
import t, { type Test } from 'tap'
import { FES, NvmeTcpProtocolError } from '../../lib/errors.js'
import { PduFramer, DEFAULT_FRAMER_LIMITS, type PduFramerOptions } from '../../lib/framer.js'
import {
  PduType,
  decodeH2CData,
  encodeC2HData,
  encodeCapsuleCmd,
  encodeCapsuleResp,
  encodeH2CData,
  encodeIcReq,
  encodeIcResp,
  encodeR2T,
  encodeTermReq,
} from '../../lib/pdu/index.js'
import { connectData, connectSqe, cqe, pattern } from './pdu/fixtures.js'

function collect(opts: Omit<PduFramerOptions, 'onPdu'>): { framer: PduFramer; got: Buffer[]; views: Buffer[] } {
  const got: Buffer[] = []
  const views: Buffer[] = []
  const framer = new PduFramer({
    ...opts,
    onPdu: (raw) => {
      views.push(raw)
      got.push(Buffer.from(raw))
    },
  })
  return { framer, got, views }
}

function expectFramerError(t: Test, framer: PduFramer, chunk: Buffer, fei: number, what: string): void {
  try {
    framer.push(chunk)
    t.fail(`${what}: no error`)
  } catch (e) {
    t.type(e, NvmeTcpProtocolError, what)
    t.equal((e as NvmeTcpProtocolError).fes, FES.INVALID_HEADER_FIELD, `${what}: FES 1`)
    t.equal((e as NvmeTcpProtocolError).fei, fei, `${what}: FEI ${fei}`)
    t.equal(framer.bufferedBytes, 0, `${what}: nothing kept`)
  }
}

const capsule = () => encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe: connectSqe(), data: connectData() })
const h2c = (n: number, opts = {}) => encodeH2CData({ type: PduType.H2C_DATA, cccid: 1, ttag: 0, datao: 0, last: true, data: pattern(n) }, opts)

t.test('a PDU inside one chunk is a zero-copy view; a split PDU is assembled once', async (t) => {
  const { framer, got, views } = collect({ role: 'target' })
  const a = capsule()
  const b = h2c(5000)
  const chunk = Buffer.concat([a, b.subarray(0, 100)])
  framer.push(chunk)
  t.equal(got.length, 1)
  t.equal(views[0]!.buffer, chunk.buffer, 'view of the pushed chunk')
  t.equal(views[0]!.byteOffset, chunk.byteOffset)
  t.same(got[0], a)
  t.equal(framer.bufferedBytes, 100)
  t.equal(framer.atPduBoundary, false)
  framer.push(b.subarray(100, 3000))
  t.equal(got.length, 1)
  t.equal(framer.bufferedBytes, 3000)
  framer.push(b.subarray(3000))
  t.equal(got.length, 2)
  t.same(got[1], b)
  t.not(views[1]!.buffer, chunk.buffer, 'assembled into a new buffer')
  t.equal(framer.bufferedBytes, 0)
  t.equal(framer.atPduBoundary, true)
  t.equal(framer.pdusDelivered, 2)
})

t.test('the header is validated as soon as 8 bytes are in, even split 1 byte at a time', async (t) => {
  const { framer } = collect({ role: 'target', maxH2CData: 4096 })
  const bad = h2c(4097)
  for (let i = 0; i < 7; i++) framer.push(bad.subarray(i, i + 1))
  t.equal(framer.bufferedBytes, 7)
  expectFramerError(t, framer, bad.subarray(7, 8), 4, 'PLEN over maxH2CData')
})

t.test('every header violation carries FES 0x01 and the FEI of the bad field', async (t) => {
  const target = () => collect({ role: 'target' }).framer
  const host = () => collect({ role: 'host' }).framer
  // Type (FEI 0): a target never receives host-bound PDUs and vice versa; 0x08 is undefined.
  expectFramerError(t, target(), encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({}) }), 0, 'CapsuleResp to a target')
  expectFramerError(t, host(), capsule(), 0, 'CapsuleCmd to a host')
  expectFramerError(t, host(), Buffer.from([0x08, 0, 24, 0, 24, 0, 0, 0]), 0, 'type 0x08')
  expectFramerError(t, target(), Buffer.from([0xff, 0, 24, 0, 24, 0, 0, 0]), 0, 'type 0xff')
  // HLEN (FEI 2).
  const ic = encodeIcReq({ type: 0, pfv: 0, hpda: 0, hdgst: false, ddgst: false, maxr2t: 0 })
  ic[2] = 127
  expectFramerError(t, target(), ic, 2, 'ICReq HLEN 127')
  const r2t = encodeR2T({ type: PduType.R2T, cccid: 1, ttag: 1, r2to: 0, r2tl: 1 })
  r2t[2] = 72
  expectFramerError(t, host(), r2t, 2, 'R2T HLEN 72')
  // FLAGS (FEI 1): HDGSTF must match the negotiated header digest.
  expectFramerError(t, collect({ role: 'host', hdgst: true }).framer, encodeR2T({ type: PduType.R2T, cccid: 1, ttag: 1, r2to: 0, r2tl: 1 }), 1, 'R2T without HDGSTF')
  expectFramerError(t, host(), encodeR2T({ type: PduType.R2T, cccid: 1, ttag: 1, r2to: 0, r2tl: 1 }, { hdgst: true }), 1, 'R2T with unnegotiated HDGSTF')
  // PDO (FEI 3).
  const resp = encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({}) })
  resp[3] = 24
  expectFramerError(t, host(), resp, 3, 'CapsuleResp PDO 24')
  const d = h2c(64)
  d[3] = 28
  expectFramerError(t, target(), d, 3, 'H2CData PDO 28 without HDGST')
  expectFramerError(t, collect({ role: 'target', pda: 3 }).framer, h2c(64), 3, 'H2CData PDO 24 when CPDA 3 wants 32')
  const icr = encodeIcResp({ type: 1, pfv: 0, cpda: 0, hdgst: false, ddgst: false, maxh2cdata: 4096 })
  icr[3] = 8
  expectFramerError(t, host(), icr, 3, 'ICResp PDO 8')
  // PLEN (FEI 4).
  const icp = encodeIcReq({ type: 0, pfv: 0, hpda: 0, hdgst: false, ddgst: false, maxr2t: 0 })
  icp.writeUInt32LE(129, 4)
  expectFramerError(t, target(), icp, 4, 'ICReq PLEN 129')
  const tr = encodeTermReq({ type: PduType.H2C_TERM_REQ, fes: 1, fei: 0, data: Buffer.alloc(0) })
  tr.writeUInt32LE(153, 4)
  expectFramerError(t, target(), tr, 4, 'TermReq PLEN 153')
  tr.writeUInt32LE(23, 4)
  expectFramerError(t, target(), tr, 4, 'TermReq PLEN 23')
  const rp = encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({}) })
  rp.writeUInt32LE(28, 4)
  expectFramerError(t, host(), rp, 4, 'CapsuleResp PLEN 28 without HDGST')
  const big = encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe: connectSqe(), data: pattern(8193) })
  expectFramerError(t, target(), big, 4, 'in-capsule data over maxInCapsuleData')
  const c2h = encodeC2HData({ type: PduType.C2H_DATA, cccid: 1, datao: 0, last: true, success: false, data: pattern(4097) })
  expectFramerError(t, collect({ role: 'host', maxC2HData: 4096 }).framer, c2h, 4, 'C2HData over maxC2HData')
  const huge = Buffer.from([0x07, 0x00, 24, 24, 0xff, 0xff, 0xff, 0xff])
  expectFramerError(t, host(), huge, 4, 'PLEN 4 GiB')
  const short = Buffer.from([0x07, 0x00, 24, 24, 20, 0, 0, 0])
  expectFramerError(t, host(), short, 4, 'PLEN shorter than PDO')
})

t.test('the error keeps a copy of the header and the framer never resynchronises', async (t) => {
  const { framer, got } = collect({ role: 'host' })
  const bad = encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({ cid: 7 }) })
  bad[2] = 23
  const chunk = Buffer.concat([bad, encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({}) })])
  let first: unknown
  try {
    framer.push(chunk)
  } catch (e) {
    first = e
  }
  t.type(first, NvmeTcpProtocolError)
  const err = first as NvmeTcpProtocolError
  t.same(err.header, bad, 'header copy: min(HLEN, available) bytes')
  chunk.fill(0)
  t.equal(err.header?.[2], 23, 'copy survives reuse of the chunk')
  t.equal(framer.error, err)
  const good = encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({}) })
  t.throws(() => framer.push(good), err, 'later pushes rethrow the same error')
  t.throws(() => framer.resume(), err)
  t.equal(got.length, 0)
})

t.test('setDigests and setLimits apply to the next PDU header', async (t) => {
  const { framer, got } = collect({ role: 'host' })
  framer.push(encodeIcResp({ type: 1, pfv: 0, cpda: 0, hdgst: true, ddgst: true, maxh2cdata: 4096 }))
  framer.setDigests({ hdgst: true, ddgst: true })
  framer.setLimits({ maxC2HData: 70000 })
  t.same(framer.digests, { hdgst: true, ddgst: true })
  t.equal(framer.limits.maxC2HData, 70000)
  t.equal(framer.maxPduLength, 28 + 70000 + 4)
  framer.push(encodeC2HData({ type: PduType.C2H_DATA, cccid: 1, datao: 0, last: true, success: false, data: pattern(70000) }, { hdgst: true, ddgst: true }))
  t.equal(got.length, 2)
  t.throws(() => framer.setLimits({ maxC2HData: -1 }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'maxC2HData' })
  t.throws(() => framer.setLimits({ pda: 32 }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'pda' })
})

t.test('maxPduLength per role matches the defaults', async (t) => {
  const tf = collect({ role: 'target' }).framer
  t.equal(tf.maxPduLength, 24 + DEFAULT_FRAMER_LIMITS.maxH2CData)
  const hf = collect({ role: 'host', hdgst: true, ddgst: true, maxC2HData: 100 }).framer
  t.equal(hf.maxPduLength, 152, 'a C2HTermReq is then the longest host-bound PDU')
})

t.test('options are validated', async (t) => {
  t.throws(() => new PduFramer({ role: 'nope' as 'host', onPdu: () => {} }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'role' })
  t.throws(() => new PduFramer({ role: 'host' } as PduFramerOptions), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'onPdu' })
  t.throws(() => new PduFramer({ role: 'host', maxC2HData: 1.5, onPdu: () => {} }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'maxC2HData' })
})

t.test('backpressure: onPdu returning false pauses delivery until resume()', async (t) => {
  const pdus = [0, 1, 2, 3, 4].map((i) => encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({ cid: i }) }))
  const seen: number[] = []
  let allow = 1
  const framer = new PduFramer({
    role: 'host',
    onPdu: (raw) => {
      seen.push(raw.readUInt16LE(8 + 12))
      return --allow > 0
    },
  })
  framer.push(Buffer.concat(pdus.slice(0, 3)))
  t.same(seen, [0], 'stops after the PDU whose callback returned false')
  t.equal(framer.paused, true)
  t.equal(framer.bufferedBytes, 48, 'the rest is kept')
  framer.push(Buffer.concat(pdus.slice(3)))
  t.same(seen, [0], 'pushing while paused delivers nothing')
  t.equal(framer.bufferedBytes, 96)
  allow = 2
  framer.resume()
  t.same(seen, [0, 1, 2])
  t.equal(framer.paused, true)
  allow = 100
  framer.resume()
  t.same(seen, [0, 1, 2, 3, 4])
  t.equal(framer.paused, false)
  t.equal(framer.bufferedBytes, 0)
})

t.test('re-entrant push from inside onPdu keeps order', async (t) => {
  const seen: number[] = []
  const extra = encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({ cid: 99 }) })
  const framer: PduFramer = new PduFramer({
    role: 'host',
    onPdu: (raw) => {
      const cid = raw.readUInt16LE(20)
      seen.push(cid)
      if (cid === 1) framer.push(extra)
    },
  })
  framer.push(Buffer.concat([1, 2].map((i) => encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({ cid: i }) }))))
  t.same(seen, [1, 2, 99])
})

t.test('buffers do not clobber: copies survive reuse of the chunk, views do not', async (t) => {
  const kept: Buffer[] = []
  const keptData: Buffer[] = []
  const views: Buffer[] = []
  const framer = new PduFramer({
    role: 'target',
    onPdu: (raw) => {
      views.push(raw)
      kept.push(Buffer.from(raw))
      keptData.push(Buffer.from(decodeH2CData(raw).data))
    },
  })
  // The socket layer may hand us the same memory again: simulate one reused receive buffer.
  const recv = Buffer.alloc(4096)
  for (let i = 0; i < 3; i++) {
    const pdu = h2c(100 + i)
    pdu.copy(recv, 0)
    framer.push(recv.subarray(0, pdu.length))
  }
  t.equal(kept.length, 3)
  for (let i = 0; i < 3; i++) {
    t.same(keptData[i], pattern(100 + i), `copy ${i} intact after the buffer was reused`)
    t.same(kept[i], h2c(100 + i))
  }
  t.not(views[0]!.subarray(24).equals(pattern(100)), 'the first view now shows later bytes: views are only valid inside the callback')
})

t.test('data PDU limit is exact: header + HDGST + PAD + max data + DDGST', async (t) => {
  const dg = { hdgst: true, ddgst: true, pda: 7 }
  const mk = (n: number) => encodeH2CData({ type: PduType.H2C_DATA, cccid: 1, ttag: 0, datao: 0, last: true, data: pattern(n) }, dg)
  const ok = collect({ role: 'target', hdgst: true, ddgst: true, pda: 7, maxH2CData: 1000, maxInCapsuleData: 0 })
  const atLimit = mk(1000)
  t.equal(atLimit.length, 32 + 1000 + 4, 'PDO 32 (HPDA unit 32 after 28 header bytes)')
  t.equal(ok.framer.maxPduLength, atLimit.length)
  ok.framer.push(atLimit)
  t.equal(ok.got.length, 1, 'exactly maxH2CData is accepted')
  const over = collect({ role: 'target', hdgst: true, ddgst: true, pda: 7, maxH2CData: 1000 })
  expectFramerError(t, over.framer, mk(1001), 4, 'maxH2CData + 1')
  const cap = collect({ role: 'target', maxInCapsuleData: 1024 })
  cap.framer.push(capsule())
  t.equal(cap.got.length, 1, 'a 1024-byte Connect fits maxInCapsuleData 1024')
})
