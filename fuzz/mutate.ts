/**
 * Structure-aware mutations of NVMe/TCP PDUs (wire reference 1): each takes one valid encoded PDU
 * and changes one thing the receiver must check: a header field, a length (PLEN, HLEN, PDO, DATAL),
 * the type, a digest, or the command/completion fields inside. Splitting a byte stream at odd
 * boundaries and mutating recorded sessions are here too. Everything draws from an injected
 * {@link Random}, so a case replays from its seed.
 */
import type { Random } from '../lib/clock.js'
import { PduFlags } from '../lib/pdu/common.js'

/** The input classes the fuzzer reports on. */
export const FUZZ_CLASSES = ['field', 'length', 'type', 'digest', 'command', 'split', 'session'] as const
export type FuzzClass = (typeof FUZZ_CLASSES)[number]

/** Values that sit on the edges of fields (0, 1, all ones, sign bits, powers of two). */
const EDGE32 = [0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff]

export function pick<T>(r: Random, xs: readonly T[]): T {
  return xs[r.int(xs.length)] as T
}

/** A 32-bit value biased toward edges. */
export function edgeValue(r: Random): number {
  return r.int(3) === 0 ? r.int(0x100000000) >>> 0 : pick(r, EDGE32)
}

/** One header byte (0..HLEN-1) set to another value; `minOff` keeps the common header's type intact. */
export function mutateField(r: Random, pdu: Buffer, minOff = 1): Buffer {
  const b = Buffer.from(pdu)
  const hlen = Math.max(minOff + 1, Math.min(b[2] ?? 8, b.length))
  const off = minOff + r.int(hlen - minOff)
  b[off] = r.int(3) === 0 ? (b[off]! ^ (1 << r.int(8))) : r.int(256)
  return b
}

/** A wrong PLEN, HLEN, PDO or DATAL (DATAL at byte 16 for the data PDUs), or a truncated PDU. */
export function mutateLength(r: Random, pdu: Buffer): Buffer {
  let b = Buffer.from(pdu)
  switch (r.int(5)) {
    case 0:
      b.writeUInt32LE(edgeValue(r) >>> 0, 4) // PLEN
      break
    case 1:
      b[2] = r.int(256) // HLEN
      break
    case 2:
      b[3] = r.int(256) // PDO
      break
    case 3:
      if (b.length >= 20) b.writeUInt32LE(edgeValue(r) >>> 0, 16) // DATAL (H2C/C2H data)
      else b.writeUInt32LE(b.length + 1 + r.int(64), 4)
      break
    default:
      // Cut the PDU short, or pad it, keeping PLEN: the stream loses sync.
      b = r.int(2) === 0 ? b.subarray(0, 1 + r.int(Math.max(1, b.length - 1))) : Buffer.concat([b, Buffer.alloc(1 + r.int(64), r.int(256))])
  }
  return b
}

/** Another PDU type: a valid one in the wrong direction or place, or an undefined one. */
export function mutateType(r: Random, pdu: Buffer): Buffer {
  const b = Buffer.from(pdu)
  b[0] = r.int(2) === 0 ? r.int(10) : r.int(256)
  if (r.int(2) === 0) b[1] = r.int(256) // flags with it
  return b
}

/** A bad header or data digest (the PDU must carry them), or the digest flags flipped. */
export function mutateDigest(r: Random, pdu: Buffer): Buffer {
  const b = Buffer.from(pdu)
  const flags = b[1] ?? 0
  const hlen = b[2] ?? 0
  const choice = r.int(3)
  if (choice === 0 && (flags & PduFlags.HDGSTF) !== 0 && b.length >= hlen + 4) {
    b[hlen + r.int(4)]! ^= 1 << r.int(8)
  } else if (choice === 1 && (flags & PduFlags.DDGSTF) !== 0 && b.length >= 4) {
    b[b.length - 1 - r.int(4)]! ^= 1 << r.int(8)
  } else {
    b[1] = flags ^ (r.int(2) === 0 ? PduFlags.HDGSTF : PduFlags.DDGSTF)
  }
  return b
}

/**
 * Command-level mutation of a CapsuleCmd (SQE at byte 8) or CapsuleResp (CQE at byte 8): framing
 * stays valid, one or more of the 64-byte SQE / 16-byte CQE dwords gets an edge or random value.
 */
export function mutateCommand(r: Random, pdu: Buffer, entrySize: 64 | 16): Buffer {
  const b = Buffer.from(pdu)
  if (b.length < 8 + entrySize) return mutateField(r, b)
  const n = 1 + r.int(3)
  for (let i = 0; i < n; i++) {
    const dw = r.int(entrySize / 4)
    // In an SQE keep the CID (dword 0 bits 31:16) half the time so the answer can be matched.
    if (entrySize === 64 && dw === 0 && r.int(2) === 0) b[8] = r.int(256)
    else b.writeUInt32LE(edgeValue(r) >>> 0, 8 + dw * 4)
  }
  return b
}

/** Cut a byte stream into chunks at random places (single bytes, mid-header, mid-digest...). */
export function splitAtRandom(r: Random, bytes: Buffer, maxChunks = 8): Buffer[] {
  if (bytes.length <= 1) return [bytes]
  const cuts = new Set<number>()
  const n = 1 + r.int(maxChunks)
  for (let i = 0; i < n; i++) cuts.add(1 + r.int(bytes.length - 1))
  const at = [...cuts].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const c of at) {
    out.push(bytes.subarray(prev, c))
    prev = c
  }
  out.push(bytes.subarray(prev))
  return out
}

/** Mutation of a recorded byte stream (no structure assumed): flips, overwrites, cuts, repeats. */
export function mutateStream(r: Random, stream: Buffer): Buffer {
  let b = Buffer.from(stream)
  if (b.length === 0) return b
  const n = 1 + r.int(4)
  for (let i = 0; i < n; i++) {
    const off = r.int(b.length)
    switch (r.int(5)) {
      case 0:
        b[off]! ^= 1 << r.int(8)
        break
      case 1:
        b[off] = r.int(256)
        break
      case 2:
        if (off + 4 <= b.length) b.writeUInt32LE(edgeValue(r) >>> 0, off)
        break
      case 3:
        b = b.subarray(0, Math.max(1, off))
        break
      default: {
        const len = 1 + r.int(Math.min(256, b.length - off))
        b = Buffer.concat([b.subarray(0, off + len), b.subarray(off, off + len), b.subarray(off + len)])
      }
    }
    if (b.length === 0) break
  }
  return b
}
