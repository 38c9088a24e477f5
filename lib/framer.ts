/**
 * Streaming NVMe/TCP PDU framer: turns socket chunks, split or coalesced anywhere, into whole PDUs
 * (wire spec 1.1: read the 8-byte CH, then PLEN - 8 more bytes).
 *
 * - A PDU that lies inside one chunk is delivered as a zero-copy view of that chunk. A PDU split
 *   across chunks is assembled once: slices are collected until PLEN bytes are in, then one
 *   `Buffer.concat` (O(n), never re-concatenating on every chunk).
 * - The common header is validated as soon as its 8 bytes are in, **before** any more of the PDU is
 *   held: the type must be one this role receives, HLEN must be the type's size, the digest flags
 *   must match what was negotiated, PDO and PLEN must be consistent and within the negotiated
 *   limits. So the framer never holds more than one maximal PDU (see {@link PduFramer.maxPduLength}).
 * - Every violation is an `NvmeTcpProtocolError` (FES 0x01, FEI = offset of the bad field:
 *   type 0, flags 1, hlen 2, pdo 3, plen 4; spec 1.5) carrying a copy of the header bytes received.
 *   After an error the framer is dead: every later `push`/`resume` rethrows the same error. It never
 *   resynchronises (there is no way to find the next header in a broken stream).
 *
 * Lifetime contract: the `raw` Buffer passed to `onPdu` is valid **only during that call**. It may
 * be a view of the caller's chunk (which the socket layer may reuse) — anything kept must be copied
 * with `Buffer.from(raw)` (or `Buffer.from(view)` of a decoded field).
 *
 * Backpressure contract: if `onPdu` returns `false`, delivery stops after that PDU; the framer keeps
 * the remaining bytes (references to the pushed chunks, not copies) and delivers nothing until
 * `resume()` is called. Chunks pushed while paused are queued, not examined; the caller is expected
 * to stop reading the socket (`socket.pause()`) while the framer is paused, since queued bytes are
 * not bounded by the PDU limits. `resume()` delivers queued PDUs synchronously (it may pause again).
 * Re-entrant `push`/`resume` from inside `onPdu` only queue; the outer delivery loop continues.
 */
// The module's Buffer, not the global: in ESM the global is a getter run on every use (hot path).
import { Buffer } from 'node:buffer'
import { FES, InvalidArgumentError, NvmeTcpProtocolError } from './errors.js'
import {
  CH_FLAGS,
  CH_HLEN,
  CH_PDO,
  CH_PLEN,
  CH_SIZE,
  CH_TYPE,
  DIGEST_SIZE,
  dataOffset,
  PDU_HLEN,
  PduFlags,
  PduType,
  pduTypeName,
  typeHasDataDigest,
  typeHasHeaderDigest,
  type DigestOptions,
  type PduTypeValue,
} from './pdu/common.js'
import { check } from './pdu/pdu-codec.js'
import { TERM_REQ_MAX_PLEN, TERM_REQ_MIN_PLEN } from './pdu/term-req.js'

export type FramerRole = 'target' | 'host'

/** Limits on received data PDUs; settable after ICReq/ICResp with {@link PduFramer.setLimits}. */
export interface FramerLimits {
  /** Max data bytes in one received H2CData (target role): the MAXH2CDATA this target advertised. */
  maxH2CData?: number
  /** Max data bytes in one received C2HData (host role): the host's max transfer size. */
  maxC2HData?: number
  /** Max in-capsule data bytes in one received CapsuleCmd (target role). */
  maxInCapsuleData?: number
  /** Alignment the peer must use for data it sends us (0's based dwords): CPDA (target) / HPDA (host). */
  pda?: number
}

export interface PduFramerOptions extends FramerLimits {
  role: FramerRole
  /** Digests in effect; both off until ICReq/ICResp (then use {@link PduFramer.setDigests}). */
  hdgst?: boolean
  ddgst?: boolean
  /**
   * Called once per whole PDU. `raw` is valid only during the call (see the lifetime contract).
   * Return `false` to pause delivery until `resume()`.
   */
  onPdu: (raw: Buffer) => boolean | void
  /**
   * Assemble PDUs split across chunks in one buffer of this framer, reused for the next one, instead
   * of a new buffer each (a new ArrayBuffer per split write capsule or H2CData, which made V8 collect
   * often). Only for a caller that keeps nothing of `raw` after `onPdu` returns (the target); the
   * host keeps read data as views of the PDU.
   */
  reuseAssembly?: boolean
}

/**
 * Defaults: 128 KiB per H2CData (SPDK's default MAXH2CDATA), 1 MiB per C2HData, 8 KiB in-capsule
 * (the Linux host sends up to 8 KiB in-capsule on the admin queue and for Connect, spec 10.1).
 */
export const DEFAULT_FRAMER_LIMITS: Readonly<Required<FramerLimits>> = Object.freeze({
  maxH2CData: 128 * 1024,
  maxC2HData: 1024 * 1024,
  maxInCapsuleData: 8192,
  pda: 0,
})

const TARGET_RECEIVES: readonly number[] = [PduType.IC_REQ, PduType.H2C_TERM_REQ, PduType.CAPSULE_CMD, PduType.H2C_DATA]
const HOST_RECEIVES: readonly number[] = [PduType.IC_RESP, PduType.C2H_TERM_REQ, PduType.CAPSULE_RESP, PduType.C2H_DATA, PduType.R2T]

export class PduFramer {
  readonly role: FramerRole
  #onPdu: (raw: Buffer) => boolean | void
  #allowed: readonly number[]
  #limits: Required<FramerLimits>
  #hdgst: boolean
  #ddgst: boolean
  /** Unconsumed bytes: references to (tails of) pushed chunks, in order. */
  #queue: Buffer[] = []
  #queued = 0
  /** PLEN of the PDU at the head of the queue once its header was validated; -1 before. */
  #pendingPlen = -1
  #paused = false
  #delivering = false
  #error: NvmeTcpProtocolError | undefined
  #headerScratch = Buffer.alloc(CH_SIZE)
  /** With `reuseAssembly`: where split PDUs are assembled (grown to the largest seen). */
  #assembly: Buffer | undefined
  readonly #reuseAssembly: boolean
  #pdusDelivered = 0

  constructor(options: PduFramerOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object')
    if (options.role !== 'target' && options.role !== 'host') throw new InvalidArgumentError('role', "must be 'target' or 'host'")
    if (typeof options.onPdu !== 'function') throw new InvalidArgumentError('onPdu', 'must be a function')
    this.role = options.role
    this.#onPdu = options.onPdu
    this.#allowed = options.role === 'target' ? TARGET_RECEIVES : HOST_RECEIVES
    this.#limits = { ...DEFAULT_FRAMER_LIMITS }
    this.setLimits(options)
    this.#hdgst = options.hdgst === true
    this.#ddgst = options.ddgst === true
    this.#reuseAssembly = options.reuseAssembly === true
  }

  /** Set the digests in effect (after ICReq/ICResp). Applies to PDUs whose header is not yet validated. */
  setDigests(opts: DigestOptions): void {
    this.#hdgst = opts.hdgst === true
    this.#ddgst = opts.ddgst === true
  }

  /** Change limits (after ICReq/ICResp). Applies to PDUs whose header is not yet validated. */
  setLimits(limits: FramerLimits): void {
    const next = { ...this.#limits }
    if (limits.maxH2CData !== undefined) next.maxH2CData = check.u32('maxH2CData', limits.maxH2CData)
    if (limits.maxC2HData !== undefined) next.maxC2HData = check.u32('maxC2HData', limits.maxC2HData)
    if (limits.maxInCapsuleData !== undefined) next.maxInCapsuleData = check.u32('maxInCapsuleData', limits.maxInCapsuleData)
    if (limits.pda !== undefined) next.pda = check.pda(limits.pda)
    this.#limits = next
  }

  get limits(): Readonly<Required<FramerLimits>> {
    return this.#limits
  }

  get digests(): DigestOptions {
    return { hdgst: this.#hdgst, ddgst: this.#ddgst }
  }

  /** Bytes held (received but not yet delivered). */
  get bufferedBytes(): number {
    return this.#queued
  }

  get paused(): boolean {
    return this.#paused
  }

  /** The error that killed this framer, if any. */
  get error(): NvmeTcpProtocolError | undefined {
    return this.#error
  }

  /** True when no partial PDU is held (a clean place for the stream to end). */
  get atPduBoundary(): boolean {
    return this.#queued === 0
  }

  get pdusDelivered(): number {
    return this.#pdusDelivered
  }

  /**
   * The largest PLEN the framer accepts for this role with the current limits and digests: it never
   * holds more than this many bytes of one PDU (when not paused).
   */
  get maxPduLength(): number {
    let max = 0
    for (const t of this.#allowed) max = Math.max(max, this.#maxPlen(t as PduTypeValue))
    return max
  }

  /** Feed one socket chunk. Throws NvmeTcpProtocolError on a bad header (and on every call after one). */
  push(chunk: Uint8Array): void {
    if (this.#error !== undefined) throw this.#error
    if (chunk.length === 0) return
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)
    this.#queue.push(buf)
    this.#queued += buf.length
    if (!this.#paused && !this.#delivering) this.#drain()
  }

  /** Resume delivery after `onPdu` returned false. */
  resume(): void {
    if (this.#error !== undefined) throw this.#error
    this.#paused = false
    if (!this.#delivering) this.#drain()
  }

  #maxData(type: PduTypeValue): number {
    switch (type) {
      case PduType.CAPSULE_CMD:
        return this.#limits.maxInCapsuleData
      case PduType.H2C_DATA:
        return this.#limits.maxH2CData
      case PduType.C2H_DATA:
        return this.#limits.maxC2HData
      default:
        return 0
    }
  }

  #maxPlen(type: PduTypeValue): number {
    if (type === PduType.IC_REQ || type === PduType.IC_RESP) return PDU_HLEN[type]
    if (type === PduType.H2C_TERM_REQ || type === PduType.C2H_TERM_REQ) return TERM_REQ_MAX_PLEN
    const hlen = PDU_HLEN[type]
    const hdgstLen = this.#hdgst && typeHasHeaderDigest(type) ? DIGEST_SIZE : 0
    if (!typeHasDataDigest(type)) return hlen + hdgstLen
    return dataOffset(hlen, hdgstLen !== 0, this.#limits.pda) + this.#maxData(type) + (this.#ddgst ? DIGEST_SIZE : 0)
  }

  /** Copy up to `n` queued bytes (for error reports). */
  #peek(n: number): Buffer {
    const out = Buffer.alloc(Math.min(n, this.#queued))
    let off = 0
    for (const b of this.#queue) {
      if (off >= out.length) break
      off += b.copy(out, off, 0, Math.min(b.length, out.length - off))
    }
    return out
  }

  #fail(fei: number, message: string, hlenHint: number): never {
    const header = this.#peek(Math.min(128, Math.max(CH_SIZE, hlenHint)))
    const err = new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, fei, message, header)
    this.#error = err
    this.#queue = []
    this.#queued = 0
    this.#pendingPlen = -1
    throw err
  }

  /** Validate the common header at the head of the queue; returns PLEN. Spec 1.2, 1.3, 1.5, 1.9. */
  #validateHeader(h: Buffer): number {
    const type = h[CH_TYPE]!
    if (!this.#allowed.includes(type)) {
      this.#fail(CH_TYPE, `${this.role} cannot receive PDU type ${pduTypeName(type)}`, CH_SIZE)
    }
    const t = type as PduTypeValue
    const hlen = PDU_HLEN[t]
    const name = pduTypeName(t)
    if (h[CH_HLEN] !== hlen) this.#fail(CH_HLEN, `${name} HLEN must be ${hlen}, got ${h[CH_HLEN]}`, hlen)
    const flags = h[CH_FLAGS]!
    const pdo = h[CH_PDO]!
    // Byte loads: readUInt32LE validates its offset on every call (one header per PDU).
    const plen = (h[CH_PLEN]! | (h[CH_PLEN + 1]! << 8) | (h[CH_PLEN + 2]! << 16) | (h[CH_PLEN + 3]! << 24)) >>> 0
    let hdgstLen = 0
    if (typeHasHeaderDigest(t)) {
      const hdgst = (flags & PduFlags.HDGSTF) !== 0
      if (hdgst !== this.#hdgst) this.#fail(CH_FLAGS, this.#hdgst ? `${name} without HDGSTF but header digest negotiated` : `${name} has HDGSTF but header digest not negotiated`, hlen)
      if (hdgst) hdgstLen = DIGEST_SIZE
    }
    if (t === PduType.IC_REQ || t === PduType.IC_RESP) {
      if (pdo !== 0) this.#fail(CH_PDO, `${name} PDO must be 0, got ${pdo}`, hlen)
      if (plen !== hlen) this.#fail(CH_PLEN, `${name} PLEN must be ${hlen}, got ${plen}`, hlen)
      return plen
    }
    if (t === PduType.H2C_TERM_REQ || t === PduType.C2H_TERM_REQ) {
      if (pdo !== 0 && pdo !== hlen) this.#fail(CH_PDO, `${name} PDO must be 0 or ${hlen}, got ${pdo}`, hlen)
      if (plen < TERM_REQ_MIN_PLEN || plen > TERM_REQ_MAX_PLEN) this.#fail(CH_PLEN, `${name} PLEN ${plen} outside [${TERM_REQ_MIN_PLEN}, ${TERM_REQ_MAX_PLEN}]`, hlen)
      return plen
    }
    const headerLen = hlen + hdgstLen
    if (!typeHasDataDigest(t) || (t === PduType.CAPSULE_CMD && pdo === 0)) {
      // CapsuleResp, R2T, and a CapsuleCmd without in-capsule data: exactly the header (+ HDGST).
      if (pdo !== 0) this.#fail(CH_PDO, `${name} PDO must be 0, got ${pdo}`, hlen)
      if (plen !== headerLen) this.#fail(CH_PLEN, `${name} PLEN must be ${headerLen}, got ${plen}`, hlen)
      return plen
    }
    // Data-carrying PDU: data starts right after header + HDGST, padded to the PDA unit we asked the
    // peer for (spec 1.9), exactly the minimum; empty data is not padded.
    const ddgstLen = this.#ddgst && (flags & PduFlags.DDGSTF) !== 0 ? DIGEST_SIZE : 0
    const wantPdo = dataOffset(hlen, hdgstLen !== 0, this.#limits.pda)
    if (pdo !== wantPdo && !(pdo === headerLen && plen === pdo + ddgstLen)) this.#fail(CH_PDO, `${name} PDO ${pdo} must be ${wantPdo}`, hlen)
    const maxData = this.#maxData(t)
    if (plen < pdo + ddgstLen) this.#fail(CH_PLEN, `${name} PLEN ${plen} shorter than PDO ${pdo}${ddgstLen ? ' + DDGST' : ''}`, hlen)
    if (plen - pdo - ddgstLen > maxData) this.#fail(CH_PLEN, `${name} carries ${plen - pdo - ddgstLen} data bytes, more than the limit ${maxData}`, hlen)
    return plen
  }

  #drain(): void {
    this.#delivering = true
    try {
      while (!this.#paused) {
        if (this.#pendingPlen < 0) {
          if (this.#queued < CH_SIZE) return
          const head = this.#queue[0]!
          let h: Buffer
          if (head.length >= CH_SIZE) h = head
          else {
            h = this.#headerScratch
            let off = 0
            for (const b of this.#queue) {
              off += b.copy(h, off, 0, Math.min(b.length, CH_SIZE - off))
              if (off === CH_SIZE) break
            }
          }
          this.#pendingPlen = this.#validateHeader(h)
        }
        const plen = this.#pendingPlen
        if (this.#queued < plen) return
        const head = this.#queue[0]!
        let raw: Buffer
        if (head.length === plen) {
          // The chunk is exactly this PDU (a QD1 read's C2HData, most commands): handed on as is.
          raw = head
          this.#queue.shift()
        } else if (head.length > plen) {
          // Zero-copy: the whole PDU lies in one chunk.
          raw = head.subarray(0, plen)
          this.#queue[0] = head.subarray(plen)
        } else if (this.#reuseAssembly) {
          // One O(n) assembly into this framer's buffer (valid until the next split PDU).
          if (this.#assembly === undefined || this.#assembly.length < plen) this.#assembly = Buffer.allocUnsafe(plen)
          raw = this.#assembly.subarray(0, plen)
          let got = 0
          while (got < plen) {
            const b = this.#queue[0]!
            const n = Math.min(b.length, plen - got)
            b.copy(raw, got, 0, n)
            got += n
            if (n === b.length) this.#queue.shift()
            else this.#queue[0] = b.subarray(n)
          }
        } else {
          // One O(n) assembly of the slices that make up this PDU.
          const parts: Buffer[] = []
          let need = plen
          while (need > 0) {
            const b = this.#queue[0]!
            if (b.length <= need) {
              parts.push(b)
              this.#queue.shift()
              need -= b.length
            } else {
              parts.push(b.subarray(0, need))
              this.#queue[0] = b.subarray(need)
              need = 0
            }
          }
          raw = Buffer.concat(parts, plen)
        }
        this.#queued -= plen
        this.#pendingPlen = -1
        this.#pdusDelivered++
        if (this.#onPdu(raw) === false) this.#paused = true
      }
    } finally {
      this.#delivering = false
    }
  }
}
