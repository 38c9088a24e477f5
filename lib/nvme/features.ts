/**
 * Set / Get Features (wire reference 4.7): the feature identifier table, the command fields, and the
 * encodings of Number of Queues (07h), Asynchronous Event Configuration (0Bh) and Keep Alive Timer (0Fh).
 */
import { InvalidArgumentError } from '../errors.js'
import { checkUint, U8, U32 } from './codec.js'
import { AdminOpcode, FeatureId } from './opcodes.js'
import { makeSqe, type Sqe } from './sqe.js'
import { sglInCapsule, sglTransportDataBlock } from './sgl.js'

export interface FeatureInfo {
  fid: number
  name: string
  /** Size of the data buffer the command carries (0 = value in CDW11 / DW0 only). */
  dataSize: number
  /** Namespace specific (NSID matters). */
  perNamespace: boolean
}

/** The feature identifiers with their names (NVMe Base 2.0 Figure 317). */
export const FEATURE_TABLE: readonly FeatureInfo[] = Object.freeze([
  { fid: FeatureId.ARBITRATION, name: 'Arbitration', dataSize: 0, perNamespace: false },
  { fid: FeatureId.POWER_MGMT, name: 'Power Management', dataSize: 0, perNamespace: false },
  { fid: FeatureId.LBA_RANGE, name: 'LBA Range Type', dataSize: 4096, perNamespace: true },
  { fid: FeatureId.TEMP_THRESH, name: 'Temperature Threshold', dataSize: 0, perNamespace: false },
  { fid: FeatureId.ERR_RECOVERY, name: 'Error Recovery', dataSize: 0, perNamespace: true },
  { fid: FeatureId.VOLATILE_WC, name: 'Volatile Write Cache', dataSize: 0, perNamespace: false },
  { fid: FeatureId.NUM_QUEUES, name: 'Number of Queues', dataSize: 0, perNamespace: false },
  { fid: FeatureId.IRQ_COALESCE, name: 'Interrupt Coalescing', dataSize: 0, perNamespace: false },
  { fid: FeatureId.IRQ_CONFIG, name: 'Interrupt Vector Configuration', dataSize: 0, perNamespace: false },
  { fid: FeatureId.WRITE_ATOMIC, name: 'Write Atomicity Normal', dataSize: 0, perNamespace: false },
  { fid: FeatureId.ASYNC_EVENT, name: 'Asynchronous Event Configuration', dataSize: 0, perNamespace: false },
  { fid: FeatureId.AUTO_PST, name: 'Autonomous Power State Transition', dataSize: 256, perNamespace: false },
  { fid: FeatureId.HOST_MEM_BUF, name: 'Host Memory Buffer', dataSize: 0, perNamespace: false },
  { fid: FeatureId.TIMESTAMP, name: 'Timestamp', dataSize: 8, perNamespace: false },
  { fid: FeatureId.KATO, name: 'Keep Alive Timer', dataSize: 0, perNamespace: false },
  { fid: FeatureId.HCTM, name: 'Host Controlled Thermal Management', dataSize: 0, perNamespace: false },
  { fid: FeatureId.NOPSC, name: 'Non-Operational Power State Config', dataSize: 0, perNamespace: false },
  { fid: FeatureId.RRL, name: 'Read Recovery Level Config', dataSize: 0, perNamespace: false },
  { fid: FeatureId.PLM_CONFIG, name: 'Predictable Latency Mode Config', dataSize: 512, perNamespace: false },
  { fid: FeatureId.PLM_WINDOW, name: 'Predictable Latency Mode Window', dataSize: 0, perNamespace: false },
  { fid: FeatureId.LBA_STATUS_INFO, name: 'LBA Status Information Report Interval', dataSize: 0, perNamespace: false },
  { fid: FeatureId.HOST_BEHAVIOR, name: 'Host Behavior Support', dataSize: 512, perNamespace: false },
  { fid: FeatureId.SANITIZE_CONFIG, name: 'Sanitize Config', dataSize: 0, perNamespace: false },
  { fid: FeatureId.ENDURANCE_EVENT_CONFIG, name: 'Endurance Group Event Configuration', dataSize: 0, perNamespace: false },
  { fid: FeatureId.IOCS_PROFILE, name: 'I/O Command Set Profile', dataSize: 0, perNamespace: false },
  { fid: FeatureId.SPINUP_CONTROL, name: 'Spinup Control', dataSize: 0, perNamespace: false },
  { fid: FeatureId.SW_PROGRESS, name: 'Software Progress Marker', dataSize: 0, perNamespace: false },
  { fid: FeatureId.HOST_ID, name: 'Host Identifier', dataSize: 16, perNamespace: false },
  { fid: FeatureId.RESV_MASK, name: 'Reservation Notification Mask', dataSize: 0, perNamespace: true },
  { fid: FeatureId.RESV_PERSIST, name: 'Reservation Persistence', dataSize: 0, perNamespace: true },
  { fid: FeatureId.WRITE_PROTECT, name: 'Namespace Write Protection Config', dataSize: 0, perNamespace: true },
] as FeatureInfo[])

export function featureInfo(fid: number): FeatureInfo | undefined {
  return FEATURE_TABLE.find((f) => f.fid === fid)
}
export function featureName(fid: number): string {
  return featureInfo(fid)?.name ?? `Feature 0x${fid.toString(16).padStart(2, '0')}`
}

/** Get Features SEL (CDW10 bits 10:8). */
export const FeatureSelect = { CURRENT: 0, DEFAULT: 1, SAVED: 2, SUPPORTED_CAPABILITIES: 3 } as const

export interface SetFeaturesFields {
  fid: number
  /** Save (CDW10 bit 31). */
  sv: boolean
  nsid: number
  cdw11: number
  cdw12: number
  cdw13: number
  cdw14: number
  cdw15: number
}
export interface GetFeaturesFields {
  fid: number
  sel: number
  nsid: number
  cdw11: number
}

export function setFeaturesFields(sqe: Sqe): SetFeaturesFields {
  return { fid: sqe.cdw10 & 0xff, sv: sqe.cdw10 >>> 31 === 1, nsid: sqe.nsid, cdw11: sqe.cdw11, cdw12: sqe.cdw12, cdw13: sqe.cdw13, cdw14: sqe.cdw14, cdw15: sqe.cdw15 }
}
export function getFeaturesFields(sqe: Sqe): GetFeaturesFields {
  return { fid: sqe.cdw10 & 0xff, sel: (sqe.cdw10 >>> 8) & 0x7, nsid: sqe.nsid, cdw11: sqe.cdw11 }
}

/** Set Features SQE; a `dataLength` > 0 sends in-capsule data of that size. */
export function makeSetFeaturesSqe(f: { cid: number; fid: number; cdw11?: number; nsid?: number; sv?: boolean; dataLength?: number; cdw12?: number }): Sqe {
  return makeSqe({
    opc: AdminOpcode.SET_FEATURES,
    cid: f.cid,
    nsid: checkUint(f.nsid ?? 0, U32, 'nsid'),
    sgl: f.dataLength !== undefined && f.dataLength > 0 ? sglInCapsule(f.dataLength) : sglTransportDataBlock(0),
    cdw10: (checkUint(f.fid, U8, 'fid') | ((f.sv === true ? 1 : 0) << 31)) >>> 0,
    cdw11: checkUint(f.cdw11 ?? 0, U32, 'cdw11'),
    cdw12: checkUint(f.cdw12 ?? 0, U32, 'cdw12'),
  })
}
export function makeGetFeaturesSqe(f: { cid: number; fid: number; sel?: number; cdw11?: number; nsid?: number; dataLength?: number }): Sqe {
  return makeSqe({
    opc: AdminOpcode.GET_FEATURES,
    cid: f.cid,
    nsid: checkUint(f.nsid ?? 0, U32, 'nsid'),
    sgl: sglTransportDataBlock(f.dataLength ?? 0),
    cdw10: checkUint(f.fid, U8, 'fid') | (checkUint(f.sel ?? 0, 7, 'sel') << 8),
    cdw11: checkUint(f.cdw11 ?? 0, U32, 'cdw11'),
  })
}

// ---------------------------------------------------------------------------------------------
// Number of Queues (07h): CDW11 and DW0 both hold SQ count in bits 15:0 and CQ count in 31:16,
// 0's based. A request of 0xFFFF (65536 queues) is invalid (Invalid Field).

export interface NumQueues {
  /** Number of I/O submission queues (1-based count, not 0's based). */
  nsq: number
  /** Number of I/O completion queues (1-based count). */
  ncq: number
}

/** CDW11 / DW0 value for counts `nsq`/`ncq` (1..65535 each); written 0's based. */
export function encodeNumQueues(q: NumQueues): number {
  const nsq = checkUint(q.nsq, 0xffff, 'nsq')
  const ncq = checkUint(q.ncq, 0xffff, 'ncq')
  if (nsq < 1) throw new InvalidArgumentError('nsq', 'must be at least 1')
  if (ncq < 1) throw new InvalidArgumentError('ncq', 'must be at least 1')
  return ((nsq - 1) | ((ncq - 1) << 16)) >>> 0
}
/** Counts (1-based) from CDW11 or DW0. A 0xFFFF field decodes as 65536 (the caller rejects it). */
export function decodeNumQueues(v: number): NumQueues {
  return { nsq: (v & 0xffff) + 1, ncq: ((v >>> 16) & 0xffff) + 1 }
}
/** The I/O queue count the Linux host will use from the Set Features result: min(NSQA, NCQA) + 1. */
export function usableIoQueues(dw0: number): number {
  const q = decodeNumQueues(dw0)
  return Math.min(q.nsq, q.ncq)
}

// ---------------------------------------------------------------------------------------------
// Asynchronous Event Configuration (0Bh)

export interface AsyncEventConfig {
  /** SMART / health critical warnings, bits 7:0. */
  smartCriticalWarnings: number
  nsAttr: boolean
  fwActivation: boolean
  telemetry: boolean
  anaChange: boolean
  predictableLatency: boolean
  lbaStatus: boolean
  enduranceGroup: boolean
  /** Zone Descriptor Changed notices (ZNS), bit 27. */
  zoneDescriptorChanged: boolean
  discChange: boolean
}

export function decodeAsyncEventConfig(v: number): AsyncEventConfig {
  const b = (n: number): boolean => ((v >>> n) & 1) === 1
  return {
    smartCriticalWarnings: v & 0xff,
    nsAttr: b(8),
    fwActivation: b(9),
    telemetry: b(10),
    anaChange: b(11),
    predictableLatency: b(12),
    lbaStatus: b(13),
    enduranceGroup: b(14),
    zoneDescriptorChanged: b(27),
    discChange: b(31),
  }
}
export function encodeAsyncEventConfig(c: Partial<AsyncEventConfig>): number {
  const b = (x: boolean | undefined, n: number): number => (x === true ? 1 << n : 0)
  return (
    (checkUint(c.smartCriticalWarnings ?? 0, 0xff, 'smartCriticalWarnings') |
      b(c.nsAttr, 8) |
      b(c.fwActivation, 9) |
      b(c.telemetry, 10) |
      b(c.anaChange, 11) |
      b(c.predictableLatency, 12) |
      b(c.lbaStatus, 13) |
      b(c.enduranceGroup, 14) |
      b(c.zoneDescriptorChanged, 27) |
      b(c.discChange, 31)) >>>
    0
  )
}

// ---------------------------------------------------------------------------------------------
// Keep Alive Timer (0Fh): CDW11 / DW0 = KATO in milliseconds. Connect carries the same unit.

/** CDW11 for a KATO in milliseconds. */
export function encodeKato(katoMs: number): number {
  return checkUint(katoMs, U32, 'kato')
}
export function decodeKato(v: number): number {
  return v >>> 0
}
/**
 * KATO rounded up to the controller's KAS granularity (Identify KAS, 100 ms units), as a controller
 * may do; 0 stays 0 (keep-alive disabled).
 */
export function roundKatoToKas(katoMs: number, kas: number): number {
  checkUint(katoMs, U32, 'kato')
  if (kas === 0 || katoMs === 0) return katoMs
  const unit = kas * 100
  return Math.min(U32, Math.ceil(katoMs / unit) * unit)
}
