/**
 * C2HData PDU (type 0x07, controller to host) — wire spec 1.7, 10.2. CH + 16-byte PSH, HDGST,
 * PAD to HPDA, DATAL data bytes, DDGST. SUCCESS (response elision) is only valid with LAST_PDU.
 */
import { InvalidArgumentError } from '../errors.js'
import { crc32c, crc32cRange } from '../crc32c.js'
import { CH_FLAGS, CH_HLEN, CH_PDO, CH_PLEN, CH_TYPE, DIGEST_SIZE, PduFlags, PduType, PDU_HLEN, type PduDecodeOptions, type PduEncodeOptions } from './common.js'
import { buildParts, check, checkDatal, checkPdu, joinParts, protocolFail } from './pdu-codec.js'

export const C2H_DATA_CCCID = 8
/** Reserved in C2HData (send 0), kept as a named offset for decoders that show it. */
export const C2H_DATA_RSVD_TTAG = 10
export const C2H_DATA_DATAO = 12
export const C2H_DATA_DATAL = 16
export const C2H_DATA_HLEN = PDU_HLEN[PduType.C2H_DATA]

export interface C2HData {
  type: typeof PduType.C2H_DATA
  cccid: number
  datao: number
  /** LAST_PDU: last data PDU of the command. */
  last: boolean
  /** SUCCESS: command succeeded, no CapsuleResp follows. Requires `last`. */
  success: boolean
  /** The data; DATAL on the wire is `data.length`. A view when decoded. */
  data: Buffer
  /** Set by decode: false when DDGST was present and did not match. */
  dataDigestOk?: boolean
}

/** Parts: [CH + PSH + HDGST + PAD, data (uncopied), DDGST?]. `opts.pda` is the host's HPDA. */
export function encodeC2HDataParts(pdu: C2HData, opts: PduEncodeOptions = {}): Buffer[] {
  check.u16('cccid', pdu.cccid)
  check.u32('datao', pdu.datao)
  // Spec 1.3: SUCCESS is only valid together with LAST_PDU.
  if (pdu.success && !pdu.last) throw new InvalidArgumentError('success', 'is only valid together with last (LAST_PDU)')
  const flags = (pdu.last ? PduFlags.LAST_PDU : 0) | (pdu.success ? PduFlags.SUCCESS : 0)
  return buildParts(PduType.C2H_DATA, flags, PDU_HLEN[PduType.C2H_DATA], pdu.data, opts, (h) => {
    h.writeUInt16LE(pdu.cccid, C2H_DATA_CCCID)
    h.writeUInt32LE(pdu.datao, C2H_DATA_DATAO)
    h.writeUInt32LE(pdu.data.length, C2H_DATA_DATAL)
  })
}

export function encodeC2HData(pdu: C2HData, opts: PduEncodeOptions = {}): Buffer {
  return joinParts(encodeC2HDataParts(pdu, opts))
}

/**
 * Decode one whole C2HData. SUCCESS without LAST_PDU is a protocol error (FES 0x01, FEI 1), as the
 * Linux host treats it; DATAL inconsistent with PLEN gives FEI 16.
 */
export function decodeC2HData(raw: Buffer, opts: PduDecodeOptions = {}): C2HData {
  const l = checkPdu(raw, PduType.C2H_DATA, opts)
  const flags = l.header.flags
  if ((flags & PduFlags.SUCCESS) !== 0 && (flags & PduFlags.LAST_PDU) === 0) protocolFail(CH_FLAGS, 'C2HData SUCCESS set without LAST_PDU', raw)
  const data = checkDatal(raw, C2H_DATA_DATAL, l.data!)
  return {
    type: PduType.C2H_DATA,
    cccid: raw.readUInt16LE(C2H_DATA_CCCID),
    datao: raw.readUInt32LE(C2H_DATA_DATAO),
    last: (flags & PduFlags.LAST_PDU) !== 0,
    success: (flags & PduFlags.SUCCESS) !== 0,
    data,
    dataDigestOk: l.dataDigestOk,
  }
}

/**
 * Whether {@link decodeC2HData} with both digests off accepts `raw`, checked in place without
 * building any object: the host's fast path for the PDU every read receives (docs/performance.md,
 * round 4) then reads CCCID, DATAO and FLAGS straight from `raw`, and the data from PDO to PLEN.
 * The same checks as checkPdu and decodeC2HData (HLEN, PLEN, no digest flags, PDO inside the PDU,
 * SUCCESS only with LAST_PDU, DATAL); when one fails the caller decodes normally, which names the field.
 */
export function isPlainC2HData(raw: Buffer): boolean {
  if (raw.length < C2H_DATA_HLEN || raw[CH_TYPE] !== PduType.C2H_DATA || raw[CH_HLEN] !== C2H_DATA_HLEN) return false
  const flags = raw[CH_FLAGS]!
  const pdo = raw[CH_PDO]!
  if ((flags & (PduFlags.HDGSTF | PduFlags.DDGSTF)) !== 0) return false
  if ((flags & PduFlags.SUCCESS) !== 0 && (flags & PduFlags.LAST_PDU) === 0) return false
  return raw.readUInt32LE(CH_PLEN) === raw.length && pdo >= C2H_DATA_HLEN && pdo <= raw.length && raw.readUInt32LE(C2H_DATA_DATAL) === raw.length - pdo
}

/**
 * {@link isPlainC2HData} with digests negotiated: the PDO of `raw` when {@link decodeC2HData} with
 * these digests accepts it and its data digest matches, checked in place (HDGST over the header,
 * DDGST over the data, computed here); -1 otherwise — a failed check or a data digest error — and
 * the caller decodes normally, which names the field or reports the digest error. The data runs
 * from PDO to PLEN minus the DDGST. The same checks as checkPdu (digest flags as negotiated, PDO
 * after the header digest, PLEN) and decodeC2HData (SUCCESS only with LAST_PDU, DATAL).
 */
export function c2hDataWithDigests(raw: Buffer, hdgst: boolean, ddgst: boolean): number {
  const hd = hdgst ? DIGEST_SIZE : 0
  const dd = ddgst ? DIGEST_SIZE : 0
  if (raw.length < C2H_DATA_HLEN + hd || raw[CH_TYPE] !== PduType.C2H_DATA || raw[CH_HLEN] !== C2H_DATA_HLEN) return -1
  const flags = raw[CH_FLAGS]!
  if (((flags & PduFlags.HDGSTF) !== 0) !== hdgst || ((flags & PduFlags.DDGSTF) !== 0) !== ddgst) return -1
  if ((flags & PduFlags.SUCCESS) !== 0 && (flags & PduFlags.LAST_PDU) === 0) return -1
  const plen = raw.length
  const pdo = raw[CH_PDO]!
  if (raw.readUInt32LE(CH_PLEN) !== plen || pdo < C2H_DATA_HLEN + hd || pdo + dd > plen) return -1
  if (raw.readUInt32LE(C2H_DATA_DATAL) !== plen - pdo - dd) return -1
  if (hdgst && raw.readUInt32LE(C2H_DATA_HLEN) !== crc32cRange(raw, 0, C2H_DATA_HLEN)) return -1
  if (ddgst && raw.readUInt32LE(plen - DIGEST_SIZE) !== crc32c(raw.subarray(pdo, plen - DIGEST_SIZE))) return -1
  return pdo
}
