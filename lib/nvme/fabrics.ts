/**
 * Fabrics commands (opc 0x7F): Connect (SQE fields, 1024-byte data, response DW0), Property Get/Set,
 * Disconnect, Authentication Send/Receive framing and the property map; the CAP/CC/CSTS/VS bit helpers
 * are lib/nvme/registers.ts (re-exported here).
 * Wire reference sections 3.1-3.4; NVMe Base 2.0 section 6 and 3.1.4 (controller properties).
 */
import { InvalidArgumentError } from '../errors.js'
import { asBuffer, checkU64, checkUint, need, readNulString, writeAscii, writeBytes, U8, U16, U32 } from './codec.js'
import { FABRICS_OPCODE, FabricsType } from './opcodes.js'
import { makeSqe, sqeFctype, type Sqe } from './sqe.js'
import { sglInCapsule, sglTransportDataBlock, type SglDescriptor } from './sgl.js'

export * from './registers.js'

// ---------------------------------------------------------------------------------------------
// Connect

export const CONNECT_DATA_SIZE = 1024
/** Connect data offsets. */
export const CONNECT_DATA_HOSTID = 0
export const CONNECT_DATA_CNTLID = 16
export const CONNECT_DATA_SUBNQN = 256
export const CONNECT_DATA_HOSTNQN = 512
export const CONNECT_NQN_FIELD_SIZE = 256
/** Connect SQE offsets (from the SQE start). */
export const CONNECT_SQE_RECFMT = 40
export const CONNECT_SQE_QID = 42
export const CONNECT_SQE_SQSIZE = 44
export const CONNECT_SQE_CATTR = 46
export const CONNECT_SQE_KATO = 48

/** CNTLID requesting the dynamic controller model (admin Connect). */
export const CONNECT_DYNAMIC_CNTLID = 0xffff
/** CATTR bit 2: disable SQ flow control (SQHD then 0xFFFF). */
export const CONNECT_CATTR_DISABLE_SQFLOW = 0x04
/** Invalid Parameters response DW0 IATTR bit 0: IPO is an offset into the Connect data (else into the SQE). */
export const CONNECT_IATTR_DATA = 0x01
/** Connect response DW0 AUTHREQ bits (bits 31:16 as a whole; bit 17 ATR, bit 18 ASCR). */
export const CONNECT_AUTHREQ_ATR = 1 << 17
export const CONNECT_AUTHREQ_ASCR = 1 << 18

export interface ConnectFields {
  cid: number
  /** Record format; must be 0 (else SCT1 SC 0x80 Incompatible Format). */
  recfmt: number
  /** 0 = admin queue. */
  qid: number
  /** 0's based submission queue size; 0 is invalid. */
  sqsize: number
  cattr: number
  /** Keep-alive timeout in milliseconds (admin Connect only). */
  kato: number
  sgl: SglDescriptor
}

/** The Connect SQE: FLAGS 0x40, FCTYPE 1, SGL1 in-capsule Data Block/Offset of 1024 bytes unless `sgl` is given. */
export function makeConnectSqe(f: Partial<ConnectFields> & { cid: number; qid: number; sqsize: number }): Sqe {
  const recfmt = checkUint(f.recfmt ?? 0, U16, 'recfmt')
  checkUint(f.qid, U16, 'qid')
  checkUint(f.sqsize, U16, 'sqsize')
  const cattr = checkUint(f.cattr ?? 0, U8, 'cattr')
  return makeSqe({
    opc: FABRICS_OPCODE,
    cid: f.cid,
    nsid: FabricsType.CONNECT,
    sgl: f.sgl ?? sglInCapsule(CONNECT_DATA_SIZE),
    cdw10: (recfmt | (f.qid << 16)) >>> 0,
    cdw11: f.sqsize | (cattr << 16),
    cdw12: checkUint(f.kato ?? 0, U32, 'kato'),
  })
}

/** Connect fields from a decoded SQE (no validation of values; the target checks them). */
export function connectFields(sqe: Sqe): ConnectFields {
  return {
    cid: sqe.cid,
    recfmt: sqe.cdw10 & 0xffff,
    qid: sqe.cdw10 >>> 16,
    sqsize: sqe.cdw11 & 0xffff,
    cattr: (sqe.cdw11 >>> 16) & 0xff,
    kato: sqe.cdw12 >>> 0,
    sgl: sqe.sgl,
  }
}

export interface ConnectData {
  /** Host identifier, 16 raw bytes (UUID in textual byte order). */
  hostid: Buffer
  /** 0xFFFF for the admin Connect (dynamic model); the admin CNTLID on I/O Connects. */
  cntlid: number
  subnqn: string
  hostnqn: string
}

/** Encode the 1024-byte Connect data. NQNs must fit in 255 bytes plus the NUL. */
export function encodeConnectData(d: ConnectData): Buffer {
  const buf = Buffer.alloc(CONNECT_DATA_SIZE)
  writeBytes(buf, CONNECT_DATA_HOSTID, 16, d.hostid, 'hostid')
  buf.writeUInt16LE(checkUint(d.cntlid, U16, 'cntlid'), CONNECT_DATA_CNTLID)
  writeAscii(buf, CONNECT_DATA_SUBNQN, CONNECT_NQN_FIELD_SIZE, d.subnqn, 'subnqn', { nulTerminated: true })
  writeAscii(buf, CONNECT_DATA_HOSTNQN, CONNECT_NQN_FIELD_SIZE, d.hostnqn, 'hostnqn', { nulTerminated: true })
  return buf
}

/**
 * Decode the Connect data. NQN fields are read up to the first NUL; a field without one is cut at
 * 256 bytes (the Linux target forces the last byte to NUL). `hostid` is a copy.
 */
export function decodeConnectData(buf: Uint8Array): ConnectData {
  need(buf, 0, CONNECT_DATA_SIZE, 'connect data')
  const b = asBuffer(buf)
  return {
    hostid: Buffer.from(b.subarray(CONNECT_DATA_HOSTID, CONNECT_DATA_HOSTID + 16)),
    cntlid: b.readUInt16LE(CONNECT_DATA_CNTLID),
    subnqn: readNulString(b, CONNECT_DATA_SUBNQN, CONNECT_NQN_FIELD_SIZE),
    hostnqn: readNulString(b, CONNECT_DATA_HOSTNQN, CONNECT_NQN_FIELD_SIZE),
  }
}

export interface ConnectResponse {
  cntlid: number
  /** AUTHREQ bits 31:16 of DW0 as a 16-bit value (bit 1 ATR, bit 2 ASCR). */
  authreq: number
}
/** DW0 of a successful Connect completion. */
export function makeConnectResponseDw0(r: { cntlid: number; authreq?: number }): number {
  return (checkUint(r.cntlid, U16, 'cntlid') | (checkUint(r.authreq ?? 0, U16, 'authreq') << 16)) >>> 0
}
export function parseConnectResponseDw0(dw0: number): ConnectResponse {
  return { cntlid: dw0 & 0xffff, authreq: (dw0 >>> 16) & 0xffff }
}

export interface ConnectInvalidParam {
  /** Byte offset of the invalid parameter (in the SQE, or in the data when `iattr` bit 0 is set). */
  ipo: number
  iattr: number
}
/** DW0 for SCT1 SC 0x82 Connect Invalid Parameters: IPO bits 15:0, IATTR bits 23:16. */
export function makeConnectInvalidParamDw0(p: { ipo: number; iattr?: number; inData?: boolean }): number {
  const iattr = p.iattr ?? (p.inData === true ? CONNECT_IATTR_DATA : 0)
  return (checkUint(p.ipo, U16, 'ipo') | (checkUint(iattr, U8, 'iattr') << 16)) >>> 0
}
export function parseConnectInvalidParamDw0(dw0: number): ConnectInvalidParam {
  return { ipo: dw0 & 0xffff, iattr: (dw0 >>> 16) & 0xff }
}

// ---------------------------------------------------------------------------------------------
// Property Get / Set

/** Controller property offsets (PCIe register offsets; wire reference 3.3). */
export const Property = {
  CAP: 0x00,
  VS: 0x08,
  INTMS: 0x0c,
  INTMC: 0x10,
  CC: 0x14,
  CSTS: 0x1c,
  NSSR: 0x20,
  AQA: 0x24,
  ASQ: 0x28,
  ACQ: 0x30,
  CRTO: 0x68,
} as const

/** NSSR value that triggers an NVM subsystem reset ("NVMe"). */
export const NSSR_RESET_VALUE = 0x4e564d65

/** Property size in bytes of the known properties (ASQ/ACQ and CAP are 8 bytes). */
export function propertySize(ofst: number): 4 | 8 | undefined {
  switch (ofst) {
    case Property.CAP:
    case Property.ASQ:
    case Property.ACQ:
      return 8
    case Property.VS:
    case Property.INTMS:
    case Property.INTMC:
    case Property.CC:
    case Property.CSTS:
    case Property.NSSR:
    case Property.AQA:
    case Property.CRTO:
      return 4
    default:
      return undefined
  }
}

/** ATTRIB bits 2:0: 0 = 4-byte property, 1 = 8-byte property. */
export const PROPERTY_ATTRIB_SIZE_8 = 1

export interface PropertyGetFields {
  cid: number
  size: 4 | 8
  ofst: number
}
export interface PropertySetFields extends PropertyGetFields {
  value: bigint
}

export function makePropertyGetSqe(f: PropertyGetFields): Sqe {
  return makeSqe({
    opc: FABRICS_OPCODE,
    cid: f.cid,
    nsid: FabricsType.PROPERTY_GET,
    cdw10: propertyAttrib(f.size),
    cdw11: checkUint(f.ofst, U32, 'ofst'),
  })
}

export function makePropertySetSqe(f: PropertySetFields): Sqe {
  checkU64(f.value, 'value')
  if (f.size === 4 && f.value > 0xffffffffn) throw new InvalidArgumentError('value', 'must fit in 32 bits for a 4-byte property')
  return makeSqe({
    opc: FABRICS_OPCODE,
    cid: f.cid,
    nsid: FabricsType.PROPERTY_SET,
    cdw10: propertyAttrib(f.size),
    cdw11: checkUint(f.ofst, U32, 'ofst'),
    cdw12: Number(f.value & 0xffffffffn),
    cdw13: Number(f.value >> 32n),
  })
}

function propertyAttrib(size: number): number {
  if (size === 4) return 0
  if (size === 8) return PROPERTY_ATTRIB_SIZE_8
  throw new InvalidArgumentError('size', 'must be 4 or 8')
}

/** Property Get fields of a decoded SQE; `attrib` holds the raw ATTRIB bits 2:0 (values >1 are reserved). */
export function propertyGetFields(sqe: Sqe): PropertyGetFields & { attrib: number } {
  const attrib = sqe.cdw10 & 0x7
  return { cid: sqe.cid, attrib, size: attrib === PROPERTY_ATTRIB_SIZE_8 ? 8 : 4, ofst: sqe.cdw11 >>> 0 }
}
/** Property Set fields of a decoded SQE; a 4-byte set uses only bytes 48-51 of VALUE. */
export function propertySetFields(sqe: Sqe): PropertySetFields & { attrib: number } {
  const g = propertyGetFields(sqe)
  const low = BigInt(sqe.cdw12 >>> 0)
  const value = g.size === 8 ? low | (BigInt(sqe.cdw13 >>> 0) << 32n) : low
  return { ...g, value }
}

// ---------------------------------------------------------------------------------------------
// Disconnect (FCTYPE 0x08, I/O queues only) and Authentication Send / Receive

export function makeDisconnectSqe(f: { cid: number; recfmt?: number }): Sqe {
  return makeSqe({ opc: FABRICS_OPCODE, cid: f.cid, nsid: FabricsType.DISCONNECT, cdw10: checkUint(f.recfmt ?? 0, U16, 'recfmt') })
}
export function disconnectFields(sqe: Sqe): { cid: number; recfmt: number } {
  return { cid: sqe.cid, recfmt: sqe.cdw10 & 0xffff }
}

/** Security protocol for NVMe in-band authentication (DH-HMAC-CHAP). */
export const AUTH_SECP_NVME = 0xe9

export interface AuthFields {
  cid: number
  /** Security protocol (byte 43). */
  secp: number
  /** SP specific 0 / 1 (bytes 41 / 42). */
  spsp0: number
  spsp1: number
  /** Transfer length (Send) or allocation length (Receive), bytes 44-47. */
  length: number
  sgl: SglDescriptor
}

/**
 * Authentication Send (host→controller, data in-capsule by default) or Receive (controller→host by
 * C2HData) SQE; wire reference 3.4.
 */
export function makeAuthSqe(kind: 'send' | 'receive', f: Partial<AuthFields> & { cid: number; length: number }): Sqe {
  const secp = checkUint(f.secp ?? AUTH_SECP_NVME, U8, 'secp')
  const spsp0 = checkUint(f.spsp0 ?? 0, U8, 'spsp0')
  const spsp1 = checkUint(f.spsp1 ?? 0, U8, 'spsp1')
  const length = checkUint(f.length, U32, 'length')
  return makeSqe({
    opc: FABRICS_OPCODE,
    cid: f.cid,
    nsid: kind === 'send' ? FabricsType.AUTH_SEND : FabricsType.AUTH_RECEIVE,
    sgl: f.sgl ?? (kind === 'send' ? sglInCapsule(length) : sglTransportDataBlock(length)),
    cdw10: ((spsp0 << 8) | (spsp1 << 16) | (secp << 24)) >>> 0,
    cdw11: length,
  })
}
export function authFields(sqe: Sqe): AuthFields {
  return {
    cid: sqe.cid,
    spsp0: (sqe.cdw10 >>> 8) & 0xff,
    spsp1: (sqe.cdw10 >>> 16) & 0xff,
    secp: (sqe.cdw10 >>> 24) & 0xff,
    length: sqe.cdw11 >>> 0,
    sgl: sqe.sgl,
  }
}

/** True when `sqe` is a Fabrics command of type `fctype`. */
export function isFabricsCommand(sqe: Sqe, fctype?: number): boolean {
  return sqe.opc === FABRICS_OPCODE && (fctype === undefined || sqeFctype(sqe) === fctype)
}
