/**
 * SGL descriptors as NVMe/TCP uses them (wire reference 2.3; NVMe Base 2.0 section 4.1.2).
 * SGL1 occupies SQE bytes 24-39; byte 15 of a descriptor is the SGL identifier
 * (bits 7:4 descriptor type, bits 3:0 subtype).
 */
import { checkUint, need, asBuffer, u32le, writeU64, U32 } from './codec.js'

export const SGL_DESCRIPTOR_SIZE = 16

/** Descriptor types (identifier bits 7:4). */
export const SglType = {
  DATA_BLOCK: 0x0,
  BIT_BUCKET: 0x1,
  SEGMENT: 0x2,
  LAST_SEGMENT: 0x3,
  KEYED_DATA_BLOCK: 0x4,
  TRANSPORT_DATA_BLOCK: 0x5,
  VENDOR: 0xf,
} as const

/** Descriptor subtypes (identifier bits 3:0). */
export const SglSubtype = {
  ADDRESS: 0x0,
  OFFSET: 0x1,
  TRANSPORT_SPECIFIC: 0xa,
  INVALIDATE_KEY: 0xf,
} as const

/** Identifier byte for data moved by C2HData or R2T+H2CData (Transport Data Block, transport specific). */
export const SGL_TRANSPORT_DATA_BLOCK = 0x5a
/** Identifier byte for in-capsule data (Data Block, Offset subtype). */
export const SGL_DATA_BLOCK_OFFSET = 0x01

// Offsets inside a descriptor.
export const SGL_ADDRESS = 0
export const SGL_LENGTH = 8
export const SGL_KEY = 11
export const SGL_IDENTIFIER = 15

export interface SglDescriptor {
  /** ADDRESS (bytes 0-7). For in-capsule data: the offset into the in-capsule data area. */
  address: bigint
  /** LENGTH (bytes 8-11; 24-bit at 8-10 for keyed descriptors). */
  length: number
  /** Descriptor type, identifier bits 7:4 (see {@link SglType}). */
  type: number
  /** Descriptor subtype, identifier bits 3:0 (see {@link SglSubtype}). */
  subtype: number
  /** KEY (bytes 11-14), keyed data block (type 4, RDMA) only. */
  key?: number
}

/** The identifier byte (byte 15) of a descriptor. */
export function sglIdentifier(sgl: Pick<SglDescriptor, 'type' | 'subtype'>): number {
  return ((sgl.type & 0xf) << 4) | (sgl.subtype & 0xf)
}

/** Transport SGL Data Block (0x5A) with ADDRESS 0: data goes by C2HData or R2T/H2CData; length 0 = no data. */
export function sglTransportDataBlock(length: number): SglDescriptor {
  return { address: 0n, length, type: SglType.TRANSPORT_DATA_BLOCK, subtype: SglSubtype.TRANSPORT_SPECIFIC }
}

/** Data Block / Offset (0x01): `length` bytes of in-capsule data at `offset` into the in-capsule area. */
export function sglInCapsule(length: number, offset = 0n): SglDescriptor {
  return { address: offset, length, type: SglType.DATA_BLOCK, subtype: SglSubtype.OFFSET }
}

export function isTransportDataBlock(sgl: SglDescriptor): boolean {
  return sglIdentifier(sgl) === SGL_TRANSPORT_DATA_BLOCK
}
export function isInCapsuleDataBlock(sgl: SglDescriptor): boolean {
  return sglIdentifier(sgl) === SGL_DATA_BLOCK_OFFSET
}

/** Write a descriptor at `offset` of `target`; returns the offset after it. */
export function encodeSgl(sgl: SglDescriptor, target: Buffer, offset = 0): number {
  checkUint(sgl.type, 0xf, 'sgl.type')
  checkUint(sgl.subtype, 0xf, 'sgl.subtype')
  writeU64(target, sgl.address, offset + SGL_ADDRESS, 'sgl.address')
  if (sgl.type === SglType.KEYED_DATA_BLOCK) {
    target.writeUIntLE(checkUint(sgl.length, 0xffffff, 'sgl.length'), offset + SGL_LENGTH, 3)
    target.writeUInt32LE(checkUint(sgl.key ?? 0, U32, 'sgl.key'), offset + SGL_KEY)
  } else {
    target.writeUInt32LE(checkUint(sgl.length, U32, 'sgl.length'), offset + SGL_LENGTH)
    // Bytes 12-14 reserved (stores: Buffer.fill on three bytes costs more than the descriptor).
    target[offset + 12] = 0
    target[offset + 13] = 0
    target[offset + 14] = 0
  }
  target[offset + SGL_IDENTIFIER] = sglIdentifier(sgl)
  return offset + SGL_DESCRIPTOR_SIZE
}

/** Decode a descriptor at `offset` (reserved bytes ignored). */
export function decodeSgl(buf: Uint8Array, offset = 0): SglDescriptor {
  need(buf, offset, SGL_DESCRIPTOR_SIZE, 'sgl')
  const b = asBuffer(buf)
  const id = b[offset + SGL_IDENTIFIER] ?? 0
  const type = id >> 4
  const subtype = id & 0xf
  const address = b.readBigUInt64LE(offset + SGL_ADDRESS)
  if (type === SglType.KEYED_DATA_BLOCK) {
    return { address, length: b.readUIntLE(offset + SGL_LENGTH, 3), type, subtype, key: u32le(b, offset + SGL_KEY) }
  }
  return { address, length: u32le(b, offset + SGL_LENGTH), type, subtype }
}
