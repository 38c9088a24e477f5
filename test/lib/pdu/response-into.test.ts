/** The in-place response encoders give exactly the bytes of the PDU encoders, at any offset of a dirty buffer. */
import t from 'tap'
import fc from 'fast-check'
import { Buffer } from 'node:buffer'
import { encodeC2HData, encodeCapsuleResp, type PduEncodeOptions } from '../../../lib/pdu/index.js'
import { c2hDataSize, capsuleRespSize, encodeC2HDataInto, encodeCapsuleRespInto } from '../../../lib/pdu/response-into.js'
import { encodeCqe, type Cqe } from '../../../lib/nvme/cqe.js'

const opts = fc.record({ hdgst: fc.boolean(), ddgst: fc.boolean(), pda: fc.integer({ min: 0, max: 31 }) }) as fc.Arbitrary<PduEncodeOptions>
const cqe = fc.record({
  dw0: fc.integer({ min: 0, max: 0xffffffff }),
  dw1: fc.integer({ min: 0, max: 0xffffffff }),
  sqhd: fc.integer({ min: 0, max: 0xffff }),
  sqid: fc.integer({ min: 0, max: 0xffff }),
  cid: fc.integer({ min: 0, max: 0xffff }),
  status: fc.integer({ min: 0, max: 0x7fff }),
}) as fc.Arbitrary<Cqe>

t.test('C2HData then CapsuleResp in place = the encoders joined', (t) => {
  fc.assert(
    fc.property(opts, fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.boolean(), cqe, fc.integer({ min: 0, max: 64 }), (o, cccid, bytes, success, c, at) => {
      const data = Buffer.from(bytes)
      const want = Buffer.concat([
        encodeC2HData({ type: 7, cccid, datao: 0, last: true, success, data }, o),
        encodeCapsuleResp({ type: 5, cqe: encodeCqe(c) }, o),
      ])
      // A reused arena holds old bytes: every byte of the PDUs must be written.
      const buf = Buffer.alloc(at + want.length + 8, 0xa5)
      const mid = encodeC2HDataInto(buf, at, cccid, data, success, o)
      t.equal(mid - at, c2hDataSize(data.length, o))
      const end = encodeCapsuleRespInto(buf, mid, c, o)
      t.equal(end - mid, capsuleRespSize(o))
      t.same(buf.subarray(at, end), want)
      t.equal(buf[at - 1] ?? 0xa5, 0xa5, 'nothing written before the offset')
      t.equal(buf[end], 0xa5, 'nothing written after the PDUs')
    }),
    { numRuns: 200 },
  )
  t.end()
})
