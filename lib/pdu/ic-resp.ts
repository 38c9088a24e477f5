/** ICResp PDU (type 0x01, 128 bytes, controller to host) — wire spec 1.4. */
import { PduType, PDU_HLEN, type PduDecodeOptions, type PduEncodeOptions } from './common.js'
import { buildParts, check, checkPdu, joinParts } from './pdu-codec.js'
import { DGST_DDGST_ENABLE, DGST_HDGST_ENABLE } from './ic-req.js'

export const IC_RESP_PFV = 8
export const IC_RESP_CPDA = 10
export const IC_RESP_DGST = 11
export const IC_RESP_MAXH2CDATA = 12
export const IC_RESP_SIZE = PDU_HLEN[PduType.IC_RESP]

export interface IcResp {
  type: typeof PduType.IC_RESP
  /** PDU format version; 0. */
  pfv: number
  /** Controller PDU data alignment, 0's based dwords (Linux host requires 0). */
  cpda: number
  /** Header digest in effect (DGST bit 0). */
  hdgst: boolean
  /** Data digest in effect (DGST bit 1). */
  ddgst: boolean
  /** Max data bytes in one H2CData PDU (Linux host requires >= 4096 and a multiple of 4). */
  maxh2cdata: number
}

/** ICResp never carries digests or data; `opts` is accepted for a uniform API and ignored. */
export function encodeIcRespParts(pdu: IcResp, _opts: PduEncodeOptions = {}): Buffer[] {
  check.u16('pfv', pdu.pfv)
  check.u8('cpda', pdu.cpda)
  check.u32('maxh2cdata', pdu.maxh2cdata)
  return buildParts(PduType.IC_RESP, 0, PDU_HLEN[PduType.IC_RESP], undefined, {}, (h) => {
    h.writeUInt16LE(pdu.pfv, IC_RESP_PFV)
    h[IC_RESP_CPDA] = pdu.cpda
    h[IC_RESP_DGST] = (pdu.hdgst ? DGST_HDGST_ENABLE : 0) | (pdu.ddgst ? DGST_DDGST_ENABLE : 0)
    h.writeUInt32LE(pdu.maxh2cdata, IC_RESP_MAXH2CDATA)
  })
}

export function encodeIcResp(pdu: IcResp, opts: PduEncodeOptions = {}): Buffer {
  return joinParts(encodeIcRespParts(pdu, opts))
}

/** Decode one whole ICResp. Digests never apply to it (spec 1.2); FLAGS is ignored. */
export function decodeIcResp(raw: Buffer, _opts: PduDecodeOptions = {}): IcResp {
  checkPdu(raw, PduType.IC_RESP, {})
  const dgst = raw[IC_RESP_DGST]!
  return {
    type: PduType.IC_RESP,
    pfv: raw.readUInt16LE(IC_RESP_PFV),
    cpda: raw[IC_RESP_CPDA]!,
    hdgst: (dgst & DGST_HDGST_ENABLE) !== 0,
    ddgst: (dgst & DGST_DDGST_ENABLE) !== 0,
    maxh2cdata: raw.readUInt32LE(IC_RESP_MAXH2CDATA),
  }
}
