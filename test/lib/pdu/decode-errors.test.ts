/** Every decode violation is an NvmeTcpProtocolError with the right FES and FEI (spec 1.3, 1.5, 1.9). */
import t, { type Test } from 'tap'
import { FES, NvmeTcpProtocolError } from '../../../lib/errors.js'
import {
  PduType,
  decodeC2HData,
  decodeCapsuleCmd,
  decodeCapsuleResp,
  decodeH2CData,
  decodeIcReq,
  decodePdu,
  decodeR2T,
  decodeTermReq,
  encodeC2HData,
  encodeCapsuleCmd,
  encodeCapsuleResp,
  encodeCapsuleRespParts,
  encodeH2CData,
  encodeIcReq,
  encodeR2T,
  encodeTermReq,
  encodeC2HDataParts,
} from '../../../lib/pdu/index.js'
import { connectSqe, cqe, pattern } from './fixtures.js'

function expectProto(t: Test, fn: () => unknown, fes: number, fei: number, what: string): NvmeTcpProtocolError | undefined {
  try {
    fn()
  } catch (e) {
    t.type(e, NvmeTcpProtocolError, `${what}: NvmeTcpProtocolError`)
    const err = e as NvmeTcpProtocolError
    t.equal(err.fes, fes, `${what}: FES ${fes}`)
    t.equal(err.fei, fei, `${what}: FEI ${fei}`)
    t.equal(err.code, 'ERR_NVMEOF_PROTOCOL')
    return err
  }
  t.fail(`${what}: did not throw`)
  return undefined
}

const D = { hdgst: true, ddgst: true }
function flip(b: Buffer, i: number, mask: number): void {
  b[i] = b[i]! ^ mask
}
const h2c = () => encodeH2CData({ type: PduType.H2C_DATA, cccid: 1, ttag: 2, datao: 0, last: true, data: pattern(64) }, D)
const c2h = () => encodeC2HData({ type: PduType.C2H_DATA, cccid: 1, datao: 0, last: true, success: false, data: pattern(64) }, D)

t.test('header digest mismatch is FES 0x03', async (t) => {
  const raw = h2c()
  flip(raw, 8, 1) // CCCID changed after the digest was computed
  expectProto(t, () => decodeH2CData(raw, D), FES.HEADER_DIGEST_ERROR, 0, 'H2CData')
  const r = encodeR2T({ type: PduType.R2T, cccid: 1, ttag: 2, r2to: 0, r2tl: 8 }, D)
  flip(r, 24, 0x80) // the digest itself
  expectProto(t, () => decodeR2T(r, D), FES.HEADER_DIGEST_ERROR, 0, 'R2T')
  const resp = encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({ cid: 3 }) }, D)
  flip(resp, 20, 1)
  const err = expectProto(t, () => decodeCapsuleResp(resp, D), FES.HEADER_DIGEST_ERROR, 0, 'CapsuleResp')
  t.same(err?.header, resp, 'the error carries a copy of the offending header')
  resp[0] = 0xee
  t.equal(err?.header?.[0], 0x05, 'the copy does not change when the source buffer is reused')
})

t.test('digest flag rules of spec 1.3 are FES 0x01, FEI 1', async (t) => {
  const plain = encodeR2T({ type: PduType.R2T, cccid: 1, ttag: 2, r2to: 0, r2tl: 8 })
  expectProto(t, () => decodeR2T(plain, { hdgst: true, ddgst: false }), FES.INVALID_HEADER_FIELD, 1, 'HDGST negotiated, HDGSTF missing')
  const withHd = encodeR2T({ type: PduType.R2T, cccid: 1, ttag: 2, r2to: 0, r2tl: 8 }, { hdgst: true })
  expectProto(t, () => decodeR2T(withHd, {}), FES.INVALID_HEADER_FIELD, 1, 'HDGSTF without negotiation')
  const noDd = encodeC2HData({ type: PduType.C2H_DATA, cccid: 1, datao: 0, last: true, success: false, data: pattern(8) }, { hdgst: true })
  expectProto(t, () => decodeC2HData(noDd, D), FES.INVALID_HEADER_FIELD, 1, 'DDGST negotiated, data without DDGSTF')
  expectProto(t, () => decodeC2HData(c2h(), { hdgst: true }), FES.INVALID_HEADER_FIELD, 1, 'DDGSTF without negotiation')
  // A CapsuleCmd without data does not need DDGSTF even when DDGST is negotiated.
  const cmd = encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe: connectSqe() }, D)
  t.equal(decodeCapsuleCmd(cmd, D).data, undefined)
  // ICReq/ICResp/TermReq are decoded regardless of negotiated digests (they never carry any).
  t.equal(decodeIcReq(encodeIcReq({ type: 0, pfv: 0, hpda: 0, hdgst: true, ddgst: true, maxr2t: 0 }), D).hdgst, true)
  t.equal(decodeTermReq(encodeTermReq({ type: 3, fes: 1, fei: 4, data: Buffer.alloc(8) }), D).fei, 4)
})

t.test('SUCCESS without LAST_PDU is FES 0x01, FEI 1', async (t) => {
  const raw = encodeC2HData({ type: PduType.C2H_DATA, cccid: 1, datao: 0, last: true, success: true, data: pattern(4) })
  raw[1] = 0x08
  expectProto(t, () => decodeC2HData(raw), FES.INVALID_HEADER_FIELD, 1, 'SUCCESS alone')
})

t.test('a bad data digest does not throw: dataDigestOk is false', async (t) => {
  for (const [name, make, dec] of [
    ['H2CData', h2c, decodeH2CData],
    ['C2HData', c2h, decodeC2HData],
    ['CapsuleCmd', () => encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe: connectSqe(), data: pattern(1024) }, D), decodeCapsuleCmd],
  ] as const) {
    const raw = make()
    flip(raw, raw.length - 10, 0x40) // a data byte
    const d = dec(raw, D)
    t.equal(d.dataDigestOk, false, `${name} data byte flipped`)
    const raw2 = make()
    flip(raw2, raw2.length - 1, 0x01) // the digest itself
    t.equal(dec(raw2, D).dataDigestOk, false, `${name} digest flipped`)
    t.equal(dec(make(), D).dataDigestOk, true, `${name} intact`)
  }
})

t.test('type, HLEN, PDO, PLEN and DATAL violations name their field offset', async (t) => {
  expectProto(t, () => decodeH2CData(c2h(), D), FES.INVALID_HEADER_FIELD, 0, 'wrong type for the decoder')
  expectProto(t, () => decodePdu(Buffer.from([0x08, 0, 24, 0, 24, 0, 0, 0, ...Buffer.alloc(16)])), FES.INVALID_HEADER_FIELD, 0, 'undefined type 0x08')
  expectProto(t, () => decodePdu(Buffer.from([0x05, 0, 24])), FES.INVALID_HEADER_FIELD, 4, 'shorter than the CH')

  const resp = Buffer.concat(encodeCapsuleRespParts({ type: PduType.CAPSULE_RESP, cqe: cqe({}) }))
  resp[2] = 25
  expectProto(t, () => decodeCapsuleResp(resp), FES.INVALID_HEADER_FIELD, 2, 'HLEN 25')

  const plenBad = h2c()
  plenBad.writeUInt32LE(plenBad.length + 1, 4)
  expectProto(t, () => decodeH2CData(plenBad, D), FES.INVALID_HEADER_FIELD, 4, 'PLEN != length')

  const ic = encodeIcReq({ type: 0, pfv: 0, hpda: 0, hdgst: false, ddgst: false, maxr2t: 0 })
  expectProto(t, () => decodeIcReq(Buffer.concat([ic, Buffer.alloc(4)])), FES.INVALID_HEADER_FIELD, 4, 'ICReq of 132 bytes')

  const pdoInHeader = encodeH2CData({ type: PduType.H2C_DATA, cccid: 1, ttag: 2, datao: 0, last: true, data: pattern(64) })
  pdoInHeader[3] = 20
  expectProto(t, () => decodeH2CData(pdoInHeader), FES.INVALID_HEADER_FIELD, 3, 'PDO inside the header')
  const pdoUnaligned = encodeH2CData({ type: PduType.H2C_DATA, cccid: 1, ttag: 2, datao: 0, last: true, data: pattern(64) })
  expectProto(t, () => decodeH2CData(pdoUnaligned, { pda: 3 }), FES.INVALID_HEADER_FIELD, 3, 'PDO 24 when CPDA 3 asks for 32')
  const respPdo = Buffer.concat(encodeCapsuleRespParts({ type: PduType.CAPSULE_RESP, cqe: cqe({}) }))
  respPdo[3] = 24
  expectProto(t, () => decodeCapsuleResp(respPdo), FES.INVALID_HEADER_FIELD, 3, 'PDO on a PDU without data')

  const datal = encodeH2CData({ type: PduType.H2C_DATA, cccid: 1, ttag: 2, datao: 0, last: true, data: pattern(64) })
  datal.writeUInt32LE(65, 16)
  expectProto(t, () => decodeH2CData(datal), FES.INVALID_HEADER_FIELD, 16, 'H2CData DATAL != PLEN - PDO')
  const c2hDatal = Buffer.concat(encodeC2HDataParts({ type: PduType.C2H_DATA, cccid: 1, datao: 0, last: true, success: false, data: pattern(64) }))
  c2hDatal.writeUInt32LE(63, 16)
  expectProto(t, () => decodeC2HData(c2hDatal), FES.INVALID_HEADER_FIELD, 16, 'C2HData DATAL != PLEN - PDO')

  const term = encodeTermReq({ type: PduType.C2H_TERM_REQ, fes: 1, fei: 0, data: Buffer.alloc(128) })
  const tooLong = Buffer.concat([term, Buffer.alloc(1)])
  tooLong.writeUInt32LE(153, 4)
  expectProto(t, () => decodeTermReq(tooLong), FES.INVALID_HEADER_FIELD, 4, 'TermReq PLEN 153')
  const termPdo = encodeTermReq({ type: PduType.C2H_TERM_REQ, fes: 1, fei: 0, data: Buffer.alloc(8) })
  termPdo[3] = 24
  t.equal(decodeTermReq(termPdo).data.length, 8, 'TermReq PDO 24 is tolerated')
  termPdo[3] = 8
  expectProto(t, () => decodeTermReq(termPdo), FES.INVALID_HEADER_FIELD, 3, 'TermReq PDO 8')

  const capNoData = encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe: connectSqe() })
  const capExtra = Buffer.concat([capNoData, Buffer.alloc(4)])
  capExtra.writeUInt32LE(76, 4)
  expectProto(t, () => decodeCapsuleCmd(capExtra), FES.INVALID_HEADER_FIELD, 4, 'CapsuleCmd PDO 0 with trailing bytes')
})

t.test('encode rejects bad arguments with InvalidArgumentError naming the field', async (t) => {
  t.throws(() => encodeCapsuleCmd({ type: PduType.CAPSULE_CMD, sqe: Buffer.alloc(63) }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'sqe' })
  t.throws(() => encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: Buffer.alloc(17) }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'cqe' })
  t.throws(() => encodeR2T({ type: PduType.R2T, cccid: 0x10000, ttag: 0, r2to: 0, r2tl: 1 }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'cccid' })
  t.throws(() => encodeR2T({ type: PduType.R2T, cccid: 1, ttag: 0, r2to: -1, r2tl: 1 }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'r2to' })
  t.throws(() => encodeH2CData({ type: PduType.H2C_DATA, cccid: 1, ttag: 0, datao: 0, last: true, data: pattern(4) }, { pda: 32 }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'pda' })
  t.throws(() => encodeIcReq({ type: 0, pfv: 0, hpda: 256, hdgst: false, ddgst: false, maxr2t: 0 }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'hpda' })
})
