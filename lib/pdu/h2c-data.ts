/**
 * H2CData PDU (type 0x06, host to controller) — wire spec 1.7, 10.1: the host's answer to an R2T.
 * CH + 16-byte PSH, HDGST, PAD to CPDA, DATAL data bytes, DDGST.
 */
import { PduFlags, PduType, PDU_HLEN, type PduDecodeOptions, type PduEncodeOptions } from './common.js'
import { buildParts, check, checkDatal, checkPdu, joinParts } from './pdu-codec.js'

export const H2C_DATA_CCCID = 8
export const H2C_DATA_TTAG = 10
export const H2C_DATA_DATAO = 12
export const H2C_DATA_DATAL = 16
export const H2C_DATA_HLEN = PDU_HLEN[PduType.H2C_DATA]

export interface H2CData {
  type: typeof PduType.H2C_DATA
  /** CID of the command this data belongs to. */
  cccid: number
  /** Transfer tag copied from the R2T. */
  ttag: number
  /** Offset of this PDU's data within the command's data buffer. */
  datao: number
  /** LAST_PDU: this PDU completes the R2T. */
  last: boolean
  /** The data; DATAL on the wire is `data.length`. A view when decoded. */
  data: Buffer
  /** Set by decode: false when DDGST was present and did not match. */
  dataDigestOk?: boolean
}

/** Parts: [CH + PSH + HDGST + PAD, data (uncopied), DDGST?]. `opts.pda` is the controller's CPDA. */
export function encodeH2CDataParts(pdu: H2CData, opts: PduEncodeOptions = {}): Buffer[] {
  check.u16('cccid', pdu.cccid)
  check.u16('ttag', pdu.ttag)
  check.u32('datao', pdu.datao)
  return buildParts(PduType.H2C_DATA, pdu.last ? PduFlags.LAST_PDU : 0, PDU_HLEN[PduType.H2C_DATA], pdu.data, opts, (h) => {
    h.writeUInt16LE(pdu.cccid, H2C_DATA_CCCID)
    h.writeUInt16LE(pdu.ttag, H2C_DATA_TTAG)
    h.writeUInt32LE(pdu.datao, H2C_DATA_DATAO)
    h.writeUInt32LE(pdu.data.length, H2C_DATA_DATAL)
  })
}

export function encodeH2CData(pdu: H2CData, opts: PduEncodeOptions = {}): Buffer {
  return joinParts(encodeH2CDataParts(pdu, opts))
}

/**
 * Decode one whole H2CData. DATAL must equal the data bytes between PDO and DDGST (the Linux target
 * requires `DATAL == PLEN - 24 - HDGST - DDGST`); otherwise FES 0x01 with FEI 16 (DATAL).
 */
export function decodeH2CData(raw: Buffer, opts: PduDecodeOptions = {}): H2CData {
  const l = checkPdu(raw, PduType.H2C_DATA, opts)
  const data = checkDatal(raw, H2C_DATA_DATAL, l.data!)
  return {
    type: PduType.H2C_DATA,
    cccid: raw.readUInt16LE(H2C_DATA_CCCID),
    ttag: raw.readUInt16LE(H2C_DATA_TTAG),
    datao: raw.readUInt32LE(H2C_DATA_DATAO),
    last: (l.header.flags & PduFlags.LAST_PDU) !== 0,
    data,
    dataDigestOk: l.dataDigestOk,
  }
}
