/**
 * NVMe/TCP common header (CH), PDU types, flags, digest/alignment options and PDO arithmetic
 * (wire spec sections 1.1-1.3, 1.8, 1.9). All integers little-endian.
 */

/** PDU type values (spec 1.2). 0x08 is undefined and treated as invalid. */
export const PduType = {
  IC_REQ: 0x00,
  IC_RESP: 0x01,
  H2C_TERM_REQ: 0x02,
  C2H_TERM_REQ: 0x03,
  CAPSULE_CMD: 0x04,
  CAPSULE_RESP: 0x05,
  H2C_DATA: 0x06,
  C2H_DATA: 0x07,
  R2T: 0x09,
} as const
export type PduTypeValue = (typeof PduType)[keyof typeof PduType]

/** CH FLAGS bits (spec 1.3); bits 4-7 are reserved, sent as 0 and ignored on receive. */
export const PduFlags = {
  HDGSTF: 0x01,
  DDGSTF: 0x02,
  LAST_PDU: 0x04,
  SUCCESS: 0x08,
} as const

/** Header length (CH + PSH, excluding HDGST) per PDU type (spec 1.2). */
export const PDU_HLEN: Readonly<Record<PduTypeValue, number>> = {
  [PduType.IC_REQ]: 128,
  [PduType.IC_RESP]: 128,
  [PduType.H2C_TERM_REQ]: 24,
  [PduType.C2H_TERM_REQ]: 24,
  [PduType.CAPSULE_CMD]: 72,
  [PduType.CAPSULE_RESP]: 24,
  [PduType.H2C_DATA]: 24,
  [PduType.C2H_DATA]: 24,
  [PduType.R2T]: 24,
}

const PDU_TYPE_NAMES: Readonly<Record<number, string>> = {
  0x00: 'ICReq',
  0x01: 'ICResp',
  0x02: 'H2CTermReq',
  0x03: 'C2HTermReq',
  0x04: 'CapsuleCmd',
  0x05: 'CapsuleResp',
  0x06: 'H2CData',
  0x07: 'C2HData',
  0x09: 'R2T',
}

export function pduTypeName(t: number): string {
  return PDU_TYPE_NAMES[t] ?? `unknown(0x${t.toString(16).padStart(2, '0')})`
}

export function isPduType(t: number): t is PduTypeValue {
  return PDU_TYPE_NAMES[t] !== undefined
}

// Common header offsets (spec 1.1).
export const CH_TYPE = 0
export const CH_FLAGS = 1
export const CH_HLEN = 2
export const CH_PDO = 3
export const CH_PLEN = 4
export const CH_SIZE = 8

/** Size of one digest (HDGST or DDGST). */
export const DIGEST_SIZE = 4
/** Largest PDA (HPDA/CPDA) value, 0's based dwords (spec 1.4). */
export const MAX_PDA = 31

/** Types that carry HDGST when header digest was negotiated (spec 1.2, 1.3). */
export function typeHasHeaderDigest(t: number): boolean {
  return t === PduType.CAPSULE_CMD || t === PduType.CAPSULE_RESP || t === PduType.H2C_DATA || t === PduType.C2H_DATA || t === PduType.R2T
}

/** Types that may carry data and so DDGST (spec 1.2). */
export function typeHasDataDigest(t: number): boolean {
  return t === PduType.CAPSULE_CMD || t === PduType.H2C_DATA || t === PduType.C2H_DATA
}

/** The digests in effect on a connection (ICResp DGST). */
export interface DigestOptions {
  hdgst: boolean
  ddgst: boolean
}

/**
 * Options of every `encode*` function. `hdgst`/`ddgst` are the digests in effect (absent = off);
 * `pda` is the alignment the receiver asked for (CPDA for H2C data, HPDA for C2H data), 0's based
 * dwords: data starts at the first multiple of `(pda + 1) * 4` at or after the header (+ HDGST).
 */
export interface PduEncodeOptions {
  hdgst?: boolean
  ddgst?: boolean
  pda?: number
}

/**
 * Options of every `decode*` function: the digests in effect (absent = off) and, optionally, the
 * alignment this side asked for (HPDA on a host, CPDA on a target). With `pda` given, PDO of a PDU
 * with data must be exactly `dataOffset(hlen, hdgst, pda)` (minimal padding, spec 1.9); without it
 * any PDO at or after the header (+ HDGST) is accepted.
 */
export interface PduDecodeOptions {
  hdgst?: boolean
  ddgst?: boolean
  pda?: number
}

/** The common header fields as read from the wire. */
export interface CommonHeader {
  type: number
  flags: number
  hlen: number
  pdo: number
  plen: number
}

export function readCommonHeader(raw: Uint8Array, offset = 0): CommonHeader {
  const b = raw
  const o = offset
  return {
    type: b[o + CH_TYPE]!,
    flags: b[o + CH_FLAGS]!,
    hlen: b[o + CH_HLEN]!,
    pdo: b[o + CH_PDO]!,
    plen: (b[o + CH_PLEN]! | (b[o + CH_PLEN + 1]! << 8) | (b[o + CH_PLEN + 2]! << 16) | (b[o + CH_PLEN + 3]! << 24)) >>> 0,
  }
}

export function writeCommonHeader(buf: Buffer, type: number, flags: number, hlen: number, pdo: number, plen: number): void {
  buf[CH_TYPE] = type
  buf[CH_FLAGS] = flags
  buf[CH_HLEN] = hlen
  buf[CH_PDO] = pdo
  buf[CH_PLEN] = plen
  buf[CH_PLEN + 1] = plen >>> 8
  buf[CH_PLEN + 2] = plen >>> 16
  buf[CH_PLEN + 3] = plen >>> 24
}

/** Data offset for a PDU carrying data: right after header+HDGST, rounded up to the PDA unit (spec 1.9). */
export function dataOffset(hlen: number, hdgst: boolean, pda = 0): number {
  const start = hlen + (hdgst ? DIGEST_SIZE : 0)
  if (pda === 0) return start
  const unit = (pda + 1) * 4
  return Math.ceil(start / unit) * unit
}
