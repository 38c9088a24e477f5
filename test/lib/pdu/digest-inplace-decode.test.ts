/**
 * The host's in-place checks with digests negotiated (c2hDataWithDigests, isCapsuleRespWithHdgst):
 * whenever one accepts, the full decoder with the same digests accepts the same bytes, reports the
 * data digest good and yields the fields the fast path reads in place. A header or data digest that
 * does not match, digest flags other than negotiated, a bad DATAL or a wrong length are left to the
 * decoder (which reports the digest error or names the field). Checked on encoded PDUs, on every
 * single-byte change anywhere in a small PDU, and on every digest combination.
 */
import t from 'tap'
import fc from 'fast-check'
import {
  C2H_DATA_CCCID,
  C2H_DATA_DATAO,
  CAPSULE_RESP_CQE,
  PduFlags,
  PduType,
  c2hDataWithDigests,
  decodeC2HData,
  decodeCapsuleResp,
  encodeC2HData,
  encodeCapsuleResp,
  isCapsuleRespWithHdgst,
} from '../../../lib/pdu/index.js'
import { decodeCqe } from '../../../lib/nvme/cqe.js'
import { cqe, pattern } from './fixtures.js'

const DIGESTS = [
  [true, true],
  [true, false],
  [false, true],
] as const

/** An accepted PDU decodes with a good data digest and the same fields; a refused one is the decoder's. */
function agrees(raw: Buffer, hdgst: boolean, ddgst: boolean): boolean {
  const pdo = c2hDataWithDigests(raw, hdgst, ddgst)
  if (pdo < 0) return true
  const d = decodeC2HData(raw, { hdgst, ddgst })
  return (
    d.dataDigestOk !== false &&
    d.cccid === raw.readUInt16LE(C2H_DATA_CCCID) &&
    d.datao === raw.readUInt32LE(C2H_DATA_DATAO) &&
    d.success === ((raw[1]! & PduFlags.SUCCESS) !== 0) &&
    d.data.equals(raw.subarray(pdo, raw.length - (ddgst ? 4 : 0)))
  )
}

for (const [hdgst, ddgst] of DIGESTS) {
  const opts = { hdgst, ddgst }
  t.test(`C2HData, hdgst ${hdgst} ddgst ${ddgst}: encoded PDUs pass in place with the decoder's fields`, async (t) => {
    for (const [len, last, success, pda] of [[512, true, true, 0], [4096, true, true, 0], [4096, false, false, 0], [100, true, false, 3]] as const) {
      const raw = encodeC2HData({ type: PduType.C2H_DATA, cccid: 0x2345, datao: 4096, last, success, data: pattern(len) }, { ...opts, pda })
      t.ok(c2hDataWithDigests(raw, hdgst, ddgst) >= 0, `len ${len} pda ${pda}`)
      t.ok(agrees(raw, hdgst, ddgst))
    }
    const plain = encodeC2HData({ type: PduType.C2H_DATA, cccid: 1, datao: 0, last: true, success: false, data: pattern(64) })
    t.equal(c2hDataWithDigests(plain, hdgst, ddgst), -1, 'no digests where they were negotiated: the decoder names it')
  })

  t.test(`C2HData, hdgst ${hdgst} ddgst ${ddgst}: a wrong digest or any changed byte is never accepted unless the decoder agrees`, async (t) => {
    const base = encodeC2HData({ type: PduType.C2H_DATA, cccid: 9, datao: 0, last: true, success: true, data: pattern(200) }, opts)
    if (ddgst) {
      const bad = Buffer.from(base)
      bad[bad.length - 1]! ^= 1
      t.equal(c2hDataWithDigests(bad, hdgst, ddgst), -1, 'data digest mismatch: left to the decoder')
      t.equal(decodeC2HData(bad, opts).dataDigestOk, false, 'which reports it')
      const data = Buffer.from(base)
      data[40]! ^= 0x80
      t.equal(c2hDataWithDigests(data, hdgst, ddgst), -1, 'data changed under its digest')
    }
    if (hdgst) {
      const bad = Buffer.from(base)
      bad[24]! ^= 1
      t.equal(c2hDataWithDigests(bad, hdgst, ddgst), -1, 'header digest mismatch: left to the decoder')
      t.throws(() => decodeC2HData(bad, opts), 'which refuses it')
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, v) => {
        const raw = Buffer.from(base)
        raw[at] = v
        return agrees(raw, hdgst, ddgst)
      }),
      { numRuns: 3000 },
    )
  })
}

t.test('CapsuleResp with HDGST: accepted exactly when the decoder accepts it', async (t) => {
  const raw = encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({ cid: 0x77, status: 0x0002, dw0: 5 }) }, { hdgst: true })
  t.ok(isCapsuleRespWithHdgst(raw))
  t.same(decodeCqe(raw, CAPSULE_RESP_CQE), decodeCqe(decodeCapsuleResp(raw, { hdgst: true }).cqe))
  t.notOk(isCapsuleRespWithHdgst(encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: cqe({ cid: 1 }) })), 'no HDGST')
  const bad = Buffer.from(raw)
  bad[12]! ^= 4
  t.notOk(isCapsuleRespWithHdgst(bad), 'the CQE changed under its header digest')
  t.throws(() => decodeCapsuleResp(bad, { hdgst: true }))
  fc.assert(
    fc.property(fc.integer({ min: 0, max: raw.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, v) => {
      const b = Buffer.from(raw)
      b[at] = v
      if (!isCapsuleRespWithHdgst(b)) return true
      decodeCapsuleResp(b, { hdgst: true })
      return true
    }),
    { numRuns: 2000 },
  )
})
