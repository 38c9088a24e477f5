/**
 * Asymmetric Namespace Access log page (LID 0Ch): wire reference 5.4, NVMe Base 2.0 section 5.16.1.12.
 * A 16-byte header, then one 32-byte descriptor per ANA group, each followed by its NSIDs.
 */
import { DecodeError, InvalidArgumentError } from '../errors.js'
import { asBuffer, checkU64, checkUint, need, U32 } from './codec.js'

export const ANA_LOG_HEADER_SIZE = 16
export const ANA_DESC_SIZE = 32
/** Header offsets. */
export const ANA_LOG_CHGCNT = 0
export const ANA_LOG_NGRPS = 8
/** Descriptor offsets. */
export const ANA_DESC_GRPID = 0
export const ANA_DESC_NNSIDS = 4
export const ANA_DESC_CHGCNT = 8
export const ANA_DESC_STATE = 16
export const ANA_DESC_NSIDS = 32
/** Get Log Page LSP bit 0 for the ANA log: Return Groups Only. */
export const ANA_LSP_RGO = 0x01

/** ANA states (descriptor byte 16 bits 3:0). */
export const AnaState = {
  OPTIMIZED: 0x1,
  NON_OPTIMIZED: 0x2,
  INACCESSIBLE: 0x3,
  PERSISTENT_LOSS: 0x4,
  CHANGE: 0xf,
} as const
export type AnaStateValue = (typeof AnaState)[keyof typeof AnaState]

/** ANA state names as nvmet's configfs spells them; configs, scenarios and the CLI all use these. */
export type AnaStateName = 'optimized' | 'non-optimized' | 'inaccessible' | 'persistent-loss' | 'change'
/** Name -> ANA log value (Base 2.0 section 8.20.3; wire spec 5.4). */
export const ANA_STATE_BY_NAME: Readonly<Record<AnaStateName, AnaStateValue>> = Object.freeze({
  optimized: AnaState.OPTIMIZED,
  'non-optimized': AnaState.NON_OPTIMIZED,
  inaccessible: AnaState.INACCESSIBLE,
  'persistent-loss': AnaState.PERSISTENT_LOSS,
  change: AnaState.CHANGE,
})
export const ANA_STATE_NAMES: readonly AnaStateName[] = Object.freeze(Object.keys(ANA_STATE_BY_NAME) as AnaStateName[])
const STATE_NAMES: Readonly<Record<number, AnaStateName>> = Object.fromEntries(ANA_STATE_NAMES.map((n) => [ANA_STATE_BY_NAME[n], n]))
export function isAnaState(v: unknown): v is AnaStateValue {
  return typeof v === 'number' && STATE_NAMES[v] !== undefined
}
export function anaStateName(state: number): string {
  return STATE_NAMES[state] ?? `reserved(0x${state.toString(16)})`
}
/** Parse 'optimized' / 'non-optimized' / 'inaccessible' / 'persistent-loss' / 'change' (as nvmet's configfs spells them). */
export function parseAnaStateName(name: string): AnaStateValue | undefined {
  for (const [k, v] of Object.entries(STATE_NAMES)) if (v === name) return Number(k) as AnaStateValue
  return undefined
}

export interface AnaGroupDescriptor {
  grpid: number
  /** Change count for this group. */
  chgcnt: bigint
  state: number
  /** NSIDs in this group (empty when the log was read with RGO). */
  nsids: number[]
}

export interface AnaLog {
  chgcnt: bigint
  groups: AnaGroupDescriptor[]
}

/** Size of the buffer the Linux host reads: header + NANAGRPID descriptors + MNAN NSIDs. */
export function anaLogMaxSize(nanagrpid: number, mnan: number): number {
  return ANA_LOG_HEADER_SIZE + nanagrpid * ANA_DESC_SIZE + mnan * 4
}

/**
 * Encode an ANA log page exactly as given (descriptor order, NSID order, state byte). Only field
 * ranges are checked, so tests and faults can build pages a host must reject; `AnaModel.buildLog`
 * (lib/ana.ts) is the validated builder. With `rgo` every descriptor has NNSIDS 0 and no list.
 */
export function encodeAnaLog(log: AnaLog, opts: { rgo?: boolean } = {}): Buffer {
  const rgo = opts.rgo === true
  if (log.groups.length > 0xffff) throw new InvalidArgumentError('groups', 'at most 65535 descriptors fit NGRPS')
  let size = ANA_LOG_HEADER_SIZE
  for (const g of log.groups) size += ANA_DESC_SIZE + (rgo ? 0 : g.nsids.length * 4)
  const buf = Buffer.alloc(size)
  buf.writeBigUInt64LE(checkU64(log.chgcnt, 'chgcnt'), ANA_LOG_CHGCNT)
  buf.writeUInt16LE(log.groups.length, ANA_LOG_NGRPS)
  let off = ANA_LOG_HEADER_SIZE
  log.groups.forEach((g, i) => {
    buf.writeUInt32LE(checkUint(g.grpid, U32, `groups[${i}].grpid`), off + ANA_DESC_GRPID)
    buf.writeUInt32LE(rgo ? 0 : g.nsids.length, off + ANA_DESC_NNSIDS)
    buf.writeBigUInt64LE(checkU64(g.chgcnt, `groups[${i}].chgcnt`), off + ANA_DESC_CHGCNT)
    buf.writeUInt8(checkUint(g.state, 0xff, `groups[${i}].state`), off + ANA_DESC_STATE)
    off += ANA_DESC_SIZE
    if (!rgo) {
      g.nsids.forEach((n, j) => buf.writeUInt32LE(checkUint(n, U32, `groups[${i}].nsids[${j}]`), off + j * 4))
      off += g.nsids.length * 4
    }
  })
  return buf
}

export interface DecodeAnaLogOptions {
  /** Identify Controller ANAGRPMAX: a GRPID above it is rejected (Linux host rule). */
  anagrpmax?: number
  /**
   * Accept the reserved states 5h-Eh. The Linux host only rejects 0 and > 0Fh (and then treats such
   * a group as not usable); by default this decoder also rejects the reserved values.
   */
  allowReservedStates?: boolean
  /** Reject NSID lists that are not strictly ascending (default true; the Linux host's merge walk needs it). */
  requireAscending?: boolean
}

/**
 * Decode and validate an ANA log page as the Linux host does (`nvme_parse_ana_log`): every descriptor
 * must fit in the buffer, GRPID must be non-zero (and ≤ ANAGRPMAX when given), and the state must be
 * a defined value; any violation throws DecodeError naming the field and its offset.
 */
export function decodeAnaLog(buf: Uint8Array, opts: DecodeAnaLogOptions = {}): AnaLog {
  need(buf, 0, ANA_LOG_HEADER_SIZE, 'ana log header')
  const b = asBuffer(buf)
  const chgcnt = b.readBigUInt64LE(ANA_LOG_CHGCNT)
  const ngrps = b.readUInt16LE(ANA_LOG_NGRPS)
  const groups: AnaGroupDescriptor[] = []
  let off = ANA_LOG_HEADER_SIZE
  for (let i = 0; i < ngrps; i++) {
    if (off + ANA_DESC_SIZE > b.length) throw new DecodeError(`groups[${i}]`, off, `descriptor overruns the ${b.length}-byte buffer (NGRPS ${ngrps})`)
    const grpid = b.readUInt32LE(off + ANA_DESC_GRPID)
    const nnsids = b.readUInt32LE(off + ANA_DESC_NNSIDS)
    const gchg = b.readBigUInt64LE(off + ANA_DESC_CHGCNT)
    const state = b.readUInt8(off + ANA_DESC_STATE)
    if (grpid === 0) throw new DecodeError(`groups[${i}].grpid`, off + ANA_DESC_GRPID, 'ANA group id 0 is invalid')
    if (opts.anagrpmax !== undefined && grpid > opts.anagrpmax) {
      throw new DecodeError(`groups[${i}].grpid`, off + ANA_DESC_GRPID, `ANA group id ${grpid} exceeds ANAGRPMAX ${opts.anagrpmax}`)
    }
    if (state === 0 || state > 0xf || (opts.allowReservedStates !== true && !isAnaState(state))) {
      throw new DecodeError(`groups[${i}].state`, off + ANA_DESC_STATE, `bad ANA state 0x${state.toString(16)}`)
    }
    off += ANA_DESC_SIZE
    if (nnsids > (b.length - off) / 4) {
      throw new DecodeError(`groups[${i}].nsids`, off, `${nnsids} NSIDs overrun the ${b.length}-byte buffer`)
    }
    const nsids: number[] = []
    for (let j = 0; j < nnsids; j++) {
      const n = b.readUInt32LE(off + j * 4)
      const prev = nsids[j - 1]
      if (opts.requireAscending !== false && prev !== undefined && n <= prev) {
        throw new DecodeError(`groups[${i}].nsids[${j}]`, off + j * 4, `NSID ${n} not above ${prev}: list must be ascending`)
      }
      nsids.push(n)
    }
    off += nnsids * 4
    groups.push({ grpid, chgcnt: gchg, state, nsids })
  }
  return { chgcnt, groups }
}
