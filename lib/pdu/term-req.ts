/**
 * H2CTermReq (0x02) and C2HTermReq (0x03) — wire spec 1.5. Same layout both directions: 24-byte
 * header with FES/FEI, then a copy of the offending PDU header (at most 128 bytes). FLAGS 0, no digests.
 */
import { InvalidArgumentError } from '../errors.js'
import { CH_PDO, CH_PLEN, CH_SIZE, CH_TYPE, CH_HLEN, PduType, PDU_HLEN, pduTypeName, readCommonHeader, writeCommonHeader, type PduDecodeOptions, type PduEncodeOptions } from './common.js'
import { check, joinParts, protocolFail } from './pdu-codec.js'

export const TERM_REQ_FES = 8
export const TERM_REQ_FEI = 10
export const TERM_REQ_HLEN = PDU_HLEN[PduType.H2C_TERM_REQ]
/** At most this many bytes of the offending header are copied (spec 1.5). */
export const TERM_REQ_MAX_DATA = 128
/** PLEN bounds (Linux NVME_TCP_MIN/MAX_C2HTERM_PLEN, SPDK TERM_REQ_PDU_MAX_SIZE). */
export const TERM_REQ_MIN_PLEN = TERM_REQ_HLEN
export const TERM_REQ_MAX_PLEN = TERM_REQ_HLEN + TERM_REQ_MAX_DATA

export interface TermReq {
  type: typeof PduType.H2C_TERM_REQ | typeof PduType.C2H_TERM_REQ
  /** Fatal Error Status (see `FES` in lib/errors.ts). */
  fes: number
  /** Fatal Error Information: for FES 0x01/0x06 the byte offset of the bad field, else 0. */
  fei: number
  /** Copy of (the start of) the offending PDU header, <= 128 bytes. A view when decoded. */
  data: Buffer
}
export type H2CTermReq = TermReq & { type: typeof PduType.H2C_TERM_REQ }
export type C2HTermReq = TermReq & { type: typeof PduType.C2H_TERM_REQ }

/**
 * Encode a TermReq. The offending header is copied into the PDU buffer (it is small and usually a
 * view of a receive buffer that is about to be reused), so this always returns one part.
 */
export function encodeTermReqParts(pdu: TermReq, _opts: PduEncodeOptions = {}): Buffer[] {
  if (pdu.type !== PduType.H2C_TERM_REQ && pdu.type !== PduType.C2H_TERM_REQ) throw new InvalidArgumentError('type', 'must be H2C_TERM_REQ (2) or C2H_TERM_REQ (3)')
  check.u16('fes', pdu.fes)
  check.u32('fei', pdu.fei)
  if (!(pdu.data instanceof Uint8Array) || pdu.data.length > TERM_REQ_MAX_DATA) throw new InvalidArgumentError('data', `must be a Buffer of at most ${TERM_REQ_MAX_DATA} bytes`)
  // No digests and PDO 0 (spec 1.5), so the header and the copied data go in one zeroed buffer.
  const out = Buffer.alloc(TERM_REQ_HLEN + pdu.data.length)
  writeCommonHeader(out, pdu.type, 0, TERM_REQ_HLEN, 0, out.length)
  out.writeUInt16LE(pdu.fes, TERM_REQ_FES)
  out.writeUInt32LE(pdu.fei, TERM_REQ_FEI)
  out.set(pdu.data, TERM_REQ_HLEN)
  return [out]
}

export function encodeTermReq(pdu: TermReq, opts: PduEncodeOptions = {}): Buffer {
  return joinParts(encodeTermReqParts(pdu, opts))
}

/**
 * Decode one whole H2CTermReq or C2HTermReq. Digests never apply (the Linux host skips digest
 * checks on C2HTermReq), so FLAGS is ignored. PDO is accepted as 0 (what Linux/SPDK send) or 24.
 */
export function decodeTermReq(raw: Buffer, _opts: PduDecodeOptions = {}): TermReq {
  if (raw.length < CH_SIZE) protocolFail(CH_PLEN, `PDU of ${raw.length} bytes is shorter than the common header`, raw)
  const ch = readCommonHeader(raw)
  if (ch.type !== PduType.H2C_TERM_REQ && ch.type !== PduType.C2H_TERM_REQ) protocolFail(CH_TYPE, `expected a TermReq, got ${pduTypeName(ch.type)}`, raw)
  if (ch.hlen !== PDU_HLEN[ch.type]) protocolFail(CH_HLEN, `TermReq HLEN must be ${TERM_REQ_HLEN}, got ${ch.hlen}`, raw)
  if (ch.pdo !== 0 && ch.pdo !== TERM_REQ_HLEN) protocolFail(CH_PDO, `TermReq PDO must be 0 or 24, got ${ch.pdo}`, raw)
  if (ch.plen !== raw.length) protocolFail(CH_PLEN, `PLEN ${ch.plen} does not match the ${raw.length} bytes of the PDU`, raw)
  if (ch.plen < TERM_REQ_MIN_PLEN || ch.plen > TERM_REQ_MAX_PLEN) protocolFail(CH_PLEN, `TermReq PLEN ${ch.plen} outside [${TERM_REQ_MIN_PLEN}, ${TERM_REQ_MAX_PLEN}]`, raw)
  return {
    type: ch.type,
    fes: raw.readUInt16LE(TERM_REQ_FES),
    fei: raw.readUInt32LE(TERM_REQ_FEI),
    data: raw.subarray(TERM_REQ_HLEN, ch.plen),
  }
}
