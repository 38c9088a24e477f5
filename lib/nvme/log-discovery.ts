/**
 * Discovery log page (LID 70h): wire reference 5.5, NVMe Base 2.0 section 5.16.1.23. A 1024-byte
 * header followed by NUMREC 1024-byte entries. Use `sliceLogPage` (commands.ts) to serve the
 * dword-aligned windows libnvme reads (20-byte header, then entries at offset 1024 in ≤ 4 KiB chunks).
 */
import { DecodeError, InvalidArgumentError } from '../errors.js'
import { asBuffer, checkU64, need } from './codec.js'
import { decodeStruct, encodeFields, field, type FieldDef } from './struct.js'
import { sliceLogPage } from './commands.js'

export const DISCOVERY_LOG_HEADER_SIZE = 1024
export const DISCOVERY_LOG_ENTRY_SIZE = 1024
/** Bytes libnvme reads first: GENCTR, NUMREC and RECFMT. */
export const DISCOVERY_LOG_SHORT_HEADER_SIZE = 20

export const TransportType = { RDMA: 1, FC: 2, TCP: 3, LOOP: 254 } as const
export const AddressFamily = { IPV4: 1, IPV6: 2, IB: 3, FC: 4, INTRA_HOST: 254 } as const
export const DiscoverySubtype = { REFERRAL: 1, NVME: 2, CURRENT_DISCOVERY: 3 } as const
/** TREQ bits 1:0 secure channel requirement; bit 2 SQ flow control disable supported. */
export const Treq = { NOT_SPECIFIED: 0, REQUIRED: 1, NOT_REQUIRED: 2, DISABLE_SQFLOW: 4 } as const
export const EFLAGS_DUPRETINFO = 0x1
export const EFLAGS_EPCSD = 0x2
/** TSAS byte 0 for TCP: security type. */
export const TcpSecType = { NONE: 0, TLS12: 1, TLS13: 2 } as const

export interface DiscoveryLogHeader {
  genctr: bigint
  numrec: bigint
  recfmt: number
  /** SPDK only. */
  dlpf: number
  /** SPDK only. */
  tdlpl: number
}

export interface DiscoveryLogEntry {
  trtype: number
  adrfam: number
  subtype: number
  treq: number
  portid: number
  cntlid: number
  asqsz: number
  eflags: number
  /** e.g. "4420"; NUL-padded on encode, trailing NULs and spaces stripped on decode. */
  trsvcid: string
  subnqn: string
  traddr: string
  /** Transport specific address subtype, 256 bytes (TCP: byte 0 SECTYPE). */
  tsas: Buffer
}

export const DISCOVERY_HEADER_FIELDS: readonly FieldDef<keyof DiscoveryLogHeader>[] = [
  field('genctr', 0, 'u64'),
  field('numrec', 8, 'u64'),
  field('recfmt', 16, 'u16'),
  field('dlpf', 18, 'u8'),
  field('tdlpl', 20, 'u32'),
]

export const DISCOVERY_ENTRY_FIELDS: readonly FieldDef<keyof DiscoveryLogEntry>[] = [
  field('trtype', 0, 'u8'),
  field('adrfam', 1, 'u8'),
  field('subtype', 2, 'u8'),
  field('treq', 3, 'u8'),
  field('portid', 4, 'u16'),
  field('cntlid', 6, 'u16'),
  field('asqsz', 8, 'u16'),
  field('eflags', 10, 'u16'),
  // TRSVCID, SUBNQN and TRADDR are NUL-padded strings; a full-width value is allowed for TRSVCID
  // and TRADDR (no terminator needed), but NQNs keep their NUL (spec 5.7).
  field('trsvcid', 32, 'ascii', 32),
  field('subnqn', 256, 'nqn', 256),
  field('traddr', 512, 'ascii', 256),
  field('tsas', 768, 'bytes', 256),
]

function encodeEntryInto(buf: Buffer, off: number, e: Partial<DiscoveryLogEntry>, prefix: string): void {
  // TRSVCID/TRADDR are NUL padded (the Linux target), not space padded like SN/MN.
  const { trsvcid, traddr, ...rest } = e
  encodeFields(buf, off, DISCOVERY_ENTRY_FIELDS, rest as Record<string, unknown>, prefix)
  const strs: Array<[string | undefined, number, number, string]> = [
    [trsvcid, 32, 32, 'trsvcid'],
    [traddr, 512, 256, 'traddr'],
  ]
  for (const [v, o, size, name] of strs) {
    if (v === undefined) continue
    const bytes = Buffer.from(v, 'latin1')
    if (bytes.length > size) throw new InvalidArgumentError(prefix + name, `must be at most ${size} bytes`)
    buf.fill(0, off + o, off + o + size)
    bytes.copy(buf, off + o)
  }
}

export function encodeDiscoveryLogEntry(e: Partial<DiscoveryLogEntry>): Buffer {
  const buf = Buffer.alloc(DISCOVERY_LOG_ENTRY_SIZE)
  encodeEntryInto(buf, 0, e, '')
  return buf
}

export function decodeDiscoveryLogEntry(buf: Uint8Array, offset = 0): DiscoveryLogEntry {
  return decodeStruct(buf, offset, DISCOVERY_LOG_ENTRY_SIZE, DISCOVERY_ENTRY_FIELDS, 'discovery log entry') as unknown as DiscoveryLogEntry
}

/** Build the whole page: header (NUMREC = entries.length, RECFMT 0) and the entries. */
export function buildDiscoveryLog(d: { genctr: bigint; entries: readonly Partial<DiscoveryLogEntry>[] }): Buffer {
  const buf = Buffer.alloc(DISCOVERY_LOG_HEADER_SIZE + d.entries.length * DISCOVERY_LOG_ENTRY_SIZE)
  buf.writeBigUInt64LE(checkU64(d.genctr, 'genctr'), 0)
  buf.writeBigUInt64LE(BigInt(d.entries.length), 8)
  d.entries.forEach((e, i) => encodeEntryInto(buf, DISCOVERY_LOG_HEADER_SIZE + i * DISCOVERY_LOG_ENTRY_SIZE, e, `entries[${i}].`))
  return buf
}

/** The window of the page Get Log Page returns for (offset, length): see `sliceLogPage`. */
export function sliceDiscoveryLog(page: Uint8Array, offset: bigint | number, length: number): Buffer {
  return sliceLogPage(page, offset, length)
}

/** Decode the header from at least its first 20 bytes (DLPF/TDLPL read as 0 if absent). */
export function decodeDiscoveryLogHeader(buf: Uint8Array): DiscoveryLogHeader {
  need(buf, 0, DISCOVERY_LOG_SHORT_HEADER_SIZE, 'discovery log header')
  const b = asBuffer(buf)
  return {
    genctr: b.readBigUInt64LE(0),
    numrec: b.readBigUInt64LE(8),
    recfmt: b.readUInt16LE(16),
    dlpf: b.readUInt8(18),
    tdlpl: b.length >= 24 ? b.readUInt32LE(20) : 0,
  }
}

/** Decode a whole page; throws DecodeError if the buffer holds fewer than NUMREC entries. */
export function decodeDiscoveryLog(buf: Uint8Array): { header: DiscoveryLogHeader; entries: DiscoveryLogEntry[] } {
  need(buf, 0, DISCOVERY_LOG_HEADER_SIZE, 'discovery log header')
  const header = decodeDiscoveryLogHeader(buf)
  const available = BigInt(Math.floor((buf.length - DISCOVERY_LOG_HEADER_SIZE) / DISCOVERY_LOG_ENTRY_SIZE))
  if (header.numrec > available) throw new DecodeError('numrec', 8, `NUMREC ${header.numrec} but only ${available} entries in the buffer`)
  const entries: DiscoveryLogEntry[] = []
  for (let i = 0; i < Number(header.numrec); i++) entries.push(decodeDiscoveryLogEntry(buf, DISCOVERY_LOG_HEADER_SIZE + i * DISCOVERY_LOG_ENTRY_SIZE))
  return { header, entries }
}
