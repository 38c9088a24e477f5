/**
 * Hand-built SQE/CQE bytes and sample PDU sets shared by the PDU, framer, pcap and bench code.
 * (Not a test file: tap reports it as "no tests found" and skips it.) The SQE/CQE layouts are
 * written out by hand (wire spec 2.1, 2.2, 3.2, 11) because lib/nvme is another module.
 */
import { PduType, type Pdu } from '../../../lib/pdu/index.js'

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[^0-9a-fA-F]/g, ''), 'hex')
}

/** Admin Connect SQE exactly as in spec section 11 (cid 0, qid 0, sqsize 31, kato 5000). */
export function connectSqe(cid = 0, qid = 0, sqsize = 31, kato = 5000): Buffer {
  const sqe = Buffer.alloc(64)
  sqe[0] = 0x7f // fabrics
  sqe[1] = 0x40 // PSDT 01b: SGL
  sqe.writeUInt16LE(cid, 2)
  sqe[4] = 0x01 // FCTYPE Connect
  sqe.writeUInt32LE(1024, 32) // SGL1 length
  sqe[39] = 0x01 // Data Block, Offset subtype (in-capsule)
  sqe.writeUInt16LE(0, 40) // RECFMT
  sqe.writeUInt16LE(qid, 42)
  sqe.writeUInt16LE(sqsize, 44)
  sqe.writeUInt32LE(kato, 48)
  return sqe
}

/** 1024-byte Connect data: HOSTID, CNTLID 0xFFFF, SUBNQN at 256, HOSTNQN at 512. */
export function connectData(subnqn = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001', hostnqn = 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555'): Buffer {
  const d = Buffer.alloc(1024)
  hex('11111111222233334444555555555555').copy(d, 0)
  d.writeUInt16LE(0xffff, 16)
  d.write(subnqn, 256, 'latin1')
  d.write(hostnqn, 512, 'latin1')
  return d
}

/** An SQE whose data moves by transport SGL (0x5A): Identify, Read, Write... */
function sglSqe(opc: number, cid: number, nsid: number, length: number): Buffer {
  const sqe = Buffer.alloc(64)
  sqe[0] = opc
  sqe[1] = 0x40
  sqe.writeUInt16LE(cid, 2)
  sqe.writeUInt32LE(nsid, 4)
  sqe.writeUInt32LE(length, 32)
  sqe[39] = 0x5a // Transport SGL Data Block
  return sqe
}

/** Identify Controller (opc 0x06, CNS 1), 4096 bytes controller-to-host. */
export function identifySqe(cid: number): Buffer {
  const sqe = sglSqe(0x06, cid, 0, 4096)
  sqe.writeUInt32LE(0x01, 40) // CNS 1
  return sqe
}

/** NVM Read (opc 0x02) / Write (opc 0x01) of `nlb` 512-byte blocks at `slba` on nsid 1. */
export function rwSqe(write: boolean, cid: number, slba: number, nlb: number): Buffer {
  const sqe = sglSqe(write ? 0x01 : 0x02, cid, 1, nlb * 512)
  sqe.writeBigUInt64LE(BigInt(slba), 40)
  sqe.writeUInt32LE(nlb - 1, 48)
  return sqe
}

/** Keep Alive (opc 0x18), no data. */
export function keepAliveSqe(cid: number): Buffer {
  const sqe = Buffer.alloc(64)
  sqe[0] = 0x18
  sqe[1] = 0x40
  sqe.writeUInt16LE(cid, 2)
  return sqe
}

/** CQE: DW0, DW1, SQHD, SQID, CID, STATUS (phase 0). */
export function cqe(f: { dw0?: number; dw1?: number; sqhd?: number; sqid?: number; cid?: number; status?: number }): Buffer {
  const c = Buffer.alloc(16)
  c.writeUInt32LE(f.dw0 ?? 0, 0)
  c.writeUInt32LE(f.dw1 ?? 0, 4)
  c.writeUInt16LE(f.sqhd ?? 0, 8)
  c.writeUInt16LE(f.sqid ?? 0, 10)
  c.writeUInt16LE(f.cid ?? 0, 12)
  c.writeUInt16LE(f.status ?? 0, 14)
  return c
}

/** Deterministic non-trivial data. */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

/** PDUs a target receives, in a plausible order (data sizes vary). */
export function targetBoundPdus(): Pdu[] {
  return [
    { type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: true, ddgst: true, maxr2t: 0 },
    { type: PduType.CAPSULE_CMD, sqe: connectSqe(), data: connectData() },
    { type: PduType.CAPSULE_CMD, sqe: identifySqe(0x1003) },
    { type: PduType.CAPSULE_CMD, sqe: rwSqe(true, 0x2005, 0, 8), data: pattern(4096, 2) },
    { type: PduType.CAPSULE_CMD, sqe: rwSqe(true, 0x2006, 8, 16) },
    { type: PduType.H2C_DATA, cccid: 0x2006, ttag: 3, datao: 0, last: false, data: pattern(4096, 3) },
    { type: PduType.H2C_DATA, cccid: 0x2006, ttag: 3, datao: 4096, last: true, data: pattern(4096, 4) },
    { type: PduType.H2C_DATA, cccid: 0x2007, ttag: 4, datao: 0, last: true, data: pattern(13, 5) },
    { type: PduType.CAPSULE_CMD, sqe: keepAliveSqe(0x18) },
    { type: PduType.H2C_DATA, cccid: 0x2008, ttag: 5, datao: 0, last: true, data: pattern(65536, 6) },
    { type: PduType.H2C_TERM_REQ, fes: 0x01, fei: 2, data: hex('07 00 19 00 18 00 00 00') },
  ]
}

/** PDUs a host receives, in a plausible order. */
export function hostBoundPdus(): Pdu[] {
  return [
    { type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: true, ddgst: true, maxh2cdata: 0x400000 },
    { type: PduType.CAPSULE_RESP, cqe: cqe({ dw0: 1, sqhd: 1 }) },
    { type: PduType.C2H_DATA, cccid: 0x1003, datao: 0, last: true, success: false, data: pattern(4096, 7) },
    { type: PduType.CAPSULE_RESP, cqe: cqe({ sqhd: 2, cid: 0x1003 }) },
    { type: PduType.R2T, cccid: 0x2006, ttag: 3, r2to: 0, r2tl: 8192 },
    { type: PduType.C2H_DATA, cccid: 0x3001, datao: 0, last: false, success: false, data: pattern(1000, 8) },
    { type: PduType.C2H_DATA, cccid: 0x3001, datao: 1000, last: true, success: true, data: pattern(24, 9) },
    { type: PduType.C2H_DATA, cccid: 0x3002, datao: 0, last: true, success: false, data: pattern(131072, 10) },
    { type: PduType.CAPSULE_RESP, cqe: cqe({ sqhd: 3, cid: 0x3002, status: 0x0302 << 1 }) },
    { type: PduType.C2H_TERM_REQ, fes: 0x03, fei: 0, data: pattern(28, 11) },
  ]
}
