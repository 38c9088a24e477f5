/**
 * A command's response PDUs encoded in place, into a caller's buffer at an offset: C2HData (wire
 * spec 1.7: CH + PSH, HDGST, PAD to HPDA, data, DDGST) and CapsuleResp (spec 1.6: CH + CQE, HDGST).
 * The bytes are those of `encodeC2HDataParts` / `encodeCapsuleRespParts` joined (test/lib/pdu/
 * response-into.test.ts compares them), without the PDU objects, part arrays and header buffers: the
 * target's send path writes a small response straight into its send arena (docs/performance.md,
 * round 4). Fields are not range-checked here (plain byte stores, codec.ts put32le): the caller passes what
 * its own state holds; the range of `buf` is the caller's (its arena claim).
 */
import type { Buffer } from 'node:buffer'
import { crc32c, crc32cRange } from '../crc32c.js'
import { encodeCqe, type Cqe } from '../nvme/cqe.js'
import { put16le, put32le } from '../nvme/codec.js'
import { CH_FLAGS, CH_HLEN, CH_PDO, CH_PLEN, CH_SIZE, CH_TYPE, DIGEST_SIZE, PduFlags, PduType, PDU_HLEN, dataOffset, type PduEncodeOptions } from './common.js'
import { C2H_DATA_CCCID, C2H_DATA_DATAL, C2H_DATA_DATAO } from './c2h-data.js'
import { CAPSULE_RESP_CQE } from './capsule-resp.js'

const C2H_HLEN = PDU_HLEN[PduType.C2H_DATA]
const RESP_HLEN = PDU_HLEN[PduType.CAPSULE_RESP]

/** Bytes of a C2HData PDU carrying `datal` (> 0) bytes. */
export function c2hDataSize(datal: number, opts: PduEncodeOptions): number {
  return dataOffset(C2H_HLEN, opts.hdgst === true, opts.pda ?? 0) + datal + (opts.ddgst === true ? DIGEST_SIZE : 0)
}

/** Bytes of a CapsuleResp PDU. */
export function capsuleRespSize(opts: PduEncodeOptions): number {
  return RESP_HLEN + (opts.hdgst === true ? DIGEST_SIZE : 0)
}

function header(buf: Buffer, o: number, type: number, flags: number, hlen: number, pdo: number, plen: number): void {
  buf[o + CH_TYPE] = type
  buf[o + CH_FLAGS] = flags
  buf[o + CH_HLEN] = hlen
  buf[o + CH_PDO] = pdo
  put32le(buf, o + CH_PLEN, plen)
}

/**
 * One C2HData with all of `data` (DATAO 0, LAST_PDU; SUCCESS when `success`) at `o`; returns the
 * offset after it. `data` must not be empty.
 */
export function encodeC2HDataInto(buf: Buffer, o: number, cccid: number, data: Uint8Array, success: boolean, opts: PduEncodeOptions): number {
  const hdgst = opts.hdgst === true
  const ddgst = opts.ddgst === true
  const pdo = dataOffset(C2H_HLEN, hdgst, opts.pda ?? 0)
  const plen = pdo + data.length + (ddgst ? DIGEST_SIZE : 0)
  const flags = PduFlags.LAST_PDU | (success ? PduFlags.SUCCESS : 0) | (hdgst ? PduFlags.HDGSTF : 0) | (ddgst ? PduFlags.DDGSTF : 0)
  // Reserved bytes, HDGST room and PAD are 0 (spec 1.9): the arena is reused.
  for (let i = o + CH_SIZE; i < o + pdo; i++) buf[i] = 0
  header(buf, o, PduType.C2H_DATA, flags, C2H_HLEN, pdo, plen)
  put16le(buf, o + C2H_DATA_CCCID, cccid)
  put32le(buf, o + C2H_DATA_DATAO, 0)
  put32le(buf, o + C2H_DATA_DATAL, data.length)
  // HDGST covers the HLEN header bytes as sent, FLAGS included (spec 1.8).
  if (hdgst) put32le(buf, o + C2H_HLEN, crc32cRange(buf, o, o + C2H_HLEN))
  buf.set(data, o + pdo)
  const end = o + pdo + data.length
  if (!ddgst) return end
  put32le(buf, end, crc32c(data))
  return end + DIGEST_SIZE
}

/** One CapsuleResp carrying `cqe` at `o`; returns the offset after it. */
export function encodeCapsuleRespInto(buf: Buffer, o: number, cqe: Cqe, opts: PduEncodeOptions): number {
  const hdgst = opts.hdgst === true
  const plen = RESP_HLEN + (hdgst ? DIGEST_SIZE : 0)
  header(buf, o, PduType.CAPSULE_RESP, hdgst ? PduFlags.HDGSTF : 0, RESP_HLEN, 0, plen)
  encodeCqe(cqe, buf, o + CAPSULE_RESP_CQE)
  if (hdgst) put32le(buf, o + RESP_HLEN, crc32cRange(buf, o, o + RESP_HLEN))
  return o + plen
}
