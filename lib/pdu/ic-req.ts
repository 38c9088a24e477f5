/** ICReq PDU (type 0x00, 128 bytes, host to controller) — wire spec 1.4. */
import { PduType, PDU_HLEN, type PduDecodeOptions, type PduEncodeOptions } from './common.js'
import { buildParts, check, checkPdu, joinParts } from './pdu-codec.js'

export const IC_REQ_PFV = 8
export const IC_REQ_HPDA = 10
export const IC_REQ_DGST = 11
export const IC_REQ_MAXR2T = 12
export const IC_REQ_SIZE = PDU_HLEN[PduType.IC_REQ]

/** DGST bits of ICReq/ICResp (spec 1.4). */
export const DGST_HDGST_ENABLE = 0x01
export const DGST_DDGST_ENABLE = 0x02

export interface IcReq {
  type: typeof PduType.IC_REQ
  /** PDU format version; only 0 is defined (the receiver checks it: FES 0x01, FEI 8). */
  pfv: number
  /** Host PDU data alignment, 0's based dwords (0..31). */
  hpda: number
  /** Header digest requested (DGST bit 0). */
  hdgst: boolean
  /** Data digest requested (DGST bit 1). */
  ddgst: boolean
  /** Max outstanding R2Ts per command, 0's based. */
  maxr2t: number
}

/** ICReq never carries digests or data; `opts` is accepted for a uniform API and ignored. */
export function encodeIcReqParts(pdu: IcReq, _opts: PduEncodeOptions = {}): Buffer[] {
  check.u16('pfv', pdu.pfv)
  check.u8('hpda', pdu.hpda)
  check.u32('maxr2t', pdu.maxr2t)
  return buildParts(PduType.IC_REQ, 0, PDU_HLEN[PduType.IC_REQ], undefined, {}, (h) => {
    h.writeUInt16LE(pdu.pfv, IC_REQ_PFV)
    h[IC_REQ_HPDA] = pdu.hpda
    h[IC_REQ_DGST] = (pdu.hdgst ? DGST_HDGST_ENABLE : 0) | (pdu.ddgst ? DGST_DDGST_ENABLE : 0)
    h.writeUInt32LE(pdu.maxr2t, IC_REQ_MAXR2T)
  })
}

export function encodeIcReq(pdu: IcReq, opts: PduEncodeOptions = {}): Buffer {
  return joinParts(encodeIcReqParts(pdu, opts))
}

/** Decode one whole ICReq. Digests never apply to it (spec 1.2), whatever `opts` says; FLAGS is ignored. */
export function decodeIcReq(raw: Buffer, _opts: PduDecodeOptions = {}): IcReq {
  checkPdu(raw, PduType.IC_REQ, {})
  const dgst = raw[IC_REQ_DGST]!
  return {
    type: PduType.IC_REQ,
    pfv: raw.readUInt16LE(IC_REQ_PFV),
    hpda: raw[IC_REQ_HPDA]!,
    hdgst: (dgst & DGST_HDGST_ENABLE) !== 0,
    ddgst: (dgst & DGST_DDGST_ENABLE) !== 0,
    maxr2t: raw.readUInt32LE(IC_REQ_MAXR2T),
  }
}
