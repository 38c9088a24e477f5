/** Byte-exact golden vectors for every PDU type: spec section 11 and 1.8, plus digest/PDA variants. */
import t from 'tap'
import {
  PduType,
  decodeC2HData,
  decodeCapsuleCmd,
  decodeCapsuleResp,
  decodeH2CData,
  decodeIcReq,
  decodeIcResp,
  decodePdu,
  decodeR2T,
  decodeTermReq,
  encodeC2HData,
  encodeC2HDataParts,
  encodeCapsuleCmd,
  encodeCapsuleCmdParts,
  encodeCapsuleResp,
  encodeH2CData,
  encodeH2CDataParts,
  encodeIcReq,
  encodeIcResp,
  encodePduParts,
  encodeR2T,
  encodeTermReq,
  type Pdu,
} from '../../../lib/pdu/index.js'
import { connectSqe, cqe, hex, pattern } from './fixtures.js'

const D = { hdgst: true, ddgst: true }

t.test('ICReq (spec 11): no digests and both digests requested', async (t) => {
  const a = encodeIcReq({ type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: false, ddgst: false, maxr2t: 0 })
  t.equal(a.length, 128)
  t.same(a.subarray(0, 16), hex('00 00 80 00 80 00 00 00 00 00 00 00 00 00 00 00'))
  t.ok(a.subarray(16).every((b) => b === 0), 'reserved bytes are zero')
  const b = encodeIcReq({ type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: true, ddgst: true, maxr2t: 0 }, D)
  t.same(b.subarray(0, 16), hex('00 00 80 00 80 00 00 00 00 00 00 03 00 00 00 00'), 'DGST byte 11 = 0x03; no HDGST on ICReq even with digests')
  t.same(decodeIcReq(b, D), { type: 0, pfv: 0, hpda: 0, hdgst: true, ddgst: true, maxr2t: 0 })
  const c = encodeIcReq({ type: PduType.IC_REQ, pfv: 0, hpda: 3, hdgst: true, ddgst: false, maxr2t: 7 })
  t.same(c.subarray(8, 16), hex('00 00 03 01 07 00 00 00'))
})

t.test('ICResp from a Linux target (spec 11)', async (t) => {
  const pdu = { type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: false, ddgst: false, maxh2cdata: 0x400000 } as const
  const a = encodeIcResp(pdu)
  t.equal(a.length, 128)
  t.same(a.subarray(0, 16), hex('01 00 80 00 80 00 00 00 00 00 00 00 00 00 40 00'))
  t.same(decodeIcResp(a), pdu)
  const b = encodeIcResp({ ...pdu, hdgst: true, ddgst: true, cpda: 1 }, D)
  t.same(b.subarray(8, 12), hex('00 00 01 03'))
})

t.test('Admin Connect CapsuleCmd with 1024 B in-capsule data (spec 11)', async (t) => {
  const sqe = connectSqe()
  t.same(
    sqe,
    hex(`7f 40 00 00 01 00 00 00 00 00 00 00 00 00 00 00
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
         00 04 00 00 00 00 00 01 00 00 00 00 1f 00 00 00
         88 13 00 00 00 00 00 00 00 00 00 00 00 00 00 00`),
    'hand-built SQE is the spec example',
  )
  const data = pattern(1024)
  const raw = encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe, data })
  t.equal(raw.length, 1096)
  t.same(raw.subarray(0, 8), hex('04 00 48 48 48 04 00 00'), 'HLEN 72, PDO 72, PLEN 1096')
  t.same(raw.subarray(8, 72), sqe)
  t.same(raw.subarray(72), data)
  const d = decodeCapsuleCmd(raw)
  t.same(d.sqe, sqe)
  t.same(d.data, data)
  t.equal(d.dataDigestOk, true)

  const parts = encodeCapsuleCmdParts({ type: PduType.CAPSULE_CMD, sqe, data })
  t.equal(parts.length, 2)
  t.equal(parts[1], data, 'the caller data buffer is passed through uncopied')
})

t.test('CapsuleCmd with digests and without data', async (t) => {
  const sqe = connectSqe()
  const data = Buffer.alloc(1024)
  const parts = encodeCapsuleCmdParts({ type: PduType.CAPSULE_CMD, sqe, data }, D)
  t.equal(parts.length, 3)
  t.same(parts[0]!.subarray(0, 8), hex('04 03 48 4c 50 04 00 00'), 'flags HDGSTF|DDGSTF, PDO 76, PLEN 1104')
  t.same(parts[0]!.subarray(72), hex('50 91 0e ff'), 'HDGST over the 72 header bytes')
  t.equal(parts[1], data)
  t.same(parts[2], hex('7c de ae ee'), 'DDGST of 1024 zero bytes')
  const noData = encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe })
  t.same(noData.subarray(0, 8), hex('04 00 48 00 48 00 00 00'), 'no data: PDO 0, PLEN 72')
  const noDataDg = encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe }, D)
  t.same(noDataDg.subarray(0, 8), hex('04 01 48 00 4c 00 00 00'), 'no data + digests: HDGSTF only, PLEN 76')
  const dec = decodeCapsuleCmd(noDataDg, D)
  t.equal(dec.data, undefined)
  t.equal(dec.dataDigestOk, true)
})

t.test('CapsuleCmd PDA padding (spec 1.9)', async (t) => {
  const sqe = connectSqe()
  const data = pattern(64)
  // CPDA 3: unit 16 bytes; 72 -> 80 (8 zero PAD bytes).
  const a = encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe, data }, { pda: 3 })
  t.same(a.subarray(0, 8), hex('04 00 48 50 90 00 00 00'), 'PDO 80, PLEN 144')
  t.same(a.subarray(72, 80), Buffer.alloc(8), 'PAD is zero')
  t.same(a.subarray(80), data)
  t.same(decodeCapsuleCmd(a, { pda: 3 }).data, data)
  // CPDA 31: unit 128; with HDGST 76 -> 128.
  const b = encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe, data }, { hdgst: true, pda: 31 })
  t.equal(b[3], 128)
  t.equal(b.readUInt32LE(4), 128 + 64)
  t.same(b.subarray(76, 128), Buffer.alloc(52))
  t.same(decodeCapsuleCmd(b, { hdgst: true, pda: 31 }).data, data)
  // PDA 1 (unit 8): 72 already aligned, no padding.
  t.equal(encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe, data }, { pda: 1 })[3], 72)
})

t.test('Connect response CapsuleResp (spec 11) and the HDGST example of spec 1.8', async (t) => {
  const c = cqe({ dw0: 1, sqhd: 1 })
  const a = encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: c })
  t.same(a, hex('05 00 18 00 18 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00'))
  t.same(decodeCapsuleResp(a).cqe, c)
  const b = encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: c }, D)
  t.same(b, hex('05 01 18 00 1c 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 42 62 33 32'))
  t.same(decodeCapsuleResp(b, D).cqe, c)
})

t.test('C2HData for a 4096-byte Identify (spec 11), without and with digests', async (t) => {
  const data = Buffer.alloc(4096)
  const pdu = { type: PduType.C2H_DATA, cccid: 0x1003, datao: 0, last: true, success: false, data } as const
  const a = encodeC2HData(pdu)
  t.equal(a.length, 24 + 4096)
  t.same(a.subarray(0, 24), hex('07 04 18 18 18 10 00 00 03 10 00 00 00 00 00 00 00 10 00 00 00 00 00 00'))
  t.same(decodeC2HData(a), { ...pdu, dataDigestOk: true })
  const parts = encodeC2HDataParts(pdu, D)
  t.equal(parts[1], data, 'data uncopied')
  const b = Buffer.concat(parts)
  t.equal(b.length, 24 + 4 + 4096 + 4)
  t.same(b.subarray(0, 24), hex('07 07 18 1c 20 10 00 00 03 10 00 00 00 00 00 00 00 10 00 00 00 00 00 00'))
  // See crc32c.test.ts: spec 11 prints these bytes in value order (f8 8f db 3b); the wire is little-endian.
  t.same(b.subarray(24, 28), hex('3b db 8f f8'), 'HDGST 0xf88fdb3b little-endian')
  t.same(b.subarray(28 + 4096), hex('89 41 f9 98'), 'DDGST 0x98F94189 little-endian')
  t.same(encodeC2HData(pdu, D), b, 'single-buffer encode equals the parts')
  const d = decodeC2HData(b, D)
  t.equal(d.dataDigestOk, true)
  t.equal(d.last, true)
  t.equal(d.success, false)
})

t.test('C2HData SUCCESS|LAST_PDU and HPDA padding', async (t) => {
  const data = pattern(8)
  const a = encodeC2HData({ type: PduType.C2H_DATA, cccid: 5, datao: 16, last: true, success: true, data })
  t.same(a, Buffer.concat([hex('07 0c 18 18 20 00 00 00 05 00 00 00 10 00 00 00 08 00 00 00 00 00 00 00'), data]))
  const b = encodeC2HData({ type: PduType.C2H_DATA, cccid: 5, datao: 16, last: true, success: true, data }, { hdgst: true, pda: 7 })
  t.same(b.subarray(0, 8), hex('07 0d 18 20 28 00 00 00'), 'HPDA 7: unit 32, PDO 32, PLEN 40')
  t.throws(() => encodeC2HData({ type: PduType.C2H_DATA, cccid: 5, datao: 0, last: false, success: true, data }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'success' })
})

t.test('R2T for 128 KiB (spec 11), with HDGST', async (t) => {
  const pdu = { type: PduType.R2T, cccid: 0x2005, ttag: 7, r2to: 0, r2tl: 128 * 1024 } as const
  const a = encodeR2T(pdu)
  t.same(a, hex('09 00 18 00 18 00 00 00 05 20 07 00 00 00 00 00 00 00 02 00 00 00 00 00'))
  t.same(decodeR2T(a), pdu)
  const b = encodeR2T(pdu, D)
  t.same(b, hex('09 01 18 00 1c 00 00 00 05 20 07 00 00 00 00 00 00 00 02 00 00 00 00 00 9d 5d b6 24'), 'no DDGSTF on R2T')
  t.same(decodeR2T(b, D), pdu)
})

t.test('H2CData answering the R2T (spec 11), and with digests', async (t) => {
  const data = pattern(65536)
  const pdu = { type: PduType.H2C_DATA, cccid: 0x2005, ttag: 7, datao: 65536, last: true, data } as const
  const parts = encodeH2CDataParts(pdu)
  t.equal(parts.length, 2)
  t.same(parts[0], hex('06 04 18 18 18 00 01 00 05 20 07 00 00 00 01 00 00 00 01 00 00 00 00 00'))
  t.equal(parts[1], data)
  const a = encodeH2CData(pdu)
  t.same(decodeH2CData(a), { ...pdu, dataDigestOk: true })
  const small = { type: PduType.H2C_DATA, cccid: 0x2005, ttag: 7, datao: 0, last: true, data: hex('00 01 02 03 04 05 06 07') } as const
  const b = encodeH2CData(small, D)
  t.same(b, hex('06 07 18 1c 28 00 00 00 05 20 07 00 00 00 00 00 08 00 00 00 00 00 00 00 a4 f9 33 b2 00 01 02 03 04 05 06 07 3b bc 2c 8a'))
  t.same(decodeH2CData(b, D), { ...small, dataDigestOk: true })
})

t.test('C2HTermReq reporting a bad HLEN (spec 11) and an H2CTermReq', async (t) => {
  const offending = Buffer.concat([hex('04 00 49 00 48 00 00 00'), pattern(64)])
  const a = encodeTermReq({ type: PduType.C2H_TERM_REQ, fes: 0x01, fei: 2, data: offending })
  t.equal(a.length, 96)
  t.same(a.subarray(0, 24), hex('03 00 18 00 60 00 00 00 01 00 02 00 00 00 00 00 00 00 00 00 00 00 00 00'))
  t.same(a.subarray(24), offending)
  const d = decodeTermReq(a)
  t.same(d, { type: PduType.C2H_TERM_REQ, fes: 1, fei: 2, data: offending })
  const b = encodeTermReq({ type: PduType.H2C_TERM_REQ, fes: 0x03, fei: 0, data: Buffer.alloc(0) }, D)
  t.same(b, hex('02 00 18 00 18 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00'), 'no digests on TermReq even when negotiated')
  t.same(decodeTermReq(b, D).data.length, 0)
  t.throws(() => encodeTermReq({ type: PduType.C2H_TERM_REQ, fes: 1, fei: 0, data: Buffer.alloc(129) }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'data' })
})

t.test('decodePdu dispatches on type; encodePduParts matches the per-type encoders', async (t) => {
  const samples: Pdu[] = [
    { type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: false, ddgst: false, maxr2t: 0 },
    { type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: false, ddgst: false, maxh2cdata: 4096 },
    { type: PduType.H2C_TERM_REQ, fes: 2, fei: 0, data: hex('01 02') },
    { type: PduType.C2H_TERM_REQ, fes: 2, fei: 0, data: hex('01 02') },
    { type: PduType.CAPSULE_CMD, sqe: connectSqe(), data: pattern(12) },
    { type: PduType.CAPSULE_RESP, cqe: cqe({ cid: 9 }) },
    { type: PduType.H2C_DATA, cccid: 1, ttag: 2, datao: 3, last: false, data: pattern(5) },
    { type: PduType.C2H_DATA, cccid: 1, datao: 3, last: true, success: false, data: pattern(5) },
    { type: PduType.R2T, cccid: 1, ttag: 2, r2to: 3, r2tl: 4 },
  ]
  for (const p of samples) {
    for (const opts of [{}, D]) {
      const raw = Buffer.concat(encodePduParts(p, opts))
      const d = decodePdu(raw, opts)
      t.equal(d.type, p.type)
      t.same(Buffer.concat(encodePduParts(d, opts)), raw, `type ${p.type} re-encodes identically`)
    }
  }
})
