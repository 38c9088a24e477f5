/**
 * Identify Controller data structure (CNS 01h), 4096 bytes: wire reference 4.3, NVMe Base 2.0
 * Figure 275. Every field is named with its spec abbreviation (lower case). Reserved ranges are not
 * fields; they encode as zero and are ignored on decode.
 */
import { InvalidArgumentError } from '../errors.js'
import { asBuffer, need } from './codec.js'
import { decodeFields, encodeFields, field, type FieldDef } from './struct.js'

export const IDENTIFY_DATA_SIZE = 4096
export const POWER_STATE_DESCRIPTOR_SIZE = 32
export const PSD_OFFSET = 2048
export const PSD_COUNT = 32

/** Power State Descriptor (32 bytes). */
export interface PowerStateDescriptor {
  /** Maximum power (centiwatts, or 0.0001 W units when mxps). */
  mp: number
  /** Byte 3: bit 0 MXPS, bit 1 NOPS. */
  flags: number
  enlat: number
  exlat: number
  rrt: number
  rrl: number
  rwt: number
  rwl: number
  idlp: number
  /** Byte 18 bits 7:6 (idle power scale), stored as the whole byte. */
  ips: number
  actp: number
  /** Byte 22: APW bits 2:0, APS bits 7:6, stored as the whole byte. */
  apwAps: number
}

export const PSD_FIELDS: readonly FieldDef<keyof PowerStateDescriptor>[] = [
  field('mp', 0, 'u16'),
  field('flags', 3, 'u8'),
  field('enlat', 4, 'u32'),
  field('exlat', 8, 'u32'),
  field('rrt', 12, 'u8'),
  field('rrl', 13, 'u8'),
  field('rwt', 14, 'u8'),
  field('rwl', 15, 'u8'),
  field('idlp', 16, 'u16'),
  field('ips', 18, 'u8'),
  field('actp', 20, 'u16'),
  field('apwAps', 22, 'u8'),
]

export interface IdentifyController {
  vid: number
  ssvid: number
  /** Serial number, ASCII, space padded (20). */
  sn: string
  /** Model number, ASCII, space padded (40). */
  mn: string
  /** Firmware revision, ASCII, space padded (8). */
  fr: string
  rab: number
  /** IEEE OUI identifier (24 bits, little-endian as stored). */
  ieee: number
  /** bit 0 multi-port, bit 1 multi-controller, bit 2 SR-IOV, bit 3 ANA reporting. */
  cmic: number
  mdts: number
  cntlid: number
  ver: number
  rtd3r: number
  rtd3e: number
  oaes: number
  ctratt: number
  rrls: number
  /** 1 I/O, 2 discovery, 3 administrative. */
  cntrltype: number
  fguid: Buffer
  crdt1: number
  crdt2: number
  crdt3: number
  nvmsr: number
  vwci: number
  mec: number
  oacs: number
  acl: number
  aerl: number
  frmw: number
  lpa: number
  elpe: number
  npss: number
  avscc: number
  apsta: number
  wctemp: number
  cctemp: number
  mtfa: number
  hmpre: number
  hmmin: number
  tnvmcap: bigint
  unvmcap: bigint
  rpmbs: number
  edstt: number
  dsto: number
  fwug: number
  kas: number
  hctma: number
  mntmt: number
  mxtmt: number
  sanicap: number
  hmminds: number
  hmmaxd: number
  nsetidmax: number
  endgidmax: number
  anatt: number
  anacap: number
  anagrpmax: number
  nanagrpid: number
  pels: number
  domainid: number
  megcap: bigint
  sqes: number
  cqes: number
  maxcmd: number
  nn: number
  oncs: number
  fuses: number
  fna: number
  vwc: number
  awun: number
  awupf: number
  /** I/O Command Set Vendor Specific Command Configuration (formerly NVSCC). */
  icsvscc: number
  nwpc: number
  acwu: number
  /** Optional Copy Formats Supported. */
  ocfs: number
  sgls: number
  mnan: number
  maxdna: bigint
  maxcna: number
  subnqn: string
  ioccsz: number
  iorcsz: number
  icdoff: number
  fcatt: number
  msdbd: number
  ofcs: number
  dctype: number
  psd: PowerStateDescriptor[]
  /** Vendor specific, bytes 3072-4095. */
  vs: Buffer
}

type ScalarKey = Exclude<keyof IdentifyController, 'psd'>

export const IDENTIFY_CONTROLLER_FIELDS: readonly FieldDef<ScalarKey>[] = [
  field('vid', 0, 'u16'),
  field('ssvid', 2, 'u16'),
  field('sn', 4, 'ascii', 20),
  field('mn', 24, 'ascii', 40),
  field('fr', 64, 'ascii', 8),
  field('rab', 72, 'u8'),
  field('ieee', 73, 'u24'),
  field('cmic', 76, 'u8'),
  field('mdts', 77, 'u8'),
  field('cntlid', 78, 'u16'),
  field('ver', 80, 'u32'),
  field('rtd3r', 84, 'u32'),
  field('rtd3e', 88, 'u32'),
  field('oaes', 92, 'u32'),
  field('ctratt', 96, 'u32'),
  field('rrls', 100, 'u16'),
  field('cntrltype', 111, 'u8'),
  field('fguid', 112, 'bytes', 16),
  field('crdt1', 128, 'u16'),
  field('crdt2', 130, 'u16'),
  field('crdt3', 132, 'u16'),
  field('nvmsr', 253, 'u8'),
  field('vwci', 254, 'u8'),
  field('mec', 255, 'u8'),
  field('oacs', 256, 'u16'),
  field('acl', 258, 'u8'),
  field('aerl', 259, 'u8'),
  field('frmw', 260, 'u8'),
  field('lpa', 261, 'u8'),
  field('elpe', 262, 'u8'),
  field('npss', 263, 'u8'),
  field('avscc', 264, 'u8'),
  field('apsta', 265, 'u8'),
  field('wctemp', 266, 'u16'),
  field('cctemp', 268, 'u16'),
  field('mtfa', 270, 'u16'),
  field('hmpre', 272, 'u32'),
  field('hmmin', 276, 'u32'),
  field('tnvmcap', 280, 'u128'),
  field('unvmcap', 296, 'u128'),
  field('rpmbs', 312, 'u32'),
  field('edstt', 316, 'u16'),
  field('dsto', 318, 'u8'),
  field('fwug', 319, 'u8'),
  field('kas', 320, 'u16'),
  field('hctma', 322, 'u16'),
  field('mntmt', 324, 'u16'),
  field('mxtmt', 326, 'u16'),
  field('sanicap', 328, 'u32'),
  field('hmminds', 332, 'u32'),
  field('hmmaxd', 336, 'u16'),
  field('nsetidmax', 338, 'u16'),
  field('endgidmax', 340, 'u16'),
  field('anatt', 342, 'u8'),
  field('anacap', 343, 'u8'),
  field('anagrpmax', 344, 'u32'),
  field('nanagrpid', 348, 'u32'),
  field('pels', 352, 'u32'),
  field('domainid', 356, 'u16'),
  field('megcap', 368, 'u128'),
  field('sqes', 512, 'u8'),
  field('cqes', 513, 'u8'),
  field('maxcmd', 514, 'u16'),
  field('nn', 516, 'u32'),
  field('oncs', 520, 'u16'),
  field('fuses', 522, 'u16'),
  field('fna', 524, 'u8'),
  field('vwc', 525, 'u8'),
  field('awun', 526, 'u16'),
  field('awupf', 528, 'u16'),
  field('icsvscc', 530, 'u8'),
  field('nwpc', 531, 'u8'),
  field('acwu', 532, 'u16'),
  field('ocfs', 534, 'u16'),
  field('sgls', 536, 'u32'),
  field('mnan', 540, 'u32'),
  field('maxdna', 544, 'u128'),
  field('maxcna', 560, 'u32'),
  field('subnqn', 768, 'nqn', 256),
  field('ioccsz', 1792, 'u32'),
  field('iorcsz', 1796, 'u32'),
  field('icdoff', 1800, 'u16'),
  field('fcatt', 1802, 'u8'),
  field('msdbd', 1803, 'u8'),
  field('ofcs', 1804, 'u16'),
  field('dctype', 1806, 'u8'),
  field('vs', 3072, 'bytes', 1024),
]

/** CMIC bits. */
export const CMIC_MULTI_PORT = 0x01
export const CMIC_MULTI_CTRL = 0x02
export const CMIC_SRIOV = 0x04
export const CMIC_ANA = 0x08
/** CNTRLTYPE values. */
export const ControllerType = { IO: 1, DISCOVERY: 2, ADMIN: 3 } as const
/** OAES bits (also AEC bits, Set Features 0Bh). */
export const OAES_NS_ATTR = 1 << 8
export const OAES_FW_ACTIVATION = 1 << 9
export const OAES_ANA_CHANGE = 1 << 11
export const OAES_DISC_CHANGE = 1 << 31
/** CTRATT bits. */
export const CTRATT_HOST_ID_128 = 1 << 0
export const CTRATT_TBKAS = 1 << 6
export const CTRATT_ELBAS = 1 << 15
/** LPA bits. */
export const LPA_SMART_PER_NS = 0x01
export const LPA_CMD_EFFECTS = 0x02
export const LPA_EXTENDED = 0x04
/** ANACAP bits. */
export const ANACAP_OPTIMIZED = 0x01
export const ANACAP_NON_OPTIMIZED = 0x02
export const ANACAP_INACCESSIBLE = 0x04
export const ANACAP_PERSISTENT_LOSS = 0x08
export const ANACAP_CHANGE = 0x10
export const ANACAP_GRPID_STATIC = 0x40
export const ANACAP_GRPID_NONZERO = 0x80
/** ONCS bits. */
export const ONCS_COMPARE = 1 << 0
export const ONCS_WRITE_UNCORRECTABLE = 1 << 1
export const ONCS_DSM = 1 << 2
export const ONCS_WRITE_ZEROES = 1 << 3
export const ONCS_SAVE_SELECT = 1 << 4
export const ONCS_RESERVATIONS = 1 << 5
export const ONCS_TIMESTAMP = 1 << 6
export const ONCS_VERIFY = 1 << 7
/** SGLS bits. */
export const SGLS_SUPPORTED_BYTE_ALIGNED = 0x1
export const SGLS_SUPPORTED_DWORD_ALIGNED = 0x2
export const SGLS_KEYED = 1 << 2
export const SGLS_BIT_BUCKET = 1 << 16
export const SGLS_OFFSET = 1 << 20
export const SGLS_TRANSPORT_DATA_BLOCK = 1 << 21

/** A PSD with every field zero. */
export function emptyPowerState(): PowerStateDescriptor {
  return { mp: 0, flags: 0, enlat: 0, exlat: 0, rrt: 0, rrl: 0, rwt: 0, rwl: 0, idlp: 0, ips: 0, actp: 0, apwAps: 0 }
}

/**
 * Encode Identify Controller data. Fields left out are zero; `psd` may hold fewer than 32 entries
 * (the rest are zero).
 */
export function encodeIdentifyController(c: Partial<IdentifyController>): Buffer {
  const buf = Buffer.alloc(IDENTIFY_DATA_SIZE)
  encodeFields(buf, 0, IDENTIFY_CONTROLLER_FIELDS, c as Record<string, unknown>)
  const psd = c.psd ?? []
  if (psd.length > PSD_COUNT) throw new InvalidArgumentError('psd', `must hold at most ${PSD_COUNT} descriptors`)
  psd.forEach((p, i) => encodeFields(buf, PSD_OFFSET + i * POWER_STATE_DESCRIPTOR_SIZE, PSD_FIELDS, p as unknown as Record<string, unknown>, `psd[${i}].`))
  return buf
}

/** Decode 4096 bytes of Identify Controller data (DecodeError if shorter). `fguid`/`vs` are copies. */
export function decodeIdentifyController(buf: Uint8Array): IdentifyController {
  need(buf, 0, IDENTIFY_DATA_SIZE, 'identify controller')
  const b = asBuffer(buf)
  const out = decodeFields(b, 0, IDENTIFY_CONTROLLER_FIELDS) as Omit<IdentifyController, 'psd'>
  const psd: PowerStateDescriptor[] = []
  for (let i = 0; i < PSD_COUNT; i++) psd.push(decodeFields(b, PSD_OFFSET + i * POWER_STATE_DESCRIPTOR_SIZE, PSD_FIELDS) as unknown as PowerStateDescriptor)
  return { ...out, psd }
}
