/**
 * Submission Queue Entry, 64 bytes (wire reference 2.1; NVMe Base 2.0 Figure 88). On fabrics the data
 * pointer is always SGL1 and the Linux host sets FLAGS = 0x40 (PSDT 01b) on every command.
 * For Fabrics commands (opc 0x7F) byte 4 is FCTYPE, i.e. the low byte of {@link Sqe.nsid}: use
 * {@link sqeFctype}.
 */
// The module's Buffer, not the global: in ESM the global is a getter run on every use (hot path).
import { Buffer } from 'node:buffer'
import { checkU64, checkUint, need, asBuffer, u16le, u32le, writeU64, U8, U16, U32 } from './codec.js'
import { decodeSgl, encodeSgl, sglTransportDataBlock, type SglDescriptor } from './sgl.js'

export const SQE_SIZE = 64
export const SQE_OPC = 0
export const SQE_FLAGS = 1
export const SQE_CID = 2
export const SQE_NSID = 4
export const SQE_FCTYPE = 4
export const SQE_CDW2 = 8
export const SQE_CDW3 = 12
export const SQE_MPTR = 16
export const SQE_DPTR = 24
export const SQE_CDW10 = 40
export const SQE_CDW11 = 44
export const SQE_CDW12 = 48
export const SQE_CDW13 = 52
export const SQE_CDW14 = 56
export const SQE_CDW15 = 60

/** FLAGS bits 1:0 FUSE. */
export const SQE_FLAGS_FUSE_MASK = 0x03
/** FLAGS bits 7:6 PSDT. */
export const SQE_FLAGS_PSDT_MASK = 0xc0
/** PSDT 01b: SGL for data, MPTR a contiguous buffer — what NVMe/TCP hosts send. */
export const SQE_FLAGS_PSDT_SGL = 0x40
/** PSDT 10b: SGL for data, MPTR an SGL segment. */
export const SQE_FLAGS_PSDT_SGL_MPTR_SGL = 0x80

export interface Sqe {
  opc: number
  /** FLAGS byte: FUSE bits 1:0, PSDT bits 7:6. */
  flags: number
  cid: number
  nsid: number
  cdw2: number
  cdw3: number
  mptr: bigint
  /** DPTR = SGL1 (bytes 24-39). */
  sgl: SglDescriptor
  cdw10: number
  cdw11: number
  cdw12: number
  cdw13: number
  cdw14: number
  cdw15: number
}

/** An SQE with every field zero except FLAGS = 0x40 and SGL1 = Transport Data Block of length 0, overlaid with `fields`. */
export function makeSqe(fields: Partial<Sqe> & { opc: number }): Sqe {
  return {
    flags: SQE_FLAGS_PSDT_SGL,
    cid: 0,
    nsid: 0,
    cdw2: 0,
    cdw3: 0,
    mptr: 0n,
    sgl: sglTransportDataBlock(0),
    cdw10: 0,
    cdw11: 0,
    cdw12: 0,
    cdw13: 0,
    cdw14: 0,
    cdw15: 0,
    ...fields,
  }
}

/** FCTYPE of a Fabrics command (SQE byte 4). */
export function sqeFctype(sqe: Pick<Sqe, 'nsid'>): number {
  return sqe.nsid & 0xff
}
/** PSDT (FLAGS bits 7:6). */
export function sqePsdt(sqe: Pick<Sqe, 'flags'>): number {
  return (sqe.flags & SQE_FLAGS_PSDT_MASK) >> 6
}
/** FUSE (FLAGS bits 1:0). */
export function sqeFuse(sqe: Pick<Sqe, 'flags'>): number {
  return sqe.flags & SQE_FLAGS_FUSE_MASK
}

/** Encode into a new zeroed 64-byte buffer, or into `target` at `offset` (returns the offset after it). */
export function encodeSqe(sqe: Sqe): Buffer
export function encodeSqe(sqe: Sqe, target: Buffer, offset?: number): number
export function encodeSqe(sqe: Sqe, target?: Buffer, offset = 0): Buffer | number {
  const buf = target ?? Buffer.alloc(SQE_SIZE)
  const o = target === undefined ? 0 : offset
  buf[o + SQE_OPC] = checkUint(sqe.opc, U8, 'opc')
  buf[o + SQE_FLAGS] = checkUint(sqe.flags, U8, 'flags')
  buf.writeUInt16LE(checkUint(sqe.cid, U16, 'cid'), o + SQE_CID)
  buf.writeUInt32LE(checkUint(sqe.nsid, U32, 'nsid'), o + SQE_NSID)
  buf.writeUInt32LE(checkUint(sqe.cdw2, U32, 'cdw2'), o + SQE_CDW2)
  buf.writeUInt32LE(checkUint(sqe.cdw3, U32, 'cdw3'), o + SQE_CDW3)
  writeU64(buf, sqe.mptr, o + SQE_MPTR, 'mptr')
  encodeSgl(sqe.sgl, buf, o + SQE_DPTR)
  buf.writeUInt32LE(checkUint(sqe.cdw10, U32, 'cdw10'), o + SQE_CDW10)
  buf.writeUInt32LE(checkUint(sqe.cdw11, U32, 'cdw11'), o + SQE_CDW11)
  buf.writeUInt32LE(checkUint(sqe.cdw12, U32, 'cdw12'), o + SQE_CDW12)
  buf.writeUInt32LE(checkUint(sqe.cdw13, U32, 'cdw13'), o + SQE_CDW13)
  buf.writeUInt32LE(checkUint(sqe.cdw14, U32, 'cdw14'), o + SQE_CDW14)
  buf.writeUInt32LE(checkUint(sqe.cdw15, U32, 'cdw15'), o + SQE_CDW15)
  return target === undefined ? buf : o + SQE_SIZE
}

/** Decode the 64 bytes at `offset`. Throws DecodeError if fewer are present. */
export function decodeSqe(buf: Uint8Array, offset = 0): Sqe {
  need(buf, offset, SQE_SIZE, 'sqe')
  const b = asBuffer(buf)
  return {
    opc: b[offset + SQE_OPC]!,
    flags: b[offset + SQE_FLAGS]!,
    cid: u16le(b, offset + SQE_CID),
    nsid: u32le(b, offset + SQE_NSID),
    cdw2: u32le(b, offset + SQE_CDW2),
    cdw3: u32le(b, offset + SQE_CDW3),
    mptr: b.readBigUInt64LE(offset + SQE_MPTR),
    sgl: decodeSgl(b, offset + SQE_DPTR),
    cdw10: u32le(b, offset + SQE_CDW10),
    cdw11: u32le(b, offset + SQE_CDW11),
    cdw12: u32le(b, offset + SQE_CDW12),
    cdw13: u32le(b, offset + SQE_CDW13),
    cdw14: u32le(b, offset + SQE_CDW14),
    cdw15: u32le(b, offset + SQE_CDW15),
  }
}

/** Read/Write/Compare/Write Zeroes fields (wire reference 7): SLBA in CDW10-11, NLB 0's based in CDW12 bits 15:0. */
export interface RwFields {
  slba: bigint
  /** Number of logical blocks, 0's based (as on the wire). */
  nlb: number
  fua: boolean
  lr: boolean
  /** Write Zeroes deallocate (CDW12 bit 25). */
  deac: boolean
  prinfo: number
  dsm: number
}

export function rwFields(sqe: Pick<Sqe, 'cdw10' | 'cdw11' | 'cdw12' | 'cdw13'>): RwFields {
  return {
    slba: BigInt(sqe.cdw10 >>> 0) | (BigInt(sqe.cdw11 >>> 0) << 32n),
    nlb: sqe.cdw12 & 0xffff,
    fua: ((sqe.cdw12 >>> 30) & 1) === 1,
    lr: ((sqe.cdw12 >>> 31) & 1) === 1,
    deac: ((sqe.cdw12 >>> 25) & 1) === 1,
    prinfo: (sqe.cdw12 >>> 26) & 0xf,
    dsm: sqe.cdw13 & 0xff,
  }
}

const MAX_SAFE_SLBA = BigInt(Number.MAX_SAFE_INTEGER)

/** CDW10..CDW13 for a Read/Write-family command. `nlb` is 0's based. */
export function rwDwords(f: Partial<RwFields> & { slba: bigint; nlb: number }): Pick<Sqe, 'cdw10' | 'cdw11' | 'cdw12' | 'cdw13'> {
  checkU64(f.slba, 'slba')
  checkUint(f.nlb, U16, 'nlb')
  checkUint(f.prinfo ?? 0, 0xf, 'prinfo')
  checkUint(f.dsm ?? 0, U8, 'dsm')
  // Below 2^53 the split is done on a number: bigint masks and shifts allocate (per I/O on the host).
  const small = f.slba <= MAX_SAFE_SLBA
  const n = small ? Number(f.slba) : 0
  return {
    cdw10: small ? n >>> 0 : Number(f.slba & 0xffffffffn),
    cdw11: small ? Math.floor(n / 0x100000000) : Number(f.slba >> 32n),
    cdw12: (f.nlb | ((f.deac === true ? 1 : 0) << 25) | ((f.prinfo ?? 0) << 26) | ((f.fua === true ? 1 : 0) << 30) | ((f.lr === true ? 1 : 0) << 31)) >>> 0,
    cdw13: f.dsm ?? 0,
  }
}
