/**
 * Identify Namespace data structure for the NVM command set (CNS 00h), 4096 bytes: wire reference
 * 4.4, NVM Command Set 1.0 Figure 97.
 */
import { InvalidArgumentError } from '../errors.js'
import { asBuffer, need } from './codec.js'
import { IDENTIFY_DATA_SIZE } from './identify-controller.js'
import { decodeFields, encodeFields, field, type FieldDef } from './struct.js'

export const LBAF_OFFSET = 128
export const LBAF_COUNT = 64
export const LBAF_SIZE = 4

/** LBA Format: metadata size, LBA data size (log2), relative performance. */
export interface LbaFormat {
  ms: number
  /** log2 of the block size (9 = 512 B, 12 = 4 KiB). */
  lbads: number
  /** Relative performance, byte 3 bits 1:0. */
  rp: number
}

export interface IdentifyNamespace {
  nsze: bigint
  ncap: bigint
  nuse: bigint
  nsfeat: number
  /** Number of LBA formats, 0's based. */
  nlbaf: number
  /** Formatted LBA size: bits 3:0 (+ 6:5 high bits) format index, bit 4 extended metadata. */
  flbas: number
  mc: number
  dpc: number
  dps: number
  /** bit 0: namespace may be attached to more than one controller (shared). */
  nmic: number
  rescap: number
  fpi: number
  dlfeat: number
  nawun: number
  nawupf: number
  nacwu: number
  nabsn: number
  nabo: number
  nabspf: number
  noiob: number
  nvmcap: bigint
  npwg: number
  npwa: number
  npdg: number
  npda: number
  nows: number
  mssrl: number
  mcl: number
  msrc: number
  nulbaf: number
  anagrpid: number
  nsattr: number
  nvmsetid: number
  endgid: number
  /** 16 bytes. */
  nguid: Buffer
  /** 8 bytes. */
  eui64: Buffer
  /** 64 entries on decode; fewer allowed on encode. */
  lbaf: LbaFormat[]
  /** Vendor specific, bytes 384-4095. */
  vs: Buffer
}

export const IDENTIFY_NAMESPACE_FIELDS: readonly FieldDef<Exclude<keyof IdentifyNamespace, 'lbaf'>>[] = [
  field('nsze', 0, 'u64'),
  field('ncap', 8, 'u64'),
  field('nuse', 16, 'u64'),
  field('nsfeat', 24, 'u8'),
  field('nlbaf', 25, 'u8'),
  field('flbas', 26, 'u8'),
  field('mc', 27, 'u8'),
  field('dpc', 28, 'u8'),
  field('dps', 29, 'u8'),
  field('nmic', 30, 'u8'),
  field('rescap', 31, 'u8'),
  field('fpi', 32, 'u8'),
  field('dlfeat', 33, 'u8'),
  field('nawun', 34, 'u16'),
  field('nawupf', 36, 'u16'),
  field('nacwu', 38, 'u16'),
  field('nabsn', 40, 'u16'),
  field('nabo', 42, 'u16'),
  field('nabspf', 44, 'u16'),
  field('noiob', 46, 'u16'),
  field('nvmcap', 48, 'u128'),
  field('npwg', 64, 'u16'),
  field('npwa', 66, 'u16'),
  field('npdg', 68, 'u16'),
  field('npda', 70, 'u16'),
  field('nows', 72, 'u16'),
  field('mssrl', 74, 'u16'),
  field('mcl', 76, 'u32'),
  field('msrc', 80, 'u8'),
  field('nulbaf', 82, 'u8'),
  field('anagrpid', 92, 'u32'),
  field('nsattr', 99, 'u8'),
  field('nvmsetid', 100, 'u16'),
  field('endgid', 102, 'u16'),
  field('nguid', 104, 'bytes', 16),
  field('eui64', 120, 'bytes', 8),
  field('vs', 384, 'bytes', 3712),
]

export const NMIC_SHARED = 0x01
export const NSATTR_WRITE_PROTECTED = 0x01
export const FLBAS_EXTENDED_METADATA = 0x10

/** The LBA format index selected by FLBAS (bits 3:0, with bits 6:5 as bits 5:4 of the index). */
export function flbasIndex(flbas: number): number {
  return (flbas & 0xf) | ((flbas >> 1) & 0x30)
}
export function makeFlbas(index: number, extendedMetadata = false): number {
  if (!Number.isInteger(index) || index < 0 || index >= LBAF_COUNT) throw new InvalidArgumentError('index', `must be an integer in [0, ${LBAF_COUNT - 1}]`)
  return (index & 0xf) | ((index & 0x30) << 1) | (extendedMetadata ? FLBAS_EXTENDED_METADATA : 0)
}
/** Block size in bytes of the formatted LBA format, or undefined if LBADS is out of the 9..32 range. */
export function namespaceBlockSize(ns: Pick<IdentifyNamespace, 'flbas' | 'lbaf'>): number | undefined {
  const f = ns.lbaf[flbasIndex(ns.flbas)]
  if (f === undefined || f.lbads < 9 || f.lbads > 32) return undefined
  return 2 ** f.lbads
}
/** log2 of a power-of-two block size, for LBADS. */
export function lbadsOf(blockSize: number): number {
  const l = Math.log2(blockSize)
  if (!Number.isInteger(l) || l < 9 || l > 32) throw new InvalidArgumentError('blockSize', 'must be a power of two >= 512')
  return l
}

export function encodeIdentifyNamespace(ns: Partial<IdentifyNamespace>): Buffer {
  const buf = Buffer.alloc(IDENTIFY_DATA_SIZE)
  encodeFields(buf, 0, IDENTIFY_NAMESPACE_FIELDS, ns as Record<string, unknown>)
  const lbaf = ns.lbaf ?? []
  if (lbaf.length > LBAF_COUNT) throw new InvalidArgumentError('lbaf', `must hold at most ${LBAF_COUNT} formats`)
  lbaf.forEach((f, i) => {
    const o = LBAF_OFFSET + i * LBAF_SIZE
    encodeFields(buf, o, LBAF_FIELDS, f as unknown as Record<string, unknown>, `lbaf[${i}].`)
    if (f.rp > 3) throw new InvalidArgumentError(`lbaf[${i}].rp`, 'must be in [0, 3]')
  })
  return buf
}

const LBAF_FIELDS: readonly FieldDef<keyof LbaFormat>[] = [field('ms', 0, 'u16'), field('lbads', 2, 'u8'), field('rp', 3, 'u8')]

export function decodeIdentifyNamespace(buf: Uint8Array): IdentifyNamespace {
  need(buf, 0, IDENTIFY_DATA_SIZE, 'identify namespace')
  const b = asBuffer(buf)
  const out = decodeFields(b, 0, IDENTIFY_NAMESPACE_FIELDS) as Omit<IdentifyNamespace, 'lbaf'>
  const lbaf: LbaFormat[] = []
  for (let i = 0; i < LBAF_COUNT; i++) {
    const o = LBAF_OFFSET + i * LBAF_SIZE
    lbaf.push({ ms: b.readUInt16LE(o), lbads: b.readUInt8(o + 2), rp: b.readUInt8(o + 3) & 0x3 })
  }
  return { ...out, lbaf }
}
