/** fast-check arbitraries for every PDU type (shared by the PDU and framer property tests; not a test file). */
import fc from 'fast-check'
import { PduType, type C2HData, type CapsuleCmd, type CapsuleResp, type H2CData, type IcReq, type IcResp, type Pdu, type R2T, type TermReq } from '../../../lib/pdu/index.js'

const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a))

export const arbIcReq: fc.Arbitrary<IcReq> = fc.record({ type: fc.constant(PduType.IC_REQ), pfv: u16, hpda: fc.integer({ min: 0, max: 255 }), hdgst: fc.boolean(), ddgst: fc.boolean(), maxr2t: u32 })
export const arbIcResp: fc.Arbitrary<IcResp> = fc.record({ type: fc.constant(PduType.IC_RESP), pfv: u16, cpda: fc.integer({ min: 0, max: 255 }), hdgst: fc.boolean(), ddgst: fc.boolean(), maxh2cdata: u32 })
export const arbTermReq = (type: typeof PduType.H2C_TERM_REQ | typeof PduType.C2H_TERM_REQ): fc.Arbitrary<TermReq> =>
  fc.record({ type: fc.constant(type), fes: u16, fei: u32, data: bytes(0, 128) })
export const arbCapsuleCmd = (maxData = 2048): fc.Arbitrary<CapsuleCmd> =>
  fc.oneof(
    fc.record({ type: fc.constant(PduType.CAPSULE_CMD), sqe: bytes(64, 64) }),
    fc.record({ type: fc.constant(PduType.CAPSULE_CMD), sqe: bytes(64, 64), data: bytes(1, maxData) }),
  )
export const arbCapsuleResp: fc.Arbitrary<CapsuleResp> = fc.record({ type: fc.constant(PduType.CAPSULE_RESP), cqe: bytes(16, 16) })
export const arbH2CData = (maxData = 4096): fc.Arbitrary<H2CData> =>
  fc.record({ type: fc.constant(PduType.H2C_DATA), cccid: u16, ttag: u16, datao: u32, last: fc.boolean(), data: bytes(0, maxData) })
export const arbC2HData = (maxData = 4096): fc.Arbitrary<C2HData> =>
  fc
    .record({ type: fc.constant(PduType.C2H_DATA), cccid: u16, datao: u32, last: fc.boolean(), success: fc.boolean(), data: bytes(0, maxData) })
    .map((p) => ({ ...p, success: p.success && p.last }))
export const arbR2T: fc.Arbitrary<R2T> = fc.record({ type: fc.constant(PduType.R2T), cccid: u16, ttag: u16, r2to: u32, r2tl: u32 })

export const arbTargetBound = (maxData = 2048): fc.Arbitrary<Pdu> =>
  fc.oneof(arbIcReq, arbTermReq(PduType.H2C_TERM_REQ), arbCapsuleCmd(maxData), arbH2CData(maxData))
export const arbHostBound = (maxData = 2048): fc.Arbitrary<Pdu> =>
  fc.oneof(arbIcResp, arbTermReq(PduType.C2H_TERM_REQ), arbCapsuleResp, arbC2HData(maxData), arbR2T)
export const arbAnyPdu = (maxData = 2048): fc.Arbitrary<Pdu> => fc.oneof(arbTargetBound(maxData), arbHostBound(maxData))

export const arbOpts = fc.record({ hdgst: fc.boolean(), ddgst: fc.boolean(), pda: fc.integer({ min: 0, max: 31 }) })

/** Comparable form of a PDU: Buffers as hex, dataDigestOk dropped. */
export function norm(p: object): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(p)) {
    if (k === 'dataDigestOk') continue
    out[k] = Buffer.isBuffer(v) ? v.toString('hex') : v
  }
  return out
}
