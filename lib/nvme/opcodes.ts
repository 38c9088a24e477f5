/**
 * Opcodes and identifier values (wire reference sections 3.1, 4.1, 4.2, 4.6, 4.7, 7;
 * NVMe Base 2.0 Figures 28 and 36, NVM Command Set 1.0 Figure 18).
 */

/** Admin command opcodes (SQE byte 0 on the admin queue). */
export const AdminOpcode = {
  DELETE_SQ: 0x00,
  CREATE_SQ: 0x01,
  GET_LOG_PAGE: 0x02,
  DELETE_CQ: 0x04,
  CREATE_CQ: 0x05,
  IDENTIFY: 0x06,
  ABORT: 0x08,
  SET_FEATURES: 0x09,
  GET_FEATURES: 0x0a,
  ASYNC_EVENT_REQUEST: 0x0c,
  NS_MANAGEMENT: 0x0d,
  FIRMWARE_COMMIT: 0x10,
  FIRMWARE_DOWNLOAD: 0x11,
  DEVICE_SELF_TEST: 0x14,
  NS_ATTACHMENT: 0x15,
  KEEP_ALIVE: 0x18,
  DIRECTIVE_SEND: 0x19,
  DIRECTIVE_RECEIVE: 0x1a,
  VIRTUALIZATION_MANAGEMENT: 0x1c,
  NVME_MI_SEND: 0x1d,
  NVME_MI_RECEIVE: 0x1e,
  CAPACITY_MANAGEMENT: 0x20,
  LOCKDOWN: 0x24,
  DOORBELL_BUFFER_CONFIG: 0x7c,
  FABRICS: 0x7f,
  FORMAT_NVM: 0x80,
  SECURITY_SEND: 0x81,
  SECURITY_RECEIVE: 0x82,
  SANITIZE: 0x84,
  GET_LBA_STATUS: 0x86,
} as const
export type AdminOpcodeValue = (typeof AdminOpcode)[keyof typeof AdminOpcode]

/** NVM command set I/O opcodes (SQE byte 0 on I/O queues); 0x7F is Fabrics there too. */
export const IoOpcode = {
  FLUSH: 0x00,
  WRITE: 0x01,
  READ: 0x02,
  WRITE_UNCORRECTABLE: 0x04,
  COMPARE: 0x05,
  WRITE_ZEROES: 0x08,
  DATASET_MANAGEMENT: 0x09,
  VERIFY: 0x0c,
  RESERVATION_REGISTER: 0x0d,
  RESERVATION_REPORT: 0x0e,
  RESERVATION_ACQUIRE: 0x11,
  RESERVATION_RELEASE: 0x15,
  COPY: 0x19,
  ZONE_MGMT_SEND: 0x79,
  ZONE_MGMT_RECV: 0x7a,
  ZONE_APPEND: 0x7d,
  FABRICS: 0x7f,
} as const
export type IoOpcodeValue = (typeof IoOpcode)[keyof typeof IoOpcode]

/** Fabrics command type, FCTYPE at SQE byte 4 when OPC = 0x7F (wire reference 3.1). */
export const FabricsType = {
  PROPERTY_SET: 0x00,
  CONNECT: 0x01,
  PROPERTY_GET: 0x04,
  AUTH_SEND: 0x05,
  AUTH_RECEIVE: 0x06,
  /** I/O queues only; NVMe Base 2.0. The Linux host never sends it. */
  DISCONNECT: 0x08,
} as const
export type FabricsTypeValue = (typeof FabricsType)[keyof typeof FabricsType]

/** The Fabrics opcode (same on admin and I/O queues). */
export const FABRICS_OPCODE = 0x7f

/** Identify CNS values (CDW10 bits 7:0; wire reference 4.2). */
export const Cns = {
  NAMESPACE: 0x00,
  CONTROLLER: 0x01,
  ACTIVE_NS_LIST: 0x02,
  NS_ID_DESC_LIST: 0x03,
  NVM_SET_LIST: 0x04,
  CSI_NAMESPACE: 0x05,
  CSI_CONTROLLER: 0x06,
  CSI_ACTIVE_NS_LIST: 0x07,
  /** I/O command set independent Identify Namespace. */
  CS_INDEP_NAMESPACE: 0x08,
  ALLOCATED_NS_LIST: 0x10,
  ALLOCATED_NAMESPACE: 0x11,
  NS_CTRL_LIST: 0x12,
  CTRL_LIST: 0x13,
  PRIMARY_CTRL_CAP: 0x14,
  SECONDARY_CTRL_LIST: 0x15,
  NS_GRANULARITY: 0x16,
  UUID_LIST: 0x17,
  CSI_ALLOCATED_NS_LIST: 0x1a,
  CSI_ALLOCATED_NAMESPACE: 0x1b,
  IO_COMMAND_SET: 0x1c,
} as const
export type CnsValue = (typeof Cns)[keyof typeof Cns]

/** Command Set Identifier (CSI). */
export const Csi = {
  NVM: 0x00,
  KV: 0x01,
  ZNS: 0x02,
} as const

/** Log page identifiers (Get Log Page CDW10 bits 7:0; wire reference 4.6, 5). */
export const LogPageId = {
  SUPPORTED_LOG_PAGES: 0x00,
  ERROR: 0x01,
  SMART: 0x02,
  FW_SLOT: 0x03,
  CHANGED_NS: 0x04,
  CMD_EFFECTS: 0x05,
  DEVICE_SELF_TEST: 0x06,
  TELEMETRY_HOST: 0x07,
  TELEMETRY_CTRL: 0x08,
  ENDURANCE_GROUP: 0x09,
  PRED_LAT_NVMSET: 0x0a,
  PRED_LAT_AGG: 0x0b,
  ANA: 0x0c,
  PERSISTENT_EVENT: 0x0d,
  LBA_STATUS: 0x0e,
  ENDURANCE_GROUP_AGG: 0x0f,
  MEDIA_UNIT_STATUS: 0x10,
  SUPPORTED_CAP_CONFIG: 0x11,
  FID_SUPPORTED_EFFECTS: 0x12,
  MI_CMD_SUPPORTED_EFFECTS: 0x13,
  BOOT_PARTITION: 0x15,
  DISCOVERY: 0x70,
  RESERVATION_NOTIFICATION: 0x80,
  SANITIZE: 0x81,
} as const
export type LogPageIdValue = (typeof LogPageId)[keyof typeof LogPageId]

/** Feature identifiers (Set/Get Features CDW10 bits 7:0; wire reference 4.7). */
export const FeatureId = {
  ARBITRATION: 0x01,
  POWER_MGMT: 0x02,
  LBA_RANGE: 0x03,
  TEMP_THRESH: 0x04,
  ERR_RECOVERY: 0x05,
  VOLATILE_WC: 0x06,
  NUM_QUEUES: 0x07,
  IRQ_COALESCE: 0x08,
  IRQ_CONFIG: 0x09,
  WRITE_ATOMIC: 0x0a,
  ASYNC_EVENT: 0x0b,
  AUTO_PST: 0x0c,
  HOST_MEM_BUF: 0x0d,
  TIMESTAMP: 0x0e,
  KATO: 0x0f,
  HCTM: 0x10,
  NOPSC: 0x11,
  RRL: 0x12,
  PLM_CONFIG: 0x13,
  PLM_WINDOW: 0x14,
  LBA_STATUS_INFO: 0x15,
  HOST_BEHAVIOR: 0x16,
  SANITIZE_CONFIG: 0x17,
  ENDURANCE_EVENT_CONFIG: 0x18,
  IOCS_PROFILE: 0x19,
  SPINUP_CONTROL: 0x1a,
  SW_PROGRESS: 0x80,
  HOST_ID: 0x81,
  RESV_MASK: 0x82,
  RESV_PERSIST: 0x83,
  WRITE_PROTECT: 0x84,
} as const
export type FeatureIdValue = (typeof FeatureId)[keyof typeof FeatureId]

/** Direction of a command's data: none, host to controller (write), controller to host (read), both (bidirectional, reserved for us). */
export type DataDirection = 'none' | 'host-to-controller' | 'controller-to-host' | 'bidirectional'

/**
 * Data direction from the opcode bits 1:0 (NVMe Base 2.0 Figure 28, wire reference 2.1):
 * 00b none, 01b host→controller, 10b controller→host, 11b bidirectional. For fabrics commands
 * (opc 0x7F) pass the FCTYPE as `fctype`; the same rule applies to it (Connect and Auth Send write,
 * Auth Receive reads, Property Get/Set carry no data).
 */
export function dataDirection(opc: number, fctype?: number): DataDirection {
  const code = opc === FABRICS_OPCODE && fctype !== undefined ? fctype : opc
  switch (code & 0x3) {
    case 0:
      return 'none'
    case 1:
      return 'host-to-controller'
    case 2:
      return 'controller-to-host'
    default:
      return 'bidirectional'
  }
}

/** Name lookups for logs and traces. */
function invert(o: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  const m = new Map<number, string>()
  for (const [k, v] of Object.entries(o)) if (!m.has(v)) m.set(v, k)
  return m
}
const ADMIN_NAMES = invert(AdminOpcode)
const IO_NAMES = invert(IoOpcode)
const FCTYPE_NAMES = invert(FabricsType)

export function adminOpcodeName(opc: number): string {
  return ADMIN_NAMES.get(opc) ?? `ADMIN_0x${opc.toString(16).padStart(2, '0')}`
}
export function ioOpcodeName(opc: number): string {
  return IO_NAMES.get(opc) ?? `IO_0x${opc.toString(16).padStart(2, '0')}`
}
export function fabricsTypeName(fctype: number): string {
  return FCTYPE_NAMES.get(fctype) ?? `FCTYPE_0x${fctype.toString(16).padStart(2, '0')}`
}
