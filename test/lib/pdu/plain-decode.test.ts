/**
 * The host's in-place checks for the two PDUs a read receives (isPlainC2HData, isPlainCapsuleResp):
 * whenever one says yes, the full decoder with digests off accepts the same bytes and yields the
 * fields the fast path reads in place; PDUs with a digest flag, a bad DATAL, SUCCESS without
 * LAST_PDU or a wrong length are left to the decoder (which names the field). Checked on encoded
 * PDUs and on every single-byte change to their first 24 bytes.
 */
import t from 'tap'
import fc from 'fast-check'
import {
  C2H_DATA_CCCID,
  C2H_DATA_DATAO,
  CAPSULE_RESP_CQE,
  PduFlags,
  decodeC2HData,
  decodeCapsuleResp,
  encodeC2HData,
  encodeCapsuleResp,
  isPlainC2HData,
  isPlainCapsuleResp,
  PduType,
} from '../../../lib/pdu/index.js'
import { decodeCqe } from '../../../lib/nvme/cqe.js'
import { cqe, pattern } from './fixtures.js'

/** isPlainC2HData(raw) implies decodeC2HData(raw) succeeds with the fields read in place. */
function sameAsDecoder(raw: Buffer): boolean {
  if (!isPlainC2HData(raw)) return true
  const d = decodeC2HData(raw)
  return (
    d.cccid === raw.readUInt16LE(C2H_DATA_CCCID) &&
    d.datao === raw.readUInt32LE(C2H_DATA_DATAO) &&
    d.success === ((raw[1]! & PduFlags.SUCCESS) !== 0) &&
    d.data.equals(raw.subarray(raw[3]!)) &&
    d.dataDigestOk !== false
  )
}

t.test('C2HData: encoded PDUs are plain, with the decoder’s fields', async (t) => {
  for (const [len, last, success] of [[0, true, false], [512, true, true], [4096, true, true], [4096, false, false], [1, true, false]] as const) {
    const raw = encodeC2HData({ type: PduType.C2H_DATA, cccid: 0x1234, datao: 8192, last, success, data: pattern(len) })
    t.ok(isPlainC2HData(raw), `len ${len}`)
    t.ok(sameAsDecoder(raw))
  }
  const digested = encodeC2HData({ type: PduType.C2H_DATA, cccid: 1, datao: 0, last: true, success: false, data: pattern(64) }, { hdgst: true, ddgst: true })
  t.notOk(isPlainC2HData(digested), 'digests: left to the decoder')
  const padded = encodeC2HData({ type: PduType.C2H_DATA, cccid: 1, datao: 0, last: true, success: false, data: pattern(64) }, { pda: 7 })
  t.ok(sameAsDecoder(padded), 'a padded PDO: whatever the check says, it agrees with the decoder')
})

t.test('C2HData: no single-byte change in the header makes the check accept what the decoder refuses', async (t) => {
  const base = encodeC2HData({ type: PduType.C2H_DATA, cccid: 7, datao: 0, last: true, success: true, data: pattern(600) })
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 255 }), (at, v) => {
      const raw = Buffer.from(base)
      raw[at] = v
      return sameAsDecoder(raw)
    }),
    { numRuns: 3000 },
  )
  const truncated = base.subarray(0, base.length - 1)
  t.notOk(isPlainC2HData(truncated), 'PLEN longer than the bytes')
  const flags = Buffer.from(base)
  flags[1] = PduFlags.SUCCESS
  t.notOk(isPlainC2HData(flags), 'SUCCESS without LAST_PDU')
  t.throws(() => decodeC2HData(flags))
})

t.test('CapsuleResp: plain exactly when the decoder accepts it with the header digest off', async (t) => {
  const raw = encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({ cid: 0x42, status: 0x0281, dw0: 9 }) })
  t.ok(isPlainCapsuleResp(raw))
  t.same(decodeCqe(raw, CAPSULE_RESP_CQE), decodeCqe(decodeCapsuleResp(raw).cqe))
  t.notOk(isPlainCapsuleResp(encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({ cid: 1 }) }, { hdgst: true })))
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 }), (at, v) => {
      const b = Buffer.from(raw)
      b[at] = v
      if (!isPlainCapsuleResp(b)) return true
      decodeCapsuleResp(b)
      return true
    }),
    { numRuns: 2000 },
  )
})
