/**
 * Completion Queue Entry, 16 bytes (wire reference 2.2; NVMe Base 2.0 Figure 90).
 *
 * `status` is the 15-bit Linux form (`CQE STATUS >> 1`, see lib/status.ts). The phase tag (bit 0 of
 * the 16-bit field at offset 14) has no meaning on fabrics: it is dropped on decode and sent as 0.
 */
// The module's Buffer, not the global: in ESM the global is a getter run on every use (hot path).
import { Buffer } from 'node:buffer'
import { checkUint, need, asBuffer, put16le, put32le, U16, U32 } from './codec.js'
import { cqeFieldToStatus, statusToCqeField } from '../status.js'

export const CQE_SIZE = 16
export const CQE_DW0 = 0
export const CQE_DW1 = 4
export const CQE_SQHD = 8
export const CQE_SQID = 10
export const CQE_CID = 12
export const CQE_STATUS = 14

export interface Cqe {
  /** Command specific result (e.g. Connect: CNTLID; Property Get: value bits 31:0). */
  dw0: number
  /** Command specific (Property Get: value bits 63:32). */
  dw1: number
  sqhd: number
  sqid: number
  cid: number
  /** 15-bit status, Linux form: SC 7:0, SCT 10:8, CRD 12:11, More 13, DNR 14. */
  status: number
}

export function makeCqe(fields: Partial<Cqe> & { cid: number }): Cqe {
  return { dw0: 0, dw1: 0, sqhd: 0, sqid: 0, status: 0, ...fields }
}

/** Encode into a new 16-byte buffer, or into `target` at `offset` (returns the offset after it). */
export function encodeCqe(cqe: Cqe): Buffer
export function encodeCqe(cqe: Cqe, target: Buffer, offset?: number): number
export function encodeCqe(cqe: Cqe, target?: Buffer, offset = 0): Buffer | number {
  const buf = target ?? Buffer.alloc(CQE_SIZE)
  const o = target === undefined ? 0 : offset
  if (o < 0 || o + CQE_SIZE > buf.length) throw new RangeError(`a CQE at offset ${o} does not fit ${buf.length} bytes`)
  // Byte stores of checked values: one CQE per command on the target (codec.ts put32le).
  put32le(buf, o + CQE_DW0, checkUint(cqe.dw0, U32, 'dw0'))
  put32le(buf, o + CQE_DW1, checkUint(cqe.dw1, U32, 'dw1'))
  put16le(buf, o + CQE_SQHD, checkUint(cqe.sqhd, U16, 'sqhd'))
  put16le(buf, o + CQE_SQID, checkUint(cqe.sqid, U16, 'sqid'))
  put16le(buf, o + CQE_CID, checkUint(cqe.cid, U16, 'cid'))
  put16le(buf, o + CQE_STATUS, statusToCqeField(checkUint(cqe.status, 0x7fff, 'status')))
  return target === undefined ? buf : o + CQE_SIZE
}

/** Decode the 16 bytes at `offset`. Throws DecodeError if fewer are present. */
export function decodeCqe(buf: Uint8Array, offset = 0): Cqe {
  need(buf, offset, CQE_SIZE, 'cqe')
  const b = asBuffer(buf)
  return {
    dw0: b.readUInt32LE(offset + CQE_DW0),
    dw1: b.readUInt32LE(offset + CQE_DW1),
    sqhd: b.readUInt16LE(offset + CQE_SQHD),
    sqid: b.readUInt16LE(offset + CQE_SQID),
    cid: b.readUInt16LE(offset + CQE_CID),
    status: cqeFieldToStatus(b.readUInt16LE(offset + CQE_STATUS)),
  }
}

/** The phase tag of an encoded CQE (for completeness; always 0 from our encoder). */
export function cqePhase(buf: Uint8Array, offset = 0): number {
  need(buf, offset, CQE_SIZE, 'cqe')
  return (buf[offset + CQE_STATUS] ?? 0) & 1
}

/** 64-bit result in DW0 (low) and DW1 (high), as Property Get returns it. */
export function cqeResult64(cqe: Pick<Cqe, 'dw0' | 'dw1'>): bigint {
  return BigInt(cqe.dw0 >>> 0) | (BigInt(cqe.dw1 >>> 0) << 32n)
}
export function result64ToDwords(value: bigint): { dw0: number; dw1: number } {
  return { dw0: Number(value & 0xffffffffn), dw1: Number((value >> 32n) & 0xffffffffn) }
}
