/** Round-trip properties for every PDU codec (fast-check, bounded numRuns). */
import t from 'tap'
import fc from 'fast-check'
import {
  PDU_HLEN,
  decodeC2HData,
  decodeCapsuleCmd,
  decodeCapsuleResp,
  decodeH2CData,
  decodeIcReq,
  decodeIcResp,
  decodePdu,
  decodeR2T,
  decodeTermReq,
  encodeC2HData,
  encodeC2HDataParts,
  encodeCapsuleCmd,
  encodeCapsuleCmdParts,
  encodeCapsuleResp,
  encodeCapsuleRespParts,
  encodeH2CData,
  encodeH2CDataParts,
  encodeIcReq,
  encodeIcReqParts,
  encodeIcResp,
  encodeIcRespParts,
  encodePduParts,
  encodeR2T,
  encodeR2TParts,
  encodeTermReq,
  encodeTermReqParts,
  PduType,
  type PduEncodeOptions,
} from '../../../lib/pdu/index.js'
import * as A from './arbitraries.js'

const RUNS = { numRuns: 150 }

interface Codec<P> {
  name: string
  arb: fc.Arbitrary<P>
  parts: (p: P, o: PduEncodeOptions) => Buffer[]
  one: (p: P, o: PduEncodeOptions) => Buffer
  decode: (raw: Buffer, o: PduEncodeOptions) => object
}

const codecs: Codec<any>[] = [
  { name: 'ICReq', arb: A.arbIcReq, parts: encodeIcReqParts, one: encodeIcReq, decode: decodeIcReq },
  { name: 'ICResp', arb: A.arbIcResp, parts: encodeIcRespParts, one: encodeIcResp, decode: decodeIcResp },
  { name: 'H2CTermReq', arb: A.arbTermReq(PduType.H2C_TERM_REQ), parts: encodeTermReqParts, one: encodeTermReq, decode: decodeTermReq },
  { name: 'C2HTermReq', arb: A.arbTermReq(PduType.C2H_TERM_REQ), parts: encodeTermReqParts, one: encodeTermReq, decode: decodeTermReq },
  { name: 'CapsuleCmd', arb: A.arbCapsuleCmd(), parts: encodeCapsuleCmdParts, one: encodeCapsuleCmd, decode: decodeCapsuleCmd },
  { name: 'CapsuleResp', arb: A.arbCapsuleResp, parts: encodeCapsuleRespParts, one: encodeCapsuleResp, decode: decodeCapsuleResp },
  { name: 'H2CData', arb: A.arbH2CData(), parts: encodeH2CDataParts, one: encodeH2CData, decode: decodeH2CData },
  { name: 'C2HData', arb: A.arbC2HData(), parts: encodeC2HDataParts, one: encodeC2HData, decode: decodeC2HData },
  { name: 'R2T', arb: A.arbR2T, parts: encodeR2TParts, one: encodeR2T, decode: decodeR2T },
]

for (const c of codecs) {
  t.test(`${c.name}: decode(encode(x)) == x for any digests and PDA`, async (t) => {
    let checked = 0
    fc.assert(
      fc.property(c.arb, A.arbOpts, (pdu, opts) => {
        const parts = c.parts(pdu, opts)
        const one = c.one(pdu, opts)
        const raw = Buffer.concat(parts)
        if (!raw.equals(one)) throw new Error('parts and single-buffer encodings differ')
        if (raw.readUInt32LE(4) !== raw.length) throw new Error('PLEN != length')
        const hlen = PDU_HLEN[(pdu as { type: keyof typeof PDU_HLEN }).type]
        if (raw[2] !== hlen) throw new Error('HLEN wrong')
        const pdo = raw[3]!
        const data = (pdu as { data?: Buffer }).data
        if (data !== undefined && data.length > 0 && pdu.type !== PduType.H2C_TERM_REQ && pdu.type !== PduType.C2H_TERM_REQ) {
          // Spec 1.9: data at the first multiple of (pda+1)*4 after header (+HDGST), and the data part is the caller's buffer.
          if (pdo % ((opts.pda + 1) * 4) !== 0 || pdo < hlen) throw new Error(`PDO ${pdo} not aligned for PDA ${opts.pda}`)
          if (parts[1] !== data) throw new Error('data buffer was copied')
        }
        const d = c.decode(raw, opts) as { dataDigestOk?: boolean }
        if (d.dataDigestOk === false) throw new Error('digest mismatch on a clean encoding')
        const same = JSON.stringify(A.norm(d)) === JSON.stringify(A.norm(pdu))
        if (!same) throw new Error(`round trip differs: ${JSON.stringify(A.norm(d))} vs ${JSON.stringify(A.norm(pdu))}`)
        // decodePdu and encodePduParts agree with the per-type functions.
        if (JSON.stringify(A.norm(decodePdu(raw, opts))) !== JSON.stringify(A.norm(d))) throw new Error('decodePdu differs')
        if (!Buffer.concat(encodePduParts(pdu, opts)).equals(raw)) throw new Error('encodePduParts differs')
        checked++
        return true
      }),
      RUNS,
    )
    t.equal(checked, RUNS.numRuns)
  })
}

t.test('decoded data fields are views of the raw PDU (zero copy)', async (t) => {
  const raw = encodeH2CData({ type: PduType.H2C_DATA, cccid: 1, ttag: 2, datao: 0, last: true, data: Buffer.from('abcdefgh') }, { hdgst: true })
  const d = decodeH2CData(raw, { hdgst: true })
  t.equal(d.data.buffer, raw.buffer)
  raw[28] = 0x7a
  t.equal(d.data.toString(), 'zbcdefgh', 'a view sees later writes to the source')
})
