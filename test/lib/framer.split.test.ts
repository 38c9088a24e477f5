/**
 * The framer fed a multi-PDU stream (every PDU type a role receives, with and without digests, data
 * of various sizes) split at every byte position, and in random chunkings, yields identical PDUs.
 */
import t from 'tap'
import fc from 'fast-check'
import { PduFramer, type FramerRole } from '../../lib/framer.js'
import { PduType, decodePdu, encodePduParts, type Pdu, type PduEncodeOptions } from '../../lib/pdu/index.js'
import { connectData, connectSqe, cqe, hostBoundPdus, identifySqe, pattern, rwSqe, targetBoundPdus } from './pdu/fixtures.js'
import { norm } from './pdu/arbitraries.js'

/** Small streams for the every-byte split (each split re-frames the whole stream). */
function smallTargetStream(): Pdu[] {
  return [
    { type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: true, ddgst: true, maxr2t: 0 },
    { type: PduType.CAPSULE_CMD, sqe: connectSqe(), data: connectData() },
    { type: PduType.CAPSULE_CMD, sqe: identifySqe(0x1003) },
    { type: PduType.CAPSULE_CMD, sqe: rwSqe(true, 0x2005, 0, 1), data: pattern(512, 2) },
    { type: PduType.H2C_DATA, cccid: 0x2006, ttag: 3, datao: 0, last: false, data: pattern(1500, 3) },
    { type: PduType.H2C_DATA, cccid: 0x2006, ttag: 3, datao: 1500, last: true, data: pattern(7, 4) },
    { type: PduType.H2C_DATA, cccid: 0x2007, ttag: 4, datao: 0, last: true, data: Buffer.alloc(0) },
    { type: PduType.H2C_TERM_REQ, fes: 0x02, fei: 0, data: pattern(24, 5) },
  ]
}

function smallHostStream(): Pdu[] {
  return [
    { type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: true, ddgst: true, maxh2cdata: 0x400000 },
    { type: PduType.CAPSULE_RESP, cqe: cqe({ dw0: 1, sqhd: 1 }) },
    { type: PduType.C2H_DATA, cccid: 0x1003, datao: 0, last: true, success: false, data: pattern(2048, 7) },
    { type: PduType.CAPSULE_RESP, cqe: cqe({ sqhd: 2, cid: 0x1003 }) },
    { type: PduType.R2T, cccid: 0x2006, ttag: 3, r2to: 0, r2tl: 1507 },
    { type: PduType.C2H_DATA, cccid: 0x3001, datao: 0, last: false, success: false, data: pattern(3, 8) },
    { type: PduType.C2H_DATA, cccid: 0x3001, datao: 3, last: true, success: true, data: pattern(600, 9) },
    { type: PduType.C2H_TERM_REQ, fes: 0x01, fei: 4, data: pattern(72, 10) },
  ]
}

interface Variant {
  role: FramerRole
  opts: PduEncodeOptions & { hdgst: boolean; ddgst: boolean }
  /** The target's framer assembles split PDUs in one reused buffer (valid during onPdu only). */
  reuseAssembly?: boolean
}
const VARIANTS: Variant[] = []
for (const role of ['target', 'host'] as const) {
  for (const dg of [false, true]) VARIANTS.push({ role, opts: { hdgst: dg, ddgst: dg } })
}
VARIANTS.push({ role: 'target', opts: { hdgst: true, ddgst: false, pda: 3 } }, { role: 'host', opts: { hdgst: false, ddgst: true, pda: 7 } })
for (const dg of [false, true]) VARIANTS.push({ role: 'target', opts: { hdgst: dg, ddgst: dg }, reuseAssembly: true })

/**
 * Encode the stream; the ICReq/ICResp goes first without digests, then digests apply (as after
 * negotiation), so the framer switches with setDigests() after the first PDU.
 */
function encodeStream(pdus: Pdu[], v: Variant): { stream: Buffer; expected: Buffer[] } {
  const expected = pdus.map((p) => Buffer.concat(encodePduParts(p, v.opts)))
  return { stream: Buffer.concat(expected), expected }
}

function frame(chunks: Buffer[], v: Variant, maxSeen?: { max: number }): Buffer[] {
  const out: Buffer[] = []
  const framer: PduFramer = new PduFramer({
    role: v.role,
    maxH2CData: 256 * 1024,
    maxC2HData: 256 * 1024,
    pda: v.opts.pda ?? 0,
    reuseAssembly: v.reuseAssembly === true,
    onPdu: (raw) => {
      out.push(Buffer.from(raw))
      // The connection negotiates digests with ICReq/ICResp; later PDUs carry them.
      if (out.length === 1) framer.setDigests(v.opts)
    },
  })
  for (const c of chunks) {
    framer.push(c)
    if (maxSeen !== undefined) maxSeen.max = Math.max(maxSeen.max, framer.bufferedBytes)
  }
  if (!framer.atPduBoundary) throw new Error('stream ended inside a PDU')
  return out
}

function sameList(a: Buffer[], b: Buffer[]): boolean {
  return a.length === b.length && a.every((x, i) => x.equals(b[i]!))
}

for (const v of VARIANTS) {
  const name = `${v.role}, hdgst=${v.opts.hdgst} ddgst=${v.opts.ddgst} pda=${v.opts.pda ?? 0}${v.reuseAssembly === true ? ', reused assembly buffer' : ''}`
  t.test(`split at every byte position: ${name}`, async (t) => {
    const { stream, expected } = encodeStream(v.role === 'target' ? smallTargetStream() : smallHostStream(), v)
    t.ok(sameList(frame([stream], v), expected), 'one chunk')
    let bad = -1
    for (let i = 1; i < stream.length && bad < 0; i++) {
      if (!sameList(frame([stream.subarray(0, i), stream.subarray(i)], v), expected)) bad = i
    }
    t.equal(bad, -1, `all ${stream.length - 1} two-chunk splits yield the ${expected.length} PDUs`)
    // Every PDU decodes back to the PDU that was encoded.
    const pdus = v.role === 'target' ? smallTargetStream() : smallHostStream()
    const got = frame([stream], v)
    got.forEach((raw, i) => {
      const d = decodePdu(raw, i === 0 ? {} : v.opts)
      t.same(norm(d), norm(pdus[i]!), `PDU ${i} (type ${d.type}) decodes intact`)
    })
  })

  t.test(`one byte at a time and random chunkings: ${name}`, async (t) => {
    const small = encodeStream(v.role === 'target' ? smallTargetStream() : smallHostStream(), v)
    const bytewise: Buffer[] = []
    for (let i = 0; i < small.stream.length; i++) bytewise.push(small.stream.subarray(i, i + 1))
    const seen = { max: 0 }
    t.ok(sameList(frame(bytewise, v, seen), small.expected), `${small.stream.length} one-byte chunks`)
    t.ok(seen.max < Math.max(...small.expected.map((e) => e.length)), 'never holds a whole PDU when fed bytewise')
    // The full fixture stream (64 KiB / 128 KiB data PDUs) in random chunkings.
    const pdus = v.role === 'target' ? targetBoundPdus() : hostBoundPdus()
    const { stream, expected } = encodeStream(pdus, v)
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 70000 }), { minLength: 1, maxLength: 60 }), (sizes) => {
        const chunks: Buffer[] = []
        let off = 0
        let i = 0
        while (off < stream.length) {
          const n = sizes[i++ % sizes.length]!
          chunks.push(stream.subarray(off, off + n))
          off += n
        }
        return sameList(frame(chunks, v), expected)
      }),
      { numRuns: 40 },
    )
    t.pass('40 random chunkings agree')
    // Coalesced: several copies of the stream in one chunk.
    const three = Buffer.concat([stream, stream, stream])
    const got = frame([three], { ...v })
    t.equal(got.length, expected.length * 3)
  })
}
