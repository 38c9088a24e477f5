/**
 * CapsuleCmd PDU (type 0x04, host to controller) — wire spec 1.6, 1.9. CH + 64-byte SQE, optional
 * HDGST, PAD to CPDA, in-capsule data, DDGST. The SQE is carried as raw bytes (lib/nvme/sqe.ts
 * decodes it) so the PDU layer does not depend on the command layer.
 */
import { PduType, PDU_HLEN, type PduDecodeOptions, type PduEncodeOptions } from './common.js'
import { buildParts, checkFixedBuffer, checkPdu, joinParts } from './pdu-codec.js'

export const CAPSULE_CMD_SQE = 8
export const CAPSULE_CMD_SQE_SIZE = 64
export const CAPSULE_CMD_HLEN = PDU_HLEN[PduType.CAPSULE_CMD]

export interface CapsuleCmd {
  type: typeof PduType.CAPSULE_CMD
  /** The 64-byte SQE (a view when decoded). */
  sqe: Buffer
  /** In-capsule data (a view when decoded; absent when the capsule has none). */
  data?: Buffer
  /** Set by decode: false when DDGST was present and did not match the data. */
  dataDigestOk?: boolean
}

/**
 * Parts: [CH + SQE + HDGST + PAD] or, with in-capsule data, [..., data (uncopied), DDGST?].
 * `opts.pda` is the controller's CPDA (spec 1.9).
 */
export function encodeCapsuleCmdParts(pdu: CapsuleCmd, opts: PduEncodeOptions = {}): Buffer[] {
  checkFixedBuffer('sqe', pdu.sqe, CAPSULE_CMD_SQE_SIZE)
  const data = pdu.data !== undefined && pdu.data.length > 0 ? pdu.data : undefined
  return buildParts(PduType.CAPSULE_CMD, 0, PDU_HLEN[PduType.CAPSULE_CMD], data, opts, (h) => {
    h.set(pdu.sqe, CAPSULE_CMD_SQE)
  })
}

export function encodeCapsuleCmd(pdu: CapsuleCmd, opts: PduEncodeOptions = {}): Buffer {
  return joinParts(encodeCapsuleCmdParts(pdu, opts))
}

/** Decode one whole CapsuleCmd. `sqe` and `data` are views of `raw`. */
export function decodeCapsuleCmd(raw: Buffer, opts: PduDecodeOptions = {}): CapsuleCmd {
  const l = checkPdu(raw, PduType.CAPSULE_CMD, opts)
  const pdu: CapsuleCmd = {
    type: PduType.CAPSULE_CMD,
    sqe: raw.subarray(CAPSULE_CMD_SQE, CAPSULE_CMD_SQE + CAPSULE_CMD_SQE_SIZE),
    dataDigestOk: l.dataDigestOk,
  }
  if (l.data !== undefined) pdu.data = l.data
  return pdu
}
