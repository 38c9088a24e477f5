/**
 * NVMe completion status values, one table (wire reference section 8.1, NVMe Base 2.0 section 4.6.1.2).
 *
 * A status is carried in the *Linux internal form*: the CQE STATUS field shifted right by one (the
 * phase tag dropped), i.e. SC in bits 7:0, SCT in 10:8, CRD in 12:11, More in 13, DNR in 14. So the
 * ANA Inaccessible status (SCT 3h, SC 02h) is 0x302, and with DNR 0x4302. The phase tag is
 * meaningless on fabrics and is not modelled (encoders always send P = 0).
 */
import { InvalidArgumentError } from './errors.js'
import { STATUS_TABLE, type StatusTableEntry } from './status-table.js'

export { STATUS_TABLE, type StatusTableEntry } from './status-table.js'

export const STATUS_SC_MASK = 0xff
export const STATUS_SCT_SHIFT = 8
export const STATUS_SCT_MASK = 0x7
export const STATUS_CRD_SHIFT = 11
export const STATUS_CRD_MASK = 0x3
/** More: additional information is in the Error Information log page. */
export const STATUS_MORE = 0x2000
/** Do Not Retry. */
export const STATUS_DNR = 0x4000
/** Every bit that can be set in the 15-bit form. */
export const STATUS_MASK = 0x7fff

/** Status Code Type values. */
export const StatusCodeType = {
  GENERIC: 0,
  COMMAND_SPECIFIC: 1,
  MEDIA: 2,
  PATH: 3,
  VENDOR: 7,
} as const
export type StatusCodeTypeValue = (typeof StatusCodeType)[keyof typeof StatusCodeType]

/** Where a status was returned; needed because SCT 1h SC 80h-BFh are command-set / command specific. */
export type StatusContext = 'admin' | 'io' | 'fabrics'

/**
 * Named status values in the 15-bit Linux form (`sct << 8 | sc`), without DNR. Keys are the Linux
 * `NVME_SC_*` names; a few descriptive aliases are added for readability.
 */
export const NvmeStatus = Object.freeze({
  SUCCESS: 0x000,
  INVALID_OPCODE: 0x001,
  INVALID_FIELD: 0x002,
  CMDID_CONFLICT: 0x003,
  DATA_XFER_ERROR: 0x004,
  POWER_LOSS: 0x005,
  INTERNAL: 0x006,
  ABORT_REQ: 0x007,
  ABORT_QUEUE: 0x008,
  FUSED_FAIL: 0x009,
  FUSED_MISSING: 0x00a,
  INVALID_NS: 0x00b,
  CMD_SEQ_ERROR: 0x00c,
  SGL_INVALID_LAST: 0x00d,
  SGL_INVALID_COUNT: 0x00e,
  SGL_INVALID_DATA: 0x00f,
  SGL_INVALID_METADATA: 0x010,
  SGL_INVALID_TYPE: 0x011,
  CMB_INVALID_USE: 0x012,
  PRP_INVALID_OFFSET: 0x013,
  ATOMIC_WU_EXCEEDED: 0x014,
  OP_DENIED: 0x015,
  SGL_INVALID_OFFSET: 0x016,
  SGL_INVALID_SUBTYPE: 0x017,
  HOST_ID_INCONSIST: 0x018,
  KA_TIMEOUT_EXPIRED: 0x019,
  KA_TIMEOUT_INVALID: 0x01a,
  ABORTED_PREEMPT_ABORT: 0x01b,
  SANITIZE_FAILED: 0x01c,
  SANITIZE_IN_PROGRESS: 0x01d,
  SGL_INVALID_GRANULARITY: 0x01e,
  CMD_NOT_SUP_CMB_QUEUE: 0x01f,
  NS_WRITE_PROTECTED: 0x020,
  CMD_INTERRUPTED: 0x021,
  TRANSIENT_TR_ERR: 0x022,
  CMD_PROHIBITED_LOCKDOWN: 0x023,
  ADMIN_MEDIA_NOT_READY: 0x024,
  INVALID_IO_CMD_SET: 0x02c,
  LBA_RANGE: 0x080,
  CAP_EXCEEDED: 0x081,
  NS_NOT_READY: 0x082,
  RESERVATION_CONFLICT: 0x083,
  FORMAT_IN_PROGRESS: 0x084,

  CQ_INVALID: 0x100,
  QID_INVALID: 0x101,
  QUEUE_SIZE: 0x102,
  ABORT_LIMIT: 0x103,
  ABORT_MISSING: 0x104,
  ASYNC_LIMIT: 0x105,
  FIRMWARE_SLOT: 0x106,
  FIRMWARE_IMAGE: 0x107,
  INVALID_VECTOR: 0x108,
  INVALID_LOG_PAGE: 0x109,
  INVALID_FORMAT: 0x10a,
  FW_NEEDS_CONV_RESET: 0x10b,
  INVALID_QUEUE: 0x10c,
  FEATURE_NOT_SAVEABLE: 0x10d,
  FEATURE_NOT_CHANGEABLE: 0x10e,
  FEATURE_NOT_PER_NS: 0x10f,
  FW_NEEDS_SUBSYS_RESET: 0x110,
  FW_NEEDS_RESET: 0x111,
  FW_NEEDS_MAX_TIME: 0x112,
  FW_ACTIVATE_PROHIBITED: 0x113,
  OVERLAPPING_RANGE: 0x114,
  NS_INSUFFICIENT_CAP: 0x115,
  NS_ID_UNAVAILABLE: 0x116,
  NS_ALREADY_ATTACHED: 0x118,
  NS_IS_PRIVATE: 0x119,
  NS_NOT_ATTACHED: 0x11a,
  THIN_PROV_NOT_SUPP: 0x11b,
  CTRL_LIST_INVALID: 0x11c,
  SELF_TEST_IN_PROGRESS: 0x11d,
  BP_WRITE_PROHIBITED: 0x11e,
  CTRL_ID_INVALID: 0x11f,
  SEC_CTRL_STATE_INVALID: 0x120,
  CTRL_RES_NUM_INVALID: 0x121,
  RES_ID_INVALID: 0x122,
  PMR_SAN_PROHIBITED: 0x123,
  ANA_GROUP_ID_INVALID: 0x124,
  ANA_ATTACH_FAILED: 0x125,
  INSUFFICIENT_CAP: 0x126,
  NS_ATTACH_LIMIT: 0x127,
  PROHIBIT_NOT_SUPPORTED: 0x128,
  IOCS_NOT_SUPPORTED: 0x129,
  IOCS_NOT_ENABLED: 0x12a,
  IOCS_COMBINATION_REJECTED: 0x12b,
  INVALID_IOCS: 0x12c,
  ID_UNAVAILABLE: 0x12d,
  CONNECT_FORMAT: 0x180,
  CONNECT_CTRL_BUSY: 0x181,
  CONNECT_INVALID_PARAM: 0x182,
  CONNECT_RESTART_DISC: 0x183,
  CONNECT_INVALID_HOST: 0x184,
  INVALID_QUEUE_TYPE: 0x185,
  DISCOVERY_RESTART: 0x190,
  AUTH_REQUIRED: 0x191,
  BAD_ATTRIBUTES: 0x180,
  INVALID_PI: 0x181,
  READ_ONLY: 0x182,
  CMD_SIZE_LIM_EXCEEDED: 0x183,
  ZONE_BOUNDARY_ERROR: 0x1b8,
  ZONE_FULL: 0x1b9,
  ZONE_READ_ONLY: 0x1ba,
  ZONE_OFFLINE: 0x1bb,
  ZONE_INVALID_WRITE: 0x1bc,
  ZONE_TOO_MANY_ACTIVE: 0x1bd,
  ZONE_TOO_MANY_OPEN: 0x1be,
  ZONE_INVALID_TRANSITION: 0x1bf,

  WRITE_FAULT: 0x280,
  READ_ERROR: 0x281,
  GUARD_CHECK: 0x282,
  APPTAG_CHECK: 0x283,
  REFTAG_CHECK: 0x284,
  COMPARE_FAILED: 0x285,
  ACCESS_DENIED: 0x286,
  UNWRITTEN_BLOCK: 0x287,
  STORAGE_TAG_CHECK: 0x288,

  INTERNAL_PATH_ERROR: 0x300,
  ANA_PERSISTENT_LOSS: 0x301,
  ANA_INACCESSIBLE: 0x302,
  ANA_TRANSITION: 0x303,
  CTRL_PATH_ERROR: 0x360,
  HOST_PATH_ERROR: 0x370,
  HOST_ABORTED_CMD: 0x371,

  // Descriptive aliases.
  INVALID_COMMAND_OPCODE: 0x001,
  INVALID_FIELD_IN_COMMAND: 0x002,
  INTERNAL_ERROR: 0x006,
  INVALID_NAMESPACE: 0x00b,
  COMMAND_SEQUENCE_ERROR: 0x00c,
  TRANSIENT_TRANSPORT_ERROR: 0x022,
  LBA_OUT_OF_RANGE: 0x080,
  NAMESPACE_NOT_READY: 0x082,
  CONNECT_INCOMPATIBLE_FORMAT: 0x180,
  CONNECT_CONTROLLER_BUSY: 0x181,
  CONNECT_INVALID_PARAMETERS: 0x182,
  CONNECT_RESTART_DISCOVERY: 0x183,
  ASYNC_EVENT_LIMIT_EXCEEDED: 0x105,
  ANA_CHANGE: 0x303,
  UNRECOVERED_READ_ERROR: 0x281,
  AUTHENTICATION_REQUIRED: 0x191,
} as const)
export type NvmeStatusKey = keyof typeof NvmeStatus

export interface StatusParts {
  sct: number
  sc: number
  /** Command Retry Delay selector, 0..3 (0 = no delay; 1..3 pick CRDT1..3). */
  crd?: number
  more?: boolean
  dnr?: boolean
}

/** Compose a 15-bit status. Throws InvalidArgumentError on an out-of-range part. */
export function makeStatus(parts: StatusParts): number {
  const { sct, sc, crd = 0, more = false, dnr = false } = parts
  if (!Number.isInteger(sct) || sct < 0 || sct > STATUS_SCT_MASK) throw new InvalidArgumentError('sct', 'must be an integer in [0, 7]')
  if (!Number.isInteger(sc) || sc < 0 || sc > STATUS_SC_MASK) throw new InvalidArgumentError('sc', 'must be an integer in [0, 255]')
  if (!Number.isInteger(crd) || crd < 0 || crd > STATUS_CRD_MASK) throw new InvalidArgumentError('crd', 'must be an integer in [0, 3]')
  return (dnr ? STATUS_DNR : 0) | (more ? STATUS_MORE : 0) | (crd << STATUS_CRD_SHIFT) | (sct << STATUS_SCT_SHIFT) | sc
}

/** `status | DNR`. */
export function withDnr(status: number): number {
  return (status | STATUS_DNR) & STATUS_MASK
}

export function statusSct(status: number): number {
  return (status >> STATUS_SCT_SHIFT) & STATUS_SCT_MASK
}
export function statusSc(status: number): number {
  return status & STATUS_SC_MASK
}
export function statusDnr(status: number): boolean {
  return (status & STATUS_DNR) !== 0
}
export function statusMore(status: number): boolean {
  return (status & STATUS_MORE) !== 0
}
export function statusCrd(status: number): number {
  return (status >> STATUS_CRD_SHIFT) & STATUS_CRD_MASK
}
/** SCT and SC only (DNR, More and CRD stripped), e.g. for comparing with {@link NvmeStatus} values. */
export function statusCode(status: number): number {
  return status & 0x7ff
}
export function isSuccess(status: number): boolean {
  return statusCode(status) === 0
}
/** SCT 3h: path related; a multipath host fails the I/O over to another path (wire reference 8.2). */
export function isPathError(status: number): boolean {
  return statusSct(status) === StatusCodeType.PATH
}
/** ANA statuses (0x301-0x303): the host also marks the path ANA-pending and rereads the ANA log. */
export function isAnaError(status: number): boolean {
  const c = statusCode(status)
  return c === NvmeStatus.ANA_PERSISTENT_LOSS || c === NvmeStatus.ANA_INACCESSIBLE || c === NvmeStatus.ANA_TRANSITION
}

/** The 16-bit CQE STATUS field (offset 14) for a 15-bit status, phase tag 0. */
export function statusToCqeField(status: number): number {
  return (status & STATUS_MASK) << 1
}
/** The 15-bit status from the CQE STATUS field (the phase tag is dropped). */
export function cqeFieldToStatus(field: number): number {
  return (field >> 1) & STATUS_MASK
}

const BY_VALUE = new Map<number, StatusTableEntry[]>()
for (const e of STATUS_TABLE) {
  const list = BY_VALUE.get(e.value)
  if (list === undefined) BY_VALUE.set(e.value, [e])
  else list.push(e)
}

/**
 * The table entry for a status (DNR/More/CRD ignored). SCT 1h SC 80h-BFh depend on the command:
 * `'io'` selects the NVM I/O meaning (0x180 Conflicting Attributes, 0x182 Write to Read Only Range);
 * `'fabrics'`, `'admin'` or no context selects the Fabrics/Connect meaning (0x180 Incompatible Format,
 * 0x182 Invalid Parameters), since fabrics commands run on the admin queue.
 */
export function statusEntry(status: number, context?: StatusContext): StatusTableEntry | undefined {
  const list = BY_VALUE.get(statusCode(status))
  if (list === undefined) return undefined
  if (list.length === 1) {
    const only = list[0]
    if (only?.context === undefined) return only
    const want = context === 'io' ? 'io' : 'fabrics'
    return only.context === want ? only : undefined
  }
  const want = context === 'io' ? 'io' : 'fabrics'
  return list.find((e) => e.context === want) ?? list[0]
}

function rangeName(sct: number, sc: number): string {
  if (sct === 7 || sc >= 0xc0) return 'Vendor Specific'
  if (sct === 3) {
    if (sc >= 0x60 && sc <= 0x6f) return 'Reserved (controller detected pathing error)'
    if (sc >= 0x70 && sc <= 0x7f) return 'Reserved (host detected pathing error)'
    if (sc >= 0x80) return 'I/O Command Set Specific path status'
    return 'Reserved'
  }
  if (sct >= 4) return 'Reserved Status Code Type'
  if (sc >= 0x80) return 'I/O Command Set Specific'
  return 'Reserved'
}

/**
 * Human-readable name of a status, e.g. `statusName(0x4302)` → "Asymmetric Access Inaccessible (DNR)".
 * Unknown codes get a name for their range and the raw SCT/SC. See {@link statusEntry} for `context`.
 */
export function statusName(status: number, context?: StatusContext): string {
  const e = statusEntry(status, context)
  const sct = statusSct(status)
  const sc = statusSc(status)
  const base = e !== undefined ? e.name : `${rangeName(sct, sc)} (SCT 0x${sct.toString(16)} SC 0x${sc.toString(16).padStart(2, '0')})`
  return statusDnr(status) ? `${base} (DNR)` : base
}
