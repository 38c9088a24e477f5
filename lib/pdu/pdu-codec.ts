/**
 * Internal helpers shared by the PDU codecs (not part of the public API; lib/pdu/index.ts does not
 * re-export this module): argument checks, building header+data parts, and whole-PDU validation.
 */
// The module's Buffer, not the global: in ESM the global is a getter run on every use (hot path).
import { Buffer } from 'node:buffer'
import { crc32c, crc32cRange } from '../crc32c.js'
import { FES, InvalidArgumentError, NvmeTcpProtocolError } from '../errors.js'
import {
  CH_FLAGS,
  CH_HLEN,
  CH_PDO,
  CH_PLEN,
  CH_SIZE,
  CH_TYPE,
  DIGEST_SIZE,
  MAX_PDA,
  PDU_HLEN,
  PduFlags,
  PduType,
  dataOffset,
  pduTypeName,
  readCommonHeader,
  typeHasDataDigest,
  typeHasHeaderDigest,
  writeCommonHeader,
  type CommonHeader,
  type PduDecodeOptions,
  type PduEncodeOptions,
  type PduTypeValue,
} from './common.js'

function checkPda(pda: number | undefined): number {
  if (pda === undefined) return 0
  if (!Number.isInteger(pda) || pda < 0 || pda > MAX_PDA) throw new InvalidArgumentError('pda', `must be an integer in [0, ${MAX_PDA}]`)
  return pda
}

function checkU32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidArgumentError(name, 'must be an integer in [0, 4294967295]')
  return v
}

function checkU16(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new InvalidArgumentError(name, 'must be an integer in [0, 65535]')
  return v
}

function checkU8(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new InvalidArgumentError(name, 'must be an integer in [0, 255]')
  return v
}

export const check = { u8: checkU8, u16: checkU16, u32: checkU32, pda: checkPda }

export function checkFixedBuffer(name: string, v: unknown, size: number): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== size) throw new InvalidArgumentError(name, `must be a ${size}-byte Buffer`)
}

/**
 * Build the PDU parts for a header of `hlen` bytes (filled by `fillHeader`) followed by optional data.
 * Returns [header + HDGST + PAD] or [header + HDGST + PAD, data (uncopied), DDGST]. The header
 * buffer is zeroed so reserved bytes and PAD are 0 (spec 1.9).
 */
export function buildParts(
  type: number,
  flags: number,
  hlen: number,
  data: Uint8Array | undefined,
  opts: PduEncodeOptions,
  fillHeader: (header: Buffer) => void,
): Buffer[] {
  const hdgst = opts.hdgst === true && typeHasHeaderDigest(type)
  const hasData = data !== undefined && (data.length > 0 || type === PduType.H2C_DATA || type === PduType.C2H_DATA)
  const ddgst = hasData && data.length > 0 && opts.ddgst === true && typeHasDataDigest(type)
  // Empty data is never padded, so PLEN - HLEN - HDGST stays 0 and no DDGST is due (spec 1.3).
  const pda = checkPda(opts.pda)
  const hdgstLen = hdgst ? DIGEST_SIZE : 0
  const pdo = hasData ? dataOffset(hlen, hdgst, data.length > 0 ? pda : 0) : 0
  const headerLen = hasData ? pdo : hlen + hdgstLen
  const dataLen = hasData ? data.length : 0
  const plen = headerLen + dataLen + (ddgst ? DIGEST_SIZE : 0)
  if (plen > 0xffffffff) throw new InvalidArgumentError('data', 'is too large for one PDU')
  const f = flags | (hdgst ? PduFlags.HDGSTF : 0) | (ddgst ? PduFlags.DDGSTF : 0)
  // allocUnsafe slices Node's shared pool for small sizes (no new ArrayBuffer per PDU); the pool is
  // never handed out twice, so a header still queued on a socket is never overwritten. Zeroed here.
  const header = Buffer.allocUnsafe(headerLen).fill(0)
  writeCommonHeader(header, type, f, hlen, pdo, plen)
  fillHeader(header)
  // HDGST covers exactly the HLEN header bytes as sent, FLAGS included (spec 1.8).
  if (hdgst) header.writeUInt32LE(crc32cRange(header, 0, hlen), hlen)
  if (!hasData) return [header]
  const d = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length)
  if (!ddgst) return [header, d]
  const dd = Buffer.allocUnsafe(DIGEST_SIZE)
  dd.writeUInt32LE(crc32c(d), 0)
  return [header, d, dd]
}

/** Join parts into one Buffer (one allocation). */
export function joinParts(parts: Buffer[]): Buffer {
  if (parts.length === 1) return parts[0]!
  return Buffer.concat(parts)
}

function fail(fei: number, message: string, raw: Uint8Array, fes: number = FES.INVALID_HEADER_FIELD): never {
  throw new NvmeTcpProtocolError(fes, fei, message, raw.subarray(0, Math.min(raw.length, 128)))
}

/** What {@link checkPdu} learned about one PDU. */
export interface PduLayout {
  header: CommonHeader
  /** Whether HDGST is present (HDGSTF). */
  hdgst: boolean
  /** Whether DDGST is present (DDGSTF). */
  ddgst: boolean
  /** Data region (view of `raw`); undefined when the PDU carries none. */
  data: Buffer | undefined
  /** false only when DDGST is present and does not match. */
  dataDigestOk: boolean
}

/**
 * Validate one whole PDU of `expectedType` and locate its data (types that may carry data, spec 1.2,
 * get the PDO/DDGST checks; the others must be exactly header + HDGST).
 * Enforces: PLEN == raw.length (FEI 4), HLEN per type (FEI 2), the digest flag rules of spec 1.3
 * (FEI 1), PDO rules of spec 1.9 (FEI 3), and HDGST (FES 0x03). A DDGST mismatch is reported in
 * `dataDigestOk`, never thrown (spec 1.5: data digest errors are not transport-fatal).
 */
export function checkPdu(raw: Buffer, expectedType: PduTypeValue, opts: PduDecodeOptions): PduLayout {
  if (raw.length < CH_SIZE) fail(CH_PLEN, `PDU of ${raw.length} bytes is shorter than the common header`, raw)
  const ch = readCommonHeader(raw)
  if (ch.type !== expectedType) fail(CH_TYPE, `expected PDU type ${pduTypeName(expectedType)}, got ${pduTypeName(ch.type)}`, raw)
  const type = expectedType
  const hlen = PDU_HLEN[type]
  if (ch.hlen !== hlen) fail(CH_HLEN, `${pduTypeName(type)} HLEN must be ${hlen}, got ${ch.hlen}`, raw)
  if (ch.plen !== raw.length) fail(CH_PLEN, `PLEN ${ch.plen} does not match the ${raw.length} bytes of the PDU`, raw)
  if (ch.plen < hlen) fail(CH_PLEN, `PLEN ${ch.plen} is shorter than HLEN ${hlen}`, raw)

  // Digest flags (spec 1.3): a type that may carry HDGST must carry it iff it was negotiated.
  let hdgst = false
  if (typeHasHeaderDigest(type)) {
    hdgst = (ch.flags & PduFlags.HDGSTF) !== 0
    if (hdgst !== (opts.hdgst === true)) {
      fail(CH_FLAGS, opts.hdgst === true ? 'header digest negotiated but HDGSTF not set' : 'HDGSTF set but header digest not negotiated', raw)
    }
  }
  const hdgstLen = hdgst ? DIGEST_SIZE : 0
  if (raw.length < hlen + hdgstLen) fail(CH_PLEN, `PLEN ${ch.plen} too short for the header digest`, raw)
  if (hdgst) {
    const got = raw.readUInt32LE(hlen)
    const want = crc32cRange(raw, 0, hlen)
    if (got !== want) {
      fail(0, `header digest mismatch: got 0x${got.toString(16).padStart(8, '0')}, computed 0x${want.toString(16).padStart(8, '0')}`, raw, FES.HEADER_DIGEST_ERROR)
    }
  }

  let ddgst = false
  if (typeHasDataDigest(type)) {
    ddgst = (ch.flags & PduFlags.DDGSTF) !== 0
    if (ddgst && opts.ddgst !== true) fail(CH_FLAGS, 'DDGSTF set but data digest not negotiated', raw)
    if (!ddgst && opts.ddgst === true && ch.plen - hlen - hdgstLen > 0) fail(CH_FLAGS, 'data digest negotiated but DDGSTF not set on a PDU with data', raw)
  }
  const ddgstLen = ddgst ? DIGEST_SIZE : 0

  if (!typeHasDataDigest(type)) {
    // No data: PDO 0 and PLEN exactly the header (+ HDGST).
    if (ch.pdo !== 0) fail(CH_PDO, `PDO must be 0 on ${pduTypeName(type)}, got ${ch.pdo}`, raw)
    if (ch.plen !== hlen + hdgstLen) fail(CH_PLEN, `${pduTypeName(type)} PLEN must be ${hlen + hdgstLen}, got ${ch.plen}`, raw)
    return { header: ch, hdgst, ddgst, data: undefined, dataDigestOk: true }
  }
  if (type === PduType.CAPSULE_CMD && ch.pdo === 0) {
    // A capsule without in-capsule data (spec 1.6).
    if (ddgst) fail(CH_FLAGS, 'DDGSTF set on a CapsuleCmd without data (PDO 0)', raw)
    if (ch.plen !== hlen + hdgstLen) fail(CH_PLEN, `CapsuleCmd with PDO 0 must have PLEN ${hlen + hdgstLen}, got ${ch.plen}`, raw)
    return { header: ch, hdgst, ddgst, data: undefined, dataDigestOk: true }
  }
  // PDO (spec 1.9): data follows header + HDGST, padded to the receiver's PDA unit. When this side's
  // PDA is known the padding must be exactly the minimum (what Linux and SPDK senders produce; the
  // Linux receivers ignore PDO, so any other value would be misread there). Empty data is never padded.
  if (ch.pdo < hlen + hdgstLen) fail(CH_PDO, `PDO ${ch.pdo} is inside the header (${hlen + hdgstLen} bytes)`, raw)
  if (ch.plen < ch.pdo + ddgstLen) fail(CH_PLEN, `PLEN ${ch.plen} shorter than PDO ${ch.pdo}${ddgstLen ? ' + DDGST' : ''}`, raw)
  if (opts.pda !== undefined) {
    const want = dataOffset(hlen, hdgst, opts.pda)
    const empty = ch.plen === ch.pdo + ddgstLen
    if (ch.pdo !== want && !(empty && ch.pdo === hlen + hdgstLen)) fail(CH_PDO, `PDO ${ch.pdo} must be ${want} (PDA ${opts.pda})`, raw)
  }
  const data = raw.subarray(ch.pdo, ch.plen - ddgstLen)
  let dataDigestOk = true
  if (ddgst) dataDigestOk = raw.readUInt32LE(ch.plen - DIGEST_SIZE) === crc32c(data)
  return { header: ch, hdgst, ddgst, data, dataDigestOk }
}

export { fail as protocolFail }

/**
 * H2CData/C2HData: DATAL (at `datalOffset`) must equal the data bytes between PDO and DDGST — no
 * padding after the data (the Linux target requires `DATAL == PLEN - 24 - HDGST - DDGST`); otherwise
 * FES 0x01 with FEI = the DATAL offset. Returns the data.
 */
export function checkDatal(raw: Buffer, datalOffset: number, data: Buffer): Buffer {
  const datal = raw.readUInt32LE(datalOffset)
  if (datal !== data.length) fail(datalOffset, `DATAL ${datal} does not match the ${data.length} data bytes the PDU carries`, raw)
  return data
}
