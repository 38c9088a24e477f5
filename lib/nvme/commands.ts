/**
 * Field helpers for the admin commands a target must serve (wire reference 4.2, 4.6, 4.8) and the
 * Dataset Management range list (section 7): build the SQE on the initiator side, pick the fields
 * out of a decoded SQE on the target side.
 */
import { InvalidArgumentError } from '../errors.js'
import { asBuffer, checkUint, need, U8, U16, U32 } from './codec.js'
import { AdminOpcode } from './opcodes.js'
import { makeSqe, type Sqe } from './sqe.js'
import { sglTransportDataBlock } from './sgl.js'
import { IDENTIFY_DATA_SIZE } from './identify-controller.js'

// ---------------------------------------------------------------------------------------------
// Identify (opc 06h)

export interface IdentifyFields {
  cns: number
  cntid: number
  nsid: number
  /** CNS specific identifier (CDW11 bits 15:0). */
  cnssid: number
  /** Command set identifier (CDW11 bits 31:24). */
  csi: number
  uuidIndex: number
}

export function identifyFields(sqe: Sqe): IdentifyFields {
  return {
    cns: sqe.cdw10 & 0xff,
    cntid: sqe.cdw10 >>> 16,
    nsid: sqe.nsid,
    cnssid: sqe.cdw11 & 0xffff,
    csi: sqe.cdw11 >>> 24,
    uuidIndex: sqe.cdw14 & 0x7f,
  }
}

export function makeIdentifySqe(f: Partial<IdentifyFields> & { cid: number; cns: number }): Sqe {
  return makeSqe({
    opc: AdminOpcode.IDENTIFY,
    cid: f.cid,
    nsid: checkUint(f.nsid ?? 0, U32, 'nsid'),
    sgl: sglTransportDataBlock(IDENTIFY_DATA_SIZE),
    cdw10: (checkUint(f.cns, U8, 'cns') | (checkUint(f.cntid ?? 0, U16, 'cntid') << 16)) >>> 0,
    cdw11: (checkUint(f.cnssid ?? 0, U16, 'cnssid') | (checkUint(f.csi ?? 0, U8, 'csi') << 24)) >>> 0,
    cdw14: checkUint(f.uuidIndex ?? 0, 0x7f, 'uuidIndex'),
  })
}

// ---------------------------------------------------------------------------------------------
// Get Log Page (opc 02h)

export interface GetLogPageFields {
  lid: number
  /** Log specific parameter, 7 bits (ANA: bit 0 RGO). */
  lsp: number
  /** Retain Asynchronous Event. */
  rae: boolean
  /** Number of dwords, 0's based (NUMDU << 16 | NUMDL). */
  numd: number
  /** Log page offset in bytes (LPOU:LPOL). */
  lpo: bigint
  lsi: number
  nsid: number
  uuidIndex: number
  /** Offset type (CDW14 bit 23). */
  ot: boolean
  csi: number
}

export function getLogPageFields(sqe: Sqe): GetLogPageFields {
  return {
    lid: sqe.cdw10 & 0xff,
    lsp: (sqe.cdw10 >>> 8) & 0x7f,
    rae: ((sqe.cdw10 >>> 15) & 1) === 1,
    numd: ((sqe.cdw11 & 0xffff) * 0x10000) + (sqe.cdw10 >>> 16),
    lpo: BigInt(sqe.cdw12 >>> 0) | (BigInt(sqe.cdw13 >>> 0) << 32n),
    lsi: sqe.cdw11 >>> 16,
    nsid: sqe.nsid,
    uuidIndex: sqe.cdw14 & 0x7f,
    ot: ((sqe.cdw14 >>> 23) & 1) === 1,
    csi: sqe.cdw14 >>> 24,
  }
}

/** Transfer length in bytes of a Get Log Page command: (NUMD + 1) × 4. */
export function getLogPageLength(f: Pick<GetLogPageFields, 'numd'>): number {
  return (f.numd + 1) * 4
}

/** A Get Log Page SQE reading `length` bytes (a positive multiple of 4) at byte `offset`. */
export function makeGetLogPageSqe(f: {
  cid: number
  lid: number
  length: number
  offset?: bigint | number
  nsid?: number
  lsp?: number
  rae?: boolean
  lsi?: number
  csi?: number
  uuidIndex?: number
  ot?: boolean
}): Sqe {
  if (!Number.isInteger(f.length) || f.length < 4 || f.length % 4 !== 0 || f.length > 0x4_0000_0000) {
    throw new InvalidArgumentError('length', 'must be a positive multiple of 4 bytes')
  }
  const offset = BigInt(f.offset ?? 0)
  if (offset < 0n || offset % 4n !== 0n || offset >= 1n << 64n) throw new InvalidArgumentError('offset', 'must be a dword-aligned unsigned 64-bit byte offset')
  const numd = f.length / 4 - 1
  return makeSqe({
    opc: AdminOpcode.GET_LOG_PAGE,
    cid: f.cid,
    nsid: checkUint(f.nsid ?? 0, U32, 'nsid'),
    sgl: sglTransportDataBlock(f.length),
    cdw10: (checkUint(f.lid, U8, 'lid') | (checkUint(f.lsp ?? 0, 0x7f, 'lsp') << 8) | ((f.rae === true ? 1 : 0) << 15) | ((numd & 0xffff) << 16)) >>> 0,
    cdw11: ((Math.floor(numd / 0x10000) & 0xffff) | (checkUint(f.lsi ?? 0, U16, 'lsi') << 16)) >>> 0,
    cdw12: Number(offset & 0xffffffffn),
    cdw13: Number(offset >> 32n),
    cdw14: (checkUint(f.uuidIndex ?? 0, 0x7f, 'uuidIndex') | ((f.ot === true ? 1 : 0) << 23) | (checkUint(f.csi ?? 0, U8, 'csi') << 24)) >>> 0,
  })
}

/**
 * The window `[offset, offset + length)` of a log page as Get Log Page returns it: bytes past the end
 * of the page read as zero (spec 4.6: the target returns exactly (NUMD+1)×4 bytes). Offset and length
 * must be dword aligned (libnvme reads the discovery log in such windows; spec 5.5) — otherwise
 * InvalidArgumentError, which a target turns into Invalid Field.
 */
/** Largest window {@link sliceLogPage} builds (64 MiB); a target caps transfers by MDTS well before this. */
export const MAX_LOG_WINDOW = 64 * 1024 * 1024

export function sliceLogPage(page: Uint8Array, offset: bigint | number, length: number): Buffer {
  const off = BigInt(offset)
  if (off < 0n || off % 4n !== 0n) throw new InvalidArgumentError('offset', 'must be a non-negative multiple of 4')
  if (!Number.isInteger(length) || length < 0 || length % 4 !== 0) throw new InvalidArgumentError('length', 'must be a non-negative multiple of 4')
  if (length > MAX_LOG_WINDOW) throw new InvalidArgumentError('length', `must be at most ${MAX_LOG_WINDOW} bytes`)
  const out = Buffer.alloc(length)
  if (off < BigInt(page.length)) {
    const start = Number(off)
    out.set(page.subarray(start, Math.min(page.length, start + length)))
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Abort (opc 08h), Keep Alive (18h), Asynchronous Event Request (0Ch)

export function abortFields(sqe: Sqe): { sqid: number; cid: number } {
  return { sqid: sqe.cdw10 & 0xffff, cid: sqe.cdw10 >>> 16 }
}
export function makeAbortSqe(f: { cid: number; sqid: number; abortCid: number }): Sqe {
  return makeSqe({ opc: AdminOpcode.ABORT, cid: f.cid, cdw10: (checkUint(f.sqid, U16, 'sqid') | (checkUint(f.abortCid, U16, 'abortCid') << 16)) >>> 0 })
}
/** Abort completion DW0 bit 0: 1 = command not aborted. */
export const ABORT_DW0_NOT_ABORTED = 1

export function makeKeepAliveSqe(f: { cid: number }): Sqe {
  return makeSqe({ opc: AdminOpcode.KEEP_ALIVE, cid: f.cid })
}
export function makeAerSqe(f: { cid: number }): Sqe {
  return makeSqe({ opc: AdminOpcode.ASYNC_EVENT_REQUEST, cid: f.cid })
}

// ---------------------------------------------------------------------------------------------
// Dataset Management range list (I/O opc 09h)

export const DSM_RANGE_SIZE = 16
export const DSM_MAX_RANGES = 256
/** CDW11 attribute bits. */
export const DSM_IDR = 1 << 0
export const DSM_IDW = 1 << 1
export const DSM_AD = 1 << 2

export interface DsmRange {
  cattr: number
  /** Length in logical blocks (not 0's based). */
  nlb: number
  slba: bigint
}

export function encodeDsmRanges(ranges: readonly DsmRange[]): Buffer {
  if (ranges.length < 1 || ranges.length > DSM_MAX_RANGES) throw new InvalidArgumentError('ranges', `must hold 1..${DSM_MAX_RANGES} ranges`)
  const buf = Buffer.alloc(ranges.length * DSM_RANGE_SIZE)
  ranges.forEach((r, i) => {
    buf.writeUInt32LE(checkUint(r.cattr, U32, `ranges[${i}].cattr`), i * 16)
    buf.writeUInt32LE(checkUint(r.nlb, U32, `ranges[${i}].nlb`), i * 16 + 4)
    if (r.slba < 0n || r.slba >= 1n << 64n) throw new InvalidArgumentError(`ranges[${i}].slba`, 'must be an unsigned 64-bit bigint')
    buf.writeBigUInt64LE(r.slba, i * 16 + 8)
  })
  return buf
}

/** Decode `count` ranges (NR + 1 from CDW10 bits 7:0). */
export function decodeDsmRanges(buf: Uint8Array, count: number): DsmRange[] {
  need(buf, 0, count * DSM_RANGE_SIZE, 'dsm ranges')
  const b = asBuffer(buf)
  const out: DsmRange[] = []
  for (let i = 0; i < count; i++) out.push({ cattr: b.readUInt32LE(i * 16), nlb: b.readUInt32LE(i * 16 + 4), slba: b.readBigUInt64LE(i * 16 + 8) })
  return out
}
