/**
 * The controller registers a fabrics host reads and writes with Property Get/Set: CAP, VS, CC and
 * CSTS, decoded to named fields and encoded back (NVMe Base 2.0 section 3.1.4; wire reference
 * section 3.2). lib/nvme/fabrics.ts holds the property map (offsets, sizes) and re-exports this module.
 */
import { checkUint, U8, U16 } from './codec.js'

export interface Cap {
  /** Maximum queue entries supported, 0's based. */
  mqes: number
  cqr: boolean
  ams: number
  /** Ready timeout in 500 ms units. */
  to: number
  dstrd: number
  nssrs: boolean
  /** Command sets supported, 8 bits (bit 0 NVM, bit 6 one or more I/O command sets, bit 7 admin only). */
  css: number
  bps: boolean
  cps: number
  mpsmin: number
  mpsmax: number
  pmrs: boolean
  cmbs: boolean
  nsss: boolean
  crwms: boolean
  crims: boolean
}

export const CAP_CSS_NVM = 0x01
export const CAP_CSS_IOCS = 0x40
export const CAP_CSS_ADMIN_ONLY = 0x80

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n
const bits = (v: bigint, lo: number, width: number): number => Number((v >> BigInt(lo)) & ((1n << BigInt(width)) - 1n))

export function decodeCap(v: bigint): Cap {
  return {
    mqes: bits(v, 0, 16),
    cqr: bit(v, 16),
    ams: bits(v, 17, 2),
    to: bits(v, 24, 8),
    dstrd: bits(v, 32, 4),
    nssrs: bit(v, 36),
    css: bits(v, 37, 8),
    bps: bit(v, 45),
    cps: bits(v, 46, 2),
    mpsmin: bits(v, 48, 4),
    mpsmax: bits(v, 52, 4),
    pmrs: bit(v, 56),
    cmbs: bit(v, 57),
    nsss: bit(v, 58),
    crwms: bit(v, 59),
    crims: bit(v, 60),
  }
}

export function encodeCap(c: Partial<Cap> & { mqes: number; to: number }): bigint {
  const f = (val: number, lo: number, width: number, name: string): bigint => BigInt(checkUint(val, 2 ** width - 1, name)) << BigInt(lo)
  const b = (val: boolean | undefined, n: number): bigint => (val === true ? 1n << BigInt(n) : 0n)
  return (
    f(c.mqes, 0, 16, 'mqes') |
    b(c.cqr, 16) |
    f(c.ams ?? 0, 17, 2, 'ams') |
    f(c.to, 24, 8, 'to') |
    f(c.dstrd ?? 0, 32, 4, 'dstrd') |
    b(c.nssrs, 36) |
    f(c.css ?? CAP_CSS_NVM, 37, 8, 'css') |
    b(c.bps, 45) |
    f(c.cps ?? 0, 46, 2, 'cps') |
    f(c.mpsmin ?? 0, 48, 4, 'mpsmin') |
    f(c.mpsmax ?? 0, 52, 4, 'mpsmax') |
    b(c.pmrs, 56) |
    b(c.cmbs, 57) |
    b(c.nsss, 58) |
    b(c.crwms, 59) |
    b(c.crims, 60)
  )
}

export interface Version {
  mjr: number
  mnr: number
  ter: number
}
/** VS / Identify VER encoding: MJR 31:16, MNR 15:8, TER 7:0. */
export function makeVersion(mjr: number, mnr: number, ter = 0): number {
  return ((checkUint(mjr, U16, 'mjr') << 16) | (checkUint(mnr, U8, 'mnr') << 8) | checkUint(ter, U8, 'ter')) >>> 0
}
export function parseVersion(vs: number): Version {
  return { mjr: vs >>> 16, mnr: (vs >>> 8) & 0xff, ter: vs & 0xff }
}
export const NVME_VS_1_3 = 0x00010300
export const NVME_VS_1_4 = 0x00010400
export const NVME_VS_2_0 = 0x00020000

export interface Cc {
  en: boolean
  /** Bits 6:4: 0 NVM, 6 all supported I/O command sets, 7 admin only. */
  css: number
  mps: number
  ams: number
  /** Bits 15:14: 0 none, 1 normal, 2 abrupt. */
  shn: number
  iosqes: number
  iocqes: number
  crime: boolean
}
export const CC_CSS_NVM = 0
export const CC_CSS_ALL = 6
export const CC_CSS_ADMIN_ONLY = 7
export const CC_SHN_NONE = 0
export const CC_SHN_NORMAL = 1
export const CC_SHN_ABRUPT = 2

export function decodeCc(v: number): Cc {
  return {
    en: (v & 1) === 1,
    css: (v >>> 4) & 0x7,
    mps: (v >>> 7) & 0xf,
    ams: (v >>> 11) & 0x7,
    shn: (v >>> 14) & 0x3,
    iosqes: (v >>> 16) & 0xf,
    iocqes: (v >>> 20) & 0xf,
    crime: ((v >>> 24) & 1) === 1,
  }
}
export function encodeCc(c: Partial<Cc>): number {
  return (
    ((c.en === true ? 1 : 0) |
      (checkUint(c.css ?? 0, 7, 'css') << 4) |
      (checkUint(c.mps ?? 0, 15, 'mps') << 7) |
      (checkUint(c.ams ?? 0, 7, 'ams') << 11) |
      (checkUint(c.shn ?? 0, 3, 'shn') << 14) |
      (checkUint(c.iosqes ?? 0, 15, 'iosqes') << 16) |
      (checkUint(c.iocqes ?? 0, 15, 'iocqes') << 20) |
      ((c.crime === true ? 1 : 0) << 24)) >>>
    0
  )
}

export interface Csts {
  rdy: boolean
  cfs: boolean
  /** Bits 3:2: 0 normal, 1 shutdown processing, 2 shutdown complete. */
  shst: number
  nssro: boolean
  pp: boolean
}
export const CSTS_SHST_NORMAL = 0
export const CSTS_SHST_OCCURRING = 1
export const CSTS_SHST_COMPLETE = 2

export function decodeCsts(v: number): Csts {
  return { rdy: (v & 1) === 1, cfs: ((v >>> 1) & 1) === 1, shst: (v >>> 2) & 0x3, nssro: ((v >>> 4) & 1) === 1, pp: ((v >>> 5) & 1) === 1 }
}
export function encodeCsts(c: Partial<Csts>): number {
  return (
    (c.rdy === true ? 1 : 0) |
    ((c.cfs === true ? 1 : 0) << 1) |
    (checkUint(c.shst ?? 0, 3, 'shst') << 2) |
    ((c.nssro === true ? 1 : 0) << 4) |
    ((c.pp === true ? 1 : 0) << 5)
  )
}
