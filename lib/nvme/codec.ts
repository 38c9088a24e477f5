/**
 * Small shared helpers for the NVMe structure codecs (lib/nvme/*): bounds checks that raise
 * {@link DecodeError}, fixed-width ASCII fields, 128-bit counters and argument range checks.
 * All NVMe structures are little-endian (NVMe Base 2.0 section 1.5).
 */
// The module's Buffer, not the global: in ESM the global is a getter run on every use (hot path).
import { Buffer } from 'node:buffer'
import { DecodeError, InvalidArgumentError } from '../errors.js'

/** Throw a DecodeError unless `buf` holds at least `size` bytes from `offset`. */
export function need(buf: Uint8Array, offset: number, size: number, field: string): void {
  if (buf.length < offset + size) {
    throw new DecodeError(field, offset, `buffer too short: need ${offset + size} bytes, have ${buf.length}`)
  }
}

/** A Buffer view over any Uint8Array (no copy). */
export function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
}

/**
 * Read a fixed-width ASCII field: stops at the first NUL, strips trailing spaces (SN/MN/FR are
 * space-padded, NQNs and TRADDR NUL-padded; libnvme strips both). Bytes >= 0x80 decode as latin1
 * so that any input decodes without throwing.
 */
export function readAscii(buf: Buffer, offset: number, size: number): string {
  return readNulString(buf, offset, size).replace(/ +$/, '')
}

/** Read a fixed-width field up to its first NUL (or its whole width), as latin1; spaces kept. */
export function readNulString(buf: Buffer, offset: number, size: number): string {
  const field = buf.subarray(offset, offset + size)
  const nul = field.indexOf(0)
  return field.subarray(0, nul < 0 ? field.length : nul).toString('latin1')
}

/**
 * Write `value` into a fixed-width field, padded with `pad` (0x20 for SN/MN/FR, 0 for NUL-terminated
 * strings). `nulTerminated` reserves the last byte for a NUL, as NQN fields require (spec 5.7).
 */
export function writeAscii(
  buf: Buffer,
  offset: number,
  size: number,
  value: string,
  field: string,
  opts: { pad?: number; nulTerminated?: boolean } = {},
): void {
  const bytes = Buffer.from(value, 'latin1')
  const max = opts.nulTerminated === true ? size - 1 : size
  if (bytes.length > max || !/^[\x00-\xff]*$/.test(value)) {
    throw new InvalidArgumentError(field, `must be at most ${max} single-byte characters (got ${value.length})`)
  }
  buf.fill(opts.pad ?? 0, offset, offset + size)
  bytes.copy(buf, offset)
}

/** Read an unsigned 128-bit little-endian counter (SMART log, NVMCAP). */
export function readU128(buf: Buffer, offset: number): bigint {
  return buf.readBigUInt64LE(offset) | (buf.readBigUInt64LE(offset + 8) << 64n)
}

const U64_MASK = (1n << 64n) - 1n
export function writeU128(buf: Buffer, offset: number, value: bigint, field: string): void {
  if (value < 0n || value >= 1n << 128n) throw new InvalidArgumentError(field, 'must be an unsigned 128-bit value')
  buf.writeBigUInt64LE(value & U64_MASK, offset)
  buf.writeBigUInt64LE(value >> 64n, offset + 8)
}

/**
 * Write a checked unsigned 64-bit value little endian. Zero (MPTR and SGL addresses of every NVMe/TCP
 * command) is two 32-bit zero words: `writeBigUInt64LE` costs a few hundred ns per call, measurable
 * per I/O (docs/performance.md, round 3).
 */
export function writeU64(buf: Buffer, value: bigint, offset: number, field: string): void {
  if (value === 0n) {
    buf.writeUInt32LE(0, offset)
    buf.writeUInt32LE(0, offset + 4)
  } else buf.writeBigUInt64LE(checkU64(value, field), offset)
}

/**
 * Unsigned little-endian reads inside a range `need` already checked: plain byte loads, where
 * `readUInt32LE` validates its offset on every call (~4x the cost, measured in decodeSqe: the
 * target decodes one SQE per command, docs/performance.md round 4).
 */
export function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
}
export function u16le(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8)
}
/** Little-endian stores of checked values (the writing counterparts, for per-command encoders). */
export function put32le(b: Uint8Array, o: number, v: number): void {
  b[o] = v
  b[o + 1] = v >>> 8
  b[o + 2] = v >>> 16
  b[o + 3] = v >>> 24
}
export function put16le(b: Uint8Array, o: number, v: number): void {
  b[o] = v
  b[o + 1] = v >>> 8
}

/** Check an integer argument lies in [0, max]. */
export function checkUint(value: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(field, `must be an integer in [0, ${max}] (got ${String(value)})`)
  }
  return value
}

export function checkU64(value: bigint, field: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > U64_MASK) {
    throw new InvalidArgumentError(field, 'must be an unsigned 64-bit bigint')
  }
  return value
}

/** Copy `src` into a fixed-width byte field, checking its length exactly. */
export function writeBytes(buf: Buffer, offset: number, size: number, src: Uint8Array, field: string): void {
  if (src.length !== size) throw new InvalidArgumentError(field, `must be exactly ${size} bytes (got ${src.length})`)
  buf.set(src, offset)
}

export const U8 = 0xff
export const U16 = 0xffff
export const U32 = 0xffffffff
