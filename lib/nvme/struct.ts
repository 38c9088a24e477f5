/**
 * Table-driven codec for the large fixed-layout NVMe data structures (Identify data, SMART log,
 * power state descriptors). Each structure is described once as a list of named fields with their
 * spec offsets; encode and decode both walk the same list, so the two directions cannot drift.
 */
import { InvalidArgumentError } from '../errors.js'
import { asBuffer, checkUint, need, readAscii, readU128, writeAscii, writeU128 } from './codec.js'

/**
 * u8/u16/u24/u32: number; u64/u128: bigint; `ascii`: space-padded string (SN, MN, FR);
 * `nqn`: NUL-terminated string (at most size-1 bytes); `bytes`: raw bytes (decoded as a copy).
 */
export type FieldKind = 'u8' | 'u16' | 'u24' | 'u32' | 'u64' | 'u128' | 'ascii' | 'nqn' | 'bytes'

export interface FieldDef<K extends string = string> {
  readonly name: K
  readonly offset: number
  readonly size: number
  readonly kind: FieldKind
}

const INT_SIZES: Partial<Record<FieldKind, number>> = { u8: 1, u16: 2, u24: 3, u32: 4, u64: 8, u128: 16 }

/** Build a field definition; the size of integer kinds is implied. */
export function field<K extends string>(name: K, offset: number, kind: FieldKind, size?: number): FieldDef<K> {
  const s = INT_SIZES[kind] ?? size
  if (s === undefined) throw new InvalidArgumentError('size', `field ${name} of kind ${kind} needs a size`)
  return { name, offset, size: s, kind }
}

export function zeroValue(def: FieldDef): unknown {
  switch (def.kind) {
    case 'u64':
    case 'u128':
      return 0n
    case 'ascii':
    case 'nqn':
      return ''
    case 'bytes':
      return Buffer.alloc(def.size)
    default:
      return 0
  }
}

export function decodeFields(buf: Buffer, base: number, defs: readonly FieldDef[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const d of defs) {
    const o = base + d.offset
    switch (d.kind) {
      case 'u8':
        out[d.name] = buf.readUInt8(o)
        break
      case 'u16':
        out[d.name] = buf.readUInt16LE(o)
        break
      case 'u24':
        out[d.name] = buf.readUIntLE(o, 3)
        break
      case 'u32':
        out[d.name] = buf.readUInt32LE(o)
        break
      case 'u64':
        out[d.name] = buf.readBigUInt64LE(o)
        break
      case 'u128':
        out[d.name] = readU128(buf, o)
        break
      case 'ascii':
      case 'nqn':
        out[d.name] = readAscii(buf, o, d.size)
        break
      case 'bytes':
        out[d.name] = Buffer.from(buf.subarray(o, o + d.size))
        break
    }
  }
  return out
}

/** `checkUint` for a field value of unknown type (a non-number fails its integer test). */
function checkInt(v: unknown, max: number, name: string): number {
  return checkUint(v as number, max, name)
}
function checkBig(v: unknown, bits: number, name: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v >= 1n << BigInt(bits)) throw new InvalidArgumentError(name, `must be an unsigned ${bits}-bit bigint`)
  return v
}

/** Write every field present in `value` (missing fields stay as they are in `buf`, normally zero). */
export function encodeFields(buf: Buffer, base: number, defs: readonly FieldDef[], value: Readonly<Record<string, unknown>>, prefix = ''): void {
  for (const d of defs) {
    const v = value[d.name]
    if (v === undefined) continue
    const o = base + d.offset
    const name = prefix + d.name
    switch (d.kind) {
      case 'u8':
        buf.writeUInt8(checkInt(v, 0xff, name), o)
        break
      case 'u16':
        buf.writeUInt16LE(checkInt(v, 0xffff, name), o)
        break
      case 'u24':
        buf.writeUIntLE(checkInt(v, 0xffffff, name), o, 3)
        break
      case 'u32':
        buf.writeUInt32LE(checkInt(v, 0xffffffff, name), o)
        break
      case 'u64':
        buf.writeBigUInt64LE(checkBig(v, 64, name), o)
        break
      case 'u128':
        writeU128(buf, o, checkBig(v, 128, name), name)
        break
      case 'ascii':
        if (typeof v !== 'string') throw new InvalidArgumentError(name, 'must be a string')
        writeAscii(buf, o, d.size, v, name, { pad: 0x20 })
        break
      case 'nqn':
        if (typeof v !== 'string') throw new InvalidArgumentError(name, 'must be a string')
        writeAscii(buf, o, d.size, v, name, { nulTerminated: true })
        break
      case 'bytes': {
        if (!(v instanceof Uint8Array)) throw new InvalidArgumentError(name, 'must be a Buffer')
        if (v.length > d.size) throw new InvalidArgumentError(name, `must be at most ${d.size} bytes (got ${v.length})`)
        buf.fill(0, o, o + d.size)
        buf.set(v, o)
        break
      }
    }
  }
}

/** Decode a whole structure of `size` bytes at `offset`, throwing DecodeError (naming `what`) if short. */
export function decodeStruct(buf: Uint8Array, offset: number, size: number, defs: readonly FieldDef[], what: string): Record<string, unknown> {
  need(buf, offset, size, what)
  return decodeFields(asBuffer(buf), offset, defs)
}

/** Check that a table's fields lie inside `size` and do not overlap (used by tests). */
export function checkLayout(defs: readonly FieldDef[], size: number): string | undefined {
  const sorted = [...defs].sort((a, b) => a.offset - b.offset)
  let end = 0
  for (const d of sorted) {
    if (d.offset < end) return `${d.name} at ${d.offset} overlaps the previous field (ends at ${end})`
    end = d.offset + d.size
    if (end > size) return `${d.name} ends at ${end}, beyond ${size}`
  }
  return undefined
}
