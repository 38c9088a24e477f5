/**
 * The smaller Identify structures (wire reference 4.5): Active Namespace ID list (CNS 02h),
 * Namespace Identification Descriptor list (CNS 03h), I/O Command Set Independent Identify
 * Namespace (CNS 08h) and the NVM command set Identify Controller (CNS 06h, CSI 0).
 */
import { DecodeError, InvalidArgumentError } from '../errors.js'
import { asBuffer } from './codec.js'
import { IDENTIFY_DATA_SIZE } from './identify-controller.js'
import { decodeStruct, encodeFields, field, type FieldDef } from './struct.js'

// ---------------------------------------------------------------------------------------------
// CNS 02h: Active Namespace ID list

export const NSID_LIST_MAX = 1024
/** NSID value meaning "all namespaces" (broadcast). */
export const NSID_ALL = 0xffffffff

/**
 * The Active NSID list page for a command with NSID `afterNsid`: the active NSIDs greater than it,
 * ascending, at most 1024, zero-filled. `nsids` need not be sorted; duplicates are dropped.
 */
export function encodeActiveNsList(nsids: Iterable<number>, afterNsid = 0): Buffer {
  const sorted = [...new Set(nsids)].filter((n) => n > afterNsid).sort((a, b) => a - b)
  const buf = Buffer.alloc(IDENTIFY_DATA_SIZE)
  sorted.slice(0, NSID_LIST_MAX).forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1 || n > 0xfffffffe) throw new InvalidArgumentError('nsids', `contains an invalid NSID ${n}`)
    buf.writeUInt32LE(n, i * 4)
  })
  return buf
}

/** NSIDs of an NSID list page up to the first zero entry (at most 1024 or the buffer's dwords). */
export function decodeNsidList(buf: Uint8Array): number[] {
  const b = asBuffer(buf)
  const out: number[] = []
  const n = Math.min(NSID_LIST_MAX, Math.floor(b.length / 4))
  for (let i = 0; i < n; i++) {
    const v = b.readUInt32LE(i * 4)
    if (v === 0) break
    out.push(v)
  }
  return out
}
export const decodeActiveNsList = decodeNsidList

// ---------------------------------------------------------------------------------------------
// CNS 03h: Namespace Identification Descriptor list

/** Namespace Identifier Types (NIDT). */
export const Nidt = { EUI64: 0x01, NGUID: 0x02, UUID: 0x03, CSI: 0x04 } as const
/** The length each known NIDT must have (NIDL). */
export const NIDL_BY_TYPE: Readonly<Record<number, number>> = { 1: 8, 2: 16, 3: 16, 4: 1 }
export const NS_ID_DESC_HEADER_SIZE = 4

export interface NsIdDescriptor {
  nidt: number
  /** The identifier bytes (NIDL of them); a copy on decode. */
  nid: Buffer
}

export interface NsIdentifiers {
  eui64?: Uint8Array
  nguid?: Uint8Array
  uuid?: Uint8Array
  /** Command set identifier (0 = NVM). */
  csi?: number
}

/**
 * Descriptors for a namespace's identifiers in the order the Linux target uses: EUI-64, NGUID, UUID,
 * then the 1-byte CSI last (it leaves the list unaligned). All-zero identifiers are left out
 * (a zero NGUID/EUI-64/UUID means "not reported").
 */
export function nsIdDescriptorsFor(ids: NsIdentifiers): NsIdDescriptor[] {
  const out: NsIdDescriptor[] = []
  const add = (nidt: number, v: Uint8Array | undefined): void => {
    if (v !== undefined && v.some((x) => x !== 0)) out.push({ nidt, nid: Buffer.from(v) })
  }
  add(Nidt.EUI64, ids.eui64)
  add(Nidt.NGUID, ids.nguid)
  add(Nidt.UUID, ids.uuid)
  if (ids.csi !== undefined) out.push({ nidt: Nidt.CSI, nid: Buffer.from([ids.csi]) })
  return out
}

/** Encode a descriptor list into a zero-filled 4096-byte page. Known types must have their exact length. */
export function encodeNsIdDescriptors(descs: readonly NsIdDescriptor[]): Buffer {
  const buf = Buffer.alloc(IDENTIFY_DATA_SIZE)
  let off = 0
  descs.forEach((d, i) => {
    const want = NIDL_BY_TYPE[d.nidt]
    if (want !== undefined && d.nid.length !== want) throw new InvalidArgumentError(`descs[${i}].nid`, `must be ${want} bytes for NIDT ${d.nidt}`)
    if (d.nid.length === 0 || d.nid.length > 255) throw new InvalidArgumentError(`descs[${i}].nid`, 'must be 1..255 bytes')
    if (!Number.isInteger(d.nidt) || d.nidt < 1 || d.nidt > 255) throw new InvalidArgumentError(`descs[${i}].nidt`, 'must be in [1, 255]')
    // A terminating all-zero header must still fit, or the reader cannot find the end.
    if (off + NS_ID_DESC_HEADER_SIZE + d.nid.length > IDENTIFY_DATA_SIZE) throw new InvalidArgumentError('descs', 'do not fit in 4096 bytes')
    buf[off] = d.nidt
    buf[off + 1] = d.nid.length
    buf.set(d.nid, off + NS_ID_DESC_HEADER_SIZE)
    off += NS_ID_DESC_HEADER_SIZE + d.nid.length
  })
  return buf
}

/**
 * Decode a descriptor list: descriptors follow each other until a header with NIDL 0 or the end of
 * the buffer. A descriptor that overruns the buffer, or a known NIDT with the wrong NIDL (which makes
 * the Linux host stop parsing), throws DecodeError.
 */
export function decodeNsIdDescriptors(buf: Uint8Array): NsIdDescriptor[] {
  const b = asBuffer(buf)
  const out: NsIdDescriptor[] = []
  let off = 0
  while (off + NS_ID_DESC_HEADER_SIZE <= b.length) {
    const nidt = b.readUInt8(off)
    const nidl = b.readUInt8(off + 1)
    if (nidl === 0) break
    const want = NIDL_BY_TYPE[nidt]
    if (want !== undefined && nidl !== want) throw new DecodeError('nidl', off + 1, `NIDT ${nidt} needs NIDL ${want}, got ${nidl}`)
    if (off + NS_ID_DESC_HEADER_SIZE + nidl > b.length) throw new DecodeError('nid', off + NS_ID_DESC_HEADER_SIZE, `descriptor of ${nidl} bytes overruns the ${b.length}-byte buffer`)
    out.push({ nidt, nid: Buffer.from(b.subarray(off + NS_ID_DESC_HEADER_SIZE, off + NS_ID_DESC_HEADER_SIZE + nidl)) })
    off += NS_ID_DESC_HEADER_SIZE + nidl
  }
  return out
}

/** Collect the known identifiers from a descriptor list (the first of each type wins). */
export function nsIdentifiersOf(descs: readonly NsIdDescriptor[]): NsIdentifiers {
  const ids: NsIdentifiers = {}
  for (const d of descs) {
    if (d.nidt === Nidt.EUI64 && ids.eui64 === undefined) ids.eui64 = d.nid
    else if (d.nidt === Nidt.NGUID && ids.nguid === undefined) ids.nguid = d.nid
    else if (d.nidt === Nidt.UUID && ids.uuid === undefined) ids.uuid = d.nid
    else if (d.nidt === Nidt.CSI && ids.csi === undefined) ids.csi = d.nid[0] ?? 0
  }
  return ids
}

// ---------------------------------------------------------------------------------------------
// CNS 08h: I/O Command Set Independent Identify Namespace

export interface IdentifyNamespaceIndependent {
  /** bit 4 rotational media, bit 5 volatile write cache not present. */
  nsfeat: number
  nmic: number
  rescap: number
  fpi: number
  anagrpid: number
  nsattr: number
  nvmsetid: number
  endgid: number
  /** bit 0: namespace ready. The Linux host ignores a namespace whose NSTAT bit 0 is clear. */
  nstat: number
}

export const IDENTIFY_NS_INDEPENDENT_FIELDS: readonly FieldDef<keyof IdentifyNamespaceIndependent>[] = [
  field('nsfeat', 0, 'u8'),
  field('nmic', 1, 'u8'),
  field('rescap', 2, 'u8'),
  field('fpi', 3, 'u8'),
  field('anagrpid', 4, 'u32'),
  field('nsattr', 8, 'u8'),
  field('nvmsetid', 10, 'u16'),
  field('endgid', 12, 'u16'),
  field('nstat', 14, 'u8'),
]
export const NSTAT_READY = 0x01

export function encodeIdentifyNamespaceIndependent(ns: Partial<IdentifyNamespaceIndependent>): Buffer {
  const buf = Buffer.alloc(IDENTIFY_DATA_SIZE)
  encodeFields(buf, 0, IDENTIFY_NS_INDEPENDENT_FIELDS, ns as Record<string, unknown>)
  return buf
}
export function decodeIdentifyNamespaceIndependent(buf: Uint8Array): IdentifyNamespaceIndependent {
  return decodeStruct(buf, 0, IDENTIFY_DATA_SIZE, IDENTIFY_NS_INDEPENDENT_FIELDS, 'identify ns independent') as unknown as IdentifyNamespaceIndependent
}

// ---------------------------------------------------------------------------------------------
// CNS 06h, CSI 0: NVM command set Identify Controller

export interface IdentifyControllerNvm {
  /** Verify Size Limit. */
  vsl: number
  /** Write Zeroes Size Limit. */
  wzsl: number
  /** Write Uncorrectable Size Limit. */
  wusl: number
  /** Dataset Management Ranges Limit. */
  dmrl: number
  /** Dataset Management Range Size Limit. */
  dmrsl: number
  /** Dataset Management Size Limit. */
  dmsl: bigint
}

export const IDENTIFY_CTRL_NVM_FIELDS: readonly FieldDef<keyof IdentifyControllerNvm>[] = [
  field('vsl', 0, 'u8'),
  field('wzsl', 1, 'u8'),
  field('wusl', 2, 'u8'),
  field('dmrl', 3, 'u8'),
  field('dmrsl', 4, 'u32'),
  field('dmsl', 8, 'u64'),
]

export function encodeIdentifyControllerNvm(c: Partial<IdentifyControllerNvm>): Buffer {
  const buf = Buffer.alloc(IDENTIFY_DATA_SIZE)
  encodeFields(buf, 0, IDENTIFY_CTRL_NVM_FIELDS, c as Record<string, unknown>)
  return buf
}
export function decodeIdentifyControllerNvm(buf: Uint8Array): IdentifyControllerNvm {
  return decodeStruct(buf, 0, IDENTIFY_DATA_SIZE, IDENTIFY_CTRL_NVM_FIELDS, 'identify controller nvm') as unknown as IdentifyControllerNvm
}
