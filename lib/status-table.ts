/**
 * The status table: every known NVMe completion status with its symbolic key, SCT, SC and name
 * (wire reference section 8.1; NVMe Base 2.0 Figures 100-103). Pure data; lib/status.ts holds the
 * named values and the functions over them, and re-exports this table.
 */
export interface StatusTableEntry {
  /** Stable symbolic key (also a key of {@link NvmeStatus}). */
  readonly key: string
  readonly sct: number
  readonly sc: number
  /** 15-bit Linux form without DNR/More/CRD. */
  readonly value: number
  readonly name: string
  /**
   * For SCT 1h SC >= 80h, which commands this meaning applies to: 'fabrics' (Connect and other
   * Fabrics commands, admin-queue default) or 'io' (NVM command set I/O commands).
   */
  readonly context?: 'fabrics' | 'io'
}

type Row = readonly [key: string, sct: number, sc: number, name: string, context?: 'fabrics' | 'io']

// NVMe Base 2.0 Figures 100-103 (generic, command specific, media, path) plus the NVM Command Set
// command-specific values. Keys follow the Linux NVME_SC_* names where Linux has one.
const ROWS: readonly Row[] = [
  // SCT 0h: Generic Command Status
  ['SUCCESS', 0, 0x00, 'Successful Completion'],
  ['INVALID_OPCODE', 0, 0x01, 'Invalid Command Opcode'],
  ['INVALID_FIELD', 0, 0x02, 'Invalid Field in Command'],
  ['CMDID_CONFLICT', 0, 0x03, 'Command ID Conflict'],
  ['DATA_XFER_ERROR', 0, 0x04, 'Data Transfer Error'],
  ['POWER_LOSS', 0, 0x05, 'Commands Aborted due to Power Loss Notification'],
  ['INTERNAL', 0, 0x06, 'Internal Error'],
  ['ABORT_REQ', 0, 0x07, 'Command Abort Requested'],
  ['ABORT_QUEUE', 0, 0x08, 'Command Aborted due to SQ Deletion'],
  ['FUSED_FAIL', 0, 0x09, 'Command Aborted due to Failed Fused Command'],
  ['FUSED_MISSING', 0, 0x0a, 'Command Aborted due to Missing Fused Command'],
  ['INVALID_NS', 0, 0x0b, 'Invalid Namespace or Format'],
  ['CMD_SEQ_ERROR', 0, 0x0c, 'Command Sequence Error'],
  ['SGL_INVALID_LAST', 0, 0x0d, 'Invalid SGL Segment Descriptor'],
  ['SGL_INVALID_COUNT', 0, 0x0e, 'Invalid Number of SGL Descriptors'],
  ['SGL_INVALID_DATA', 0, 0x0f, 'Data SGL Length Invalid'],
  ['SGL_INVALID_METADATA', 0, 0x10, 'Metadata SGL Length Invalid'],
  ['SGL_INVALID_TYPE', 0, 0x11, 'SGL Descriptor Type Invalid'],
  ['CMB_INVALID_USE', 0, 0x12, 'Invalid Use of Controller Memory Buffer'],
  ['PRP_INVALID_OFFSET', 0, 0x13, 'PRP Offset Invalid'],
  ['ATOMIC_WU_EXCEEDED', 0, 0x14, 'Atomic Write Unit Exceeded'],
  ['OP_DENIED', 0, 0x15, 'Operation Denied'],
  ['SGL_INVALID_OFFSET', 0, 0x16, 'SGL Offset Invalid'],
  ['SGL_INVALID_SUBTYPE', 0, 0x17, 'SGL Sub-Type Invalid (reserved in 2.0)'],
  ['HOST_ID_INCONSIST', 0, 0x18, 'Host Identifier Inconsistent Format'],
  ['KA_TIMEOUT_EXPIRED', 0, 0x19, 'Keep Alive Timer Expired'],
  ['KA_TIMEOUT_INVALID', 0, 0x1a, 'Keep Alive Timeout Invalid'],
  ['ABORTED_PREEMPT_ABORT', 0, 0x1b, 'Command Aborted due to Preempt and Abort'],
  ['SANITIZE_FAILED', 0, 0x1c, 'Sanitize Failed'],
  ['SANITIZE_IN_PROGRESS', 0, 0x1d, 'Sanitize In Progress'],
  ['SGL_INVALID_GRANULARITY', 0, 0x1e, 'SGL Data Block Granularity Invalid'],
  ['CMD_NOT_SUP_CMB_QUEUE', 0, 0x1f, 'Command Not Supported for Queue in CMB'],
  ['NS_WRITE_PROTECTED', 0, 0x20, 'Namespace is Write Protected'],
  ['CMD_INTERRUPTED', 0, 0x21, 'Command Interrupted'],
  ['TRANSIENT_TR_ERR', 0, 0x22, 'Transient Transport Error'],
  ['CMD_PROHIBITED_LOCKDOWN', 0, 0x23, 'Command Prohibited by Command and Feature Lockdown'],
  ['ADMIN_MEDIA_NOT_READY', 0, 0x24, 'Admin Command Media Not Ready'],
  ['INVALID_IO_CMD_SET', 0, 0x2c, 'Invalid IO Command Set'],
  // SCT 0h, NVM command set generic values (80h-BFh)
  ['LBA_RANGE', 0, 0x80, 'LBA Out of Range'],
  ['CAP_EXCEEDED', 0, 0x81, 'Capacity Exceeded'],
  ['NS_NOT_READY', 0, 0x82, 'Namespace Not Ready'],
  ['RESERVATION_CONFLICT', 0, 0x83, 'Reservation Conflict'],
  ['FORMAT_IN_PROGRESS', 0, 0x84, 'Format In Progress'],

  // SCT 1h: Command Specific Status
  ['CQ_INVALID', 1, 0x00, 'Completion Queue Invalid'],
  ['QID_INVALID', 1, 0x01, 'Invalid Queue Identifier'],
  ['QUEUE_SIZE', 1, 0x02, 'Invalid Queue Size'],
  ['ABORT_LIMIT', 1, 0x03, 'Abort Command Limit Exceeded'],
  ['ABORT_MISSING', 1, 0x04, 'Reserved (formerly Abort Command Is Missing)'],
  ['ASYNC_LIMIT', 1, 0x05, 'Asynchronous Event Request Limit Exceeded'],
  ['FIRMWARE_SLOT', 1, 0x06, 'Invalid Firmware Slot'],
  ['FIRMWARE_IMAGE', 1, 0x07, 'Invalid Firmware Image'],
  ['INVALID_VECTOR', 1, 0x08, 'Invalid Interrupt Vector'],
  ['INVALID_LOG_PAGE', 1, 0x09, 'Invalid Log Page'],
  ['INVALID_FORMAT', 1, 0x0a, 'Invalid Format'],
  ['FW_NEEDS_CONV_RESET', 1, 0x0b, 'Firmware Activation Requires Conventional Reset'],
  ['INVALID_QUEUE', 1, 0x0c, 'Invalid Queue Deletion'],
  ['FEATURE_NOT_SAVEABLE', 1, 0x0d, 'Feature Identifier Not Saveable'],
  ['FEATURE_NOT_CHANGEABLE', 1, 0x0e, 'Feature Not Changeable'],
  ['FEATURE_NOT_PER_NS', 1, 0x0f, 'Feature Not Namespace Specific'],
  ['FW_NEEDS_SUBSYS_RESET', 1, 0x10, 'Firmware Activation Requires NVM Subsystem Reset'],
  ['FW_NEEDS_RESET', 1, 0x11, 'Firmware Activation Requires Controller Level Reset'],
  ['FW_NEEDS_MAX_TIME', 1, 0x12, 'Firmware Activation Requires Maximum Time Violation'],
  ['FW_ACTIVATE_PROHIBITED', 1, 0x13, 'Firmware Activation Prohibited'],
  ['OVERLAPPING_RANGE', 1, 0x14, 'Overlapping Range'],
  ['NS_INSUFFICIENT_CAP', 1, 0x15, 'Namespace Insufficient Capacity'],
  ['NS_ID_UNAVAILABLE', 1, 0x16, 'Namespace Identifier Unavailable'],
  ['NS_ALREADY_ATTACHED', 1, 0x18, 'Namespace Already Attached'],
  ['NS_IS_PRIVATE', 1, 0x19, 'Namespace Is Private'],
  ['NS_NOT_ATTACHED', 1, 0x1a, 'Namespace Not Attached'],
  ['THIN_PROV_NOT_SUPP', 1, 0x1b, 'Thin Provisioning Not Supported'],
  ['CTRL_LIST_INVALID', 1, 0x1c, 'Controller List Invalid'],
  ['SELF_TEST_IN_PROGRESS', 1, 0x1d, 'Device Self-test In Progress'],
  ['BP_WRITE_PROHIBITED', 1, 0x1e, 'Boot Partition Write Prohibited'],
  ['CTRL_ID_INVALID', 1, 0x1f, 'Invalid Controller Identifier'],
  ['SEC_CTRL_STATE_INVALID', 1, 0x20, 'Invalid Secondary Controller State'],
  ['CTRL_RES_NUM_INVALID', 1, 0x21, 'Invalid Number of Controller Resources'],
  ['RES_ID_INVALID', 1, 0x22, 'Invalid Resource Identifier'],
  ['PMR_SAN_PROHIBITED', 1, 0x23, 'Sanitize Prohibited While Persistent Memory Region is Enabled'],
  ['ANA_GROUP_ID_INVALID', 1, 0x24, 'ANA Group Identifier Invalid'],
  ['ANA_ATTACH_FAILED', 1, 0x25, 'ANA Attach Failed'],
  ['INSUFFICIENT_CAP', 1, 0x26, 'Insufficient Capacity'],
  ['NS_ATTACH_LIMIT', 1, 0x27, 'Namespace Attachment Limit Exceeded'],
  ['PROHIBIT_NOT_SUPPORTED', 1, 0x28, 'Prohibition of Command Execution Not Supported'],
  ['IOCS_NOT_SUPPORTED', 1, 0x29, 'I/O Command Set Not Supported'],
  ['IOCS_NOT_ENABLED', 1, 0x2a, 'I/O Command Set Not Enabled'],
  ['IOCS_COMBINATION_REJECTED', 1, 0x2b, 'I/O Command Set Combination Rejected'],
  ['INVALID_IOCS', 1, 0x2c, 'Invalid I/O Command Set'],
  ['ID_UNAVAILABLE', 1, 0x2d, 'Identifier Unavailable'],
  // SCT 1h, Fabrics command specific (NVMe Base 2.0 section 6 / wire reference 3.2)
  ['CONNECT_FORMAT', 1, 0x80, 'Connect Incompatible Format', 'fabrics'],
  ['CONNECT_CTRL_BUSY', 1, 0x81, 'Connect Controller Busy', 'fabrics'],
  ['CONNECT_INVALID_PARAM', 1, 0x82, 'Connect Invalid Parameters', 'fabrics'],
  ['CONNECT_RESTART_DISC', 1, 0x83, 'Connect Restart Discovery', 'fabrics'],
  ['CONNECT_INVALID_HOST', 1, 0x84, 'Connect Invalid Host', 'fabrics'],
  ['INVALID_QUEUE_TYPE', 1, 0x85, 'Invalid Queue Type', 'fabrics'],
  ['DISCOVERY_RESTART', 1, 0x90, 'Discover Restart', 'fabrics'],
  ['AUTH_REQUIRED', 1, 0x91, 'Authentication Required', 'fabrics'],
  // SCT 1h, NVM command set I/O command specific
  ['BAD_ATTRIBUTES', 1, 0x80, 'Conflicting Attributes', 'io'],
  ['INVALID_PI', 1, 0x81, 'Invalid Protection Information', 'io'],
  ['READ_ONLY', 1, 0x82, 'Attempted Write to Read Only Range', 'io'],
  ['CMD_SIZE_LIM_EXCEEDED', 1, 0x83, 'Command Size Limit Exceeded', 'io'],
  ['ZONE_BOUNDARY_ERROR', 1, 0xb8, 'Zoned Boundary Error', 'io'],
  ['ZONE_FULL', 1, 0xb9, 'Zone Is Full', 'io'],
  ['ZONE_READ_ONLY', 1, 0xba, 'Zone Is Read Only', 'io'],
  ['ZONE_OFFLINE', 1, 0xbb, 'Zone Is Offline', 'io'],
  ['ZONE_INVALID_WRITE', 1, 0xbc, 'Zone Invalid Write', 'io'],
  ['ZONE_TOO_MANY_ACTIVE', 1, 0xbd, 'Too Many Active Zones', 'io'],
  ['ZONE_TOO_MANY_OPEN', 1, 0xbe, 'Too Many Open Zones', 'io'],
  ['ZONE_INVALID_TRANSITION', 1, 0xbf, 'Invalid Zone State Transition', 'io'],

  // SCT 2h: Media and Data Integrity Errors
  ['WRITE_FAULT', 2, 0x80, 'Write Fault'],
  ['READ_ERROR', 2, 0x81, 'Unrecovered Read Error'],
  ['GUARD_CHECK', 2, 0x82, 'End-to-end Guard Check Error'],
  ['APPTAG_CHECK', 2, 0x83, 'End-to-end Application Tag Check Error'],
  ['REFTAG_CHECK', 2, 0x84, 'End-to-end Reference Tag Check Error'],
  ['COMPARE_FAILED', 2, 0x85, 'Compare Failure'],
  ['ACCESS_DENIED', 2, 0x86, 'Access Denied'],
  ['UNWRITTEN_BLOCK', 2, 0x87, 'Deallocated or Unwritten Logical Block'],
  ['STORAGE_TAG_CHECK', 2, 0x88, 'End-to-end Storage Tag Check Error'],

  // SCT 3h: Path Related Status. 04h-5Fh reserved; 60h-6Fh controller-detected pathing errors (only
  // 60h defined); 70h-7Fh host-detected pathing errors (70h, 71h defined).
  ['INTERNAL_PATH_ERROR', 3, 0x00, 'Internal Path Error'],
  ['ANA_PERSISTENT_LOSS', 3, 0x01, 'Asymmetric Access Persistent Loss'],
  ['ANA_INACCESSIBLE', 3, 0x02, 'Asymmetric Access Inaccessible'],
  ['ANA_TRANSITION', 3, 0x03, 'Asymmetric Access Transition'],
  ['CTRL_PATH_ERROR', 3, 0x60, 'Controller Pathing Error'],
  ['HOST_PATH_ERROR', 3, 0x70, 'Host Pathing Error'],
  ['HOST_ABORTED_CMD', 3, 0x71, 'Command Aborted By Host'],
]

/** Every known status, with its symbolic key, SCT, SC and name. */
export const STATUS_TABLE: readonly StatusTableEntry[] = Object.freeze(
  ROWS.map(([key, sct, sc, name, context]) =>
    Object.freeze(context === undefined ? { key, sct, sc, value: (sct << 8) | sc, name } : { key, sct, sc, value: (sct << 8) | sc, name, context }),
  ),
)
