/** NVMe/TCP PDU codecs: the union of all PDUs, and type-dispatching decode/encode. */
import { CH_SIZE, CH_PLEN, CH_TYPE, PduType, pduTypeName, type PduDecodeOptions, type PduEncodeOptions } from './common.js'
import { joinParts, protocolFail } from './pdu-codec.js'
import { decodeIcReq, encodeIcReqParts, type IcReq } from './ic-req.js'
import { decodeIcResp, encodeIcRespParts, type IcResp } from './ic-resp.js'
import { decodeTermReq, encodeTermReqParts, type TermReq } from './term-req.js'
import { decodeCapsuleCmd, encodeCapsuleCmdParts, type CapsuleCmd } from './capsule-cmd.js'
import { decodeCapsuleResp, encodeCapsuleRespParts, type CapsuleResp } from './capsule-resp.js'
import { decodeH2CData, encodeH2CDataParts, type H2CData } from './h2c-data.js'
import { decodeC2HData, encodeC2HDataParts, type C2HData } from './c2h-data.js'
import { decodeR2T, encodeR2TParts, type R2T } from './r2t.js'

export * from './common.js'
export * from './ic-req.js'
export * from './ic-resp.js'
export * from './term-req.js'
export * from './capsule-cmd.js'
export * from './capsule-resp.js'
export * from './h2c-data.js'
export * from './c2h-data.js'
export * from './r2t.js'

/** Any NVMe/TCP PDU, discriminated by `type`. */
export type Pdu = IcReq | IcResp | TermReq | CapsuleCmd | CapsuleResp | H2CData | C2HData | R2T

/**
 * Decode one whole PDU (as `PduFramer` yields it) by its type byte. Throws `NvmeTcpProtocolError`
 * (FES 0x01 FEI 0 for an unknown type). Data fields are views of `raw`.
 */
export function decodePdu(raw: Buffer, opts: PduDecodeOptions = {}): Pdu {
  if (raw.length < CH_SIZE) protocolFail(CH_PLEN, `PDU of ${raw.length} bytes is shorter than the common header`, raw)
  const type = raw[CH_TYPE]!
  switch (type) {
    case PduType.IC_REQ:
      return decodeIcReq(raw, opts)
    case PduType.IC_RESP:
      return decodeIcResp(raw, opts)
    case PduType.H2C_TERM_REQ:
    case PduType.C2H_TERM_REQ:
      return decodeTermReq(raw, opts)
    case PduType.CAPSULE_CMD:
      return decodeCapsuleCmd(raw, opts)
    case PduType.CAPSULE_RESP:
      return decodeCapsuleResp(raw, opts)
    case PduType.H2C_DATA:
      return decodeH2CData(raw, opts)
    case PduType.C2H_DATA:
      return decodeC2HData(raw, opts)
    case PduType.R2T:
      return decodeR2T(raw, opts)
    default:
      return protocolFail(CH_TYPE, `unknown PDU type ${pduTypeName(type)}`, raw)
  }
}

/** Encode any PDU as parts for a scatter-gather write (data buffers uncopied). */
export function encodePduParts(pdu: Pdu, opts: PduEncodeOptions = {}): Buffer[] {
  switch (pdu.type) {
    case PduType.IC_REQ:
      return encodeIcReqParts(pdu, opts)
    case PduType.IC_RESP:
      return encodeIcRespParts(pdu, opts)
    case PduType.H2C_TERM_REQ:
    case PduType.C2H_TERM_REQ:
      return encodeTermReqParts(pdu, opts)
    case PduType.CAPSULE_CMD:
      return encodeCapsuleCmdParts(pdu, opts)
    case PduType.CAPSULE_RESP:
      return encodeCapsuleRespParts(pdu, opts)
    case PduType.H2C_DATA:
      return encodeH2CDataParts(pdu, opts)
    case PduType.C2H_DATA:
      return encodeC2HDataParts(pdu, opts)
    case PduType.R2T:
      return encodeR2TParts(pdu, opts)
  }
}

/** Encode any PDU into one Buffer. */
export function encodePdu(pdu: Pdu, opts: PduEncodeOptions = {}): Buffer {
  return joinParts(encodePduParts(pdu, opts))
}
