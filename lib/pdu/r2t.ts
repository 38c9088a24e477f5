/** R2T PDU (type 0x09, controller to host) — wire spec 1.7, 10.1: CH + CCCID/TTAG/R2TO/R2TL (+ HDGST). */
import { PduType, PDU_HLEN, type PduDecodeOptions, type PduEncodeOptions } from './common.js'
import { buildParts, check, checkPdu, joinParts } from './pdu-codec.js'

export const R2T_CCCID = 8
export const R2T_TTAG = 10
export const R2T_R2TO = 12
export const R2T_R2TL = 16
export const R2T_HLEN = PDU_HLEN[PduType.R2T]

export interface R2T {
  type: typeof PduType.R2T
  cccid: number
  /** Controller-chosen transfer tag, echoed in the H2CData PDUs. */
  ttag: number
  /** Offset of the requested data. */
  r2to: number
  /** Bytes requested (the Linux host rejects 0). */
  r2tl: number
}

export function encodeR2TParts(pdu: R2T, opts: PduEncodeOptions = {}): Buffer[] {
  check.u16('cccid', pdu.cccid)
  check.u16('ttag', pdu.ttag)
  check.u32('r2to', pdu.r2to)
  check.u32('r2tl', pdu.r2tl)
  return buildParts(PduType.R2T, 0, PDU_HLEN[PduType.R2T], undefined, opts, (h) => {
    h.writeUInt16LE(pdu.cccid, R2T_CCCID)
    h.writeUInt16LE(pdu.ttag, R2T_TTAG)
    h.writeUInt32LE(pdu.r2to, R2T_R2TO)
    h.writeUInt32LE(pdu.r2tl, R2T_R2TL)
  })
}

export function encodeR2T(pdu: R2T, opts: PduEncodeOptions = {}): Buffer {
  return joinParts(encodeR2TParts(pdu, opts))
}

export function decodeR2T(raw: Buffer, opts: PduDecodeOptions = {}): R2T {
  checkPdu(raw, PduType.R2T, opts)
  return {
    type: PduType.R2T,
    cccid: raw.readUInt16LE(R2T_CCCID),
    ttag: raw.readUInt16LE(R2T_TTAG),
    r2to: raw.readUInt32LE(R2T_R2TO),
    r2tl: raw.readUInt32LE(R2T_R2TL),
  }
}
