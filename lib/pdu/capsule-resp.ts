/** CapsuleResp PDU (type 0x05, controller to host) — wire spec 1.6: CH + 16-byte CQE (+ HDGST). */
import { crc32cRange } from '../crc32c.js'
import { CH_FLAGS, CH_HLEN, CH_PDO, CH_PLEN, CH_TYPE, DIGEST_SIZE, PduFlags, PduType, PDU_HLEN, type PduDecodeOptions, type PduEncodeOptions } from './common.js'
import { buildParts, checkFixedBuffer, checkPdu, joinParts } from './pdu-codec.js'

export const CAPSULE_RESP_CQE = 8
export const CAPSULE_RESP_CQE_SIZE = 16
export const CAPSULE_RESP_HLEN = PDU_HLEN[PduType.CAPSULE_RESP]

export interface CapsuleResp {
  type: typeof PduType.CAPSULE_RESP
  /** The 16-byte CQE (a view when decoded); lib/nvme/cqe.ts decodes it. */
  cqe: Buffer
}

export function encodeCapsuleRespParts(pdu: CapsuleResp, opts: PduEncodeOptions = {}): Buffer[] {
  checkFixedBuffer('cqe', pdu.cqe, CAPSULE_RESP_CQE_SIZE)
  return buildParts(PduType.CAPSULE_RESP, 0, PDU_HLEN[PduType.CAPSULE_RESP], undefined, opts, (h) => {
    h.set(pdu.cqe, CAPSULE_RESP_CQE)
  })
}

export function encodeCapsuleResp(pdu: CapsuleResp, opts: PduEncodeOptions = {}): Buffer {
  return joinParts(encodeCapsuleRespParts(pdu, opts))
}

/** Decode one whole CapsuleResp; `cqe` is a view of `raw`. */
export function decodeCapsuleResp(raw: Buffer, opts: PduDecodeOptions = {}): CapsuleResp {
  checkPdu(raw, PduType.CAPSULE_RESP, opts)
  return { type: PduType.CAPSULE_RESP, cqe: raw.subarray(CAPSULE_RESP_CQE, CAPSULE_RESP_CQE + CAPSULE_RESP_CQE_SIZE) }
}

/**
 * Whether {@link decodeCapsuleResp} with the header digest off accepts `raw`, checked in place: the
 * host's fast path then decodes the CQE at {@link CAPSULE_RESP_CQE} of `raw` itself (no view of it).
 * The checks of checkPdu: type, HLEN, no HDGSTF, PDO 0, PLEN exactly the header.
 */
export function isPlainCapsuleResp(raw: Buffer): boolean {
  return (
    raw.length === CAPSULE_RESP_HLEN &&
    raw[CH_TYPE] === PduType.CAPSULE_RESP &&
    raw[CH_HLEN] === CAPSULE_RESP_HLEN &&
    (raw[CH_FLAGS]! & PduFlags.HDGSTF) === 0 &&
    raw[CH_PDO] === 0 &&
    raw.readUInt32LE(CH_PLEN) === CAPSULE_RESP_HLEN
  )
}

/**
 * {@link isPlainCapsuleResp} with the header digest negotiated: the same checks, HDGSTF set and the
 * HDGST after the header matching the one computed here. False sends the caller to decodePdu, which
 * names the field or reports the header digest error.
 */
export function isCapsuleRespWithHdgst(raw: Buffer): boolean {
  const plen = CAPSULE_RESP_HLEN + DIGEST_SIZE
  return (
    raw.length === plen &&
    raw[CH_TYPE] === PduType.CAPSULE_RESP &&
    raw[CH_HLEN] === CAPSULE_RESP_HLEN &&
    (raw[CH_FLAGS]! & PduFlags.HDGSTF) !== 0 &&
    raw[CH_PDO] === 0 &&
    raw.readUInt32LE(CH_PLEN) === plen &&
    raw.readUInt32LE(CAPSULE_RESP_HLEN) === crc32cRange(raw, 0, CAPSULE_RESP_HLEN)
  )
}
