/**
 * Random and mutated input to framer + decoder only ever raises NvmeTcpProtocolError (or
 * DecodeError), never another exception, and the framer never holds more than the negotiated limit.
 */
import t from 'tap'
import fc from 'fast-check'
import { DecodeError, NvmeTcpProtocolError } from '../../lib/errors.js'
import { PduFramer, type FramerRole } from '../../lib/framer.js'
import { PDU_HLEN, decodePdu, encodePduParts, type PduTypeValue } from '../../lib/pdu/index.js'
import { arbHostBound, arbTargetBound } from './pdu/arbitraries.js'

interface Outcome {
  pdus: number
  error: unknown
  maxBuffered: number
  limit: number
}

function run(role: FramerRole, chunks: Uint8Array[], cfg: { hdgst: boolean; ddgst: boolean; pda: number; max: number }): Outcome {
  const opts = { hdgst: cfg.hdgst, ddgst: cfg.ddgst, pda: cfg.pda }
  let pdus = 0
  const framer = new PduFramer({
    role,
    hdgst: cfg.hdgst,
    ddgst: cfg.ddgst,
    pda: cfg.pda,
    maxH2CData: cfg.max,
    maxC2HData: cfg.max,
    maxInCapsuleData: cfg.max,
    onPdu: (raw) => {
      pdus++
      const p = decodePdu(raw, opts)
      if (p.type !== raw[0]) throw new Error('decoded type differs from the header')
    },
  })
  const limit = framer.maxPduLength
  let maxBuffered = 0
  let error: unknown
  for (const c of chunks) {
    try {
      framer.push(c)
    } catch (e) {
      error = e
      break
    }
    maxBuffered = Math.max(maxBuffered, framer.bufferedBytes)
  }
  if (error !== undefined && framer.error !== undefined) {
    // A framing error is sticky: the next push rethrows the same error. (An error thrown by the
    // decoder inside onPdu is the caller's, and does not poison the framer.)
    if (framer.error !== error) error = new Error('push threw something other than framer.error')
    try {
      framer.push(Buffer.alloc(1))
      error = new Error('framer accepted input after an error')
    } catch (e2) {
      if (e2 !== framer.error) error = new Error('a different error on the next push')
    }
  }
  return { pdus, error, maxBuffered, limit }
}

function acceptable(o: Outcome): boolean {
  if (o.error !== undefined && !(o.error instanceof NvmeTcpProtocolError) && !(o.error instanceof DecodeError)) {
    throw o.error
  }
  if (o.maxBuffered >= o.limit) throw new Error(`buffered ${o.maxBuffered} >= limit ${o.limit}`)
  return true
}

const arbCfg = fc.record({ hdgst: fc.boolean(), ddgst: fc.boolean(), pda: fc.integer({ min: 0, max: 31 }), max: fc.integer({ min: 0, max: 9000 }) })
const arbRole = fc.constantFrom<FramerRole>('target', 'host')

/** Plausible headers: a type the role accepts (mostly), the right HLEN (mostly), random PDO/PLEN. */
const arbHeaderish = (role: FramerRole) =>
  fc
    .record({
      type: role === 'target' ? fc.constantFrom(0, 2, 4, 6, 5, 8) : fc.constantFrom(1, 3, 5, 7, 9, 4),
      flags: fc.integer({ min: 0, max: 15 }),
      hlenOk: fc.boolean(),
      hlen: fc.integer({ min: 0, max: 255 }),
      pdo: fc.constantFrom(0, 24, 28, 32, 72, 76, 80, 128, 200),
      plen: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 20000 }), fc.constant(0xffffffff)),
      body: fc.uint8Array({ maxLength: 300 }),
    })
    .map((h) => {
      const b = Buffer.alloc(8)
      b[0] = h.type
      b[1] = h.flags
      b[2] = h.hlenOk ? (PDU_HLEN[h.type as PduTypeValue] ?? h.hlen) : h.hlen
      b[3] = h.pdo
      b.writeUInt32LE(h.plen >>> 0, 4)
      return Buffer.concat([b, h.body])
    })

t.test('random bytes only raise protocol errors and stay within the limit', async (t) => {
  fc.assert(
    fc.property(arbRole, arbCfg, fc.array(fc.uint8Array({ minLength: 0, maxLength: 400 }), { maxLength: 12 }), (role, cfg, chunks) => acceptable(run(role, chunks, cfg))),
    { numRuns: 400 },
  )
  t.pass('400 runs')
})

t.test('header-shaped garbage only raises protocol errors and stays within the limit', async (t) => {
  fc.assert(
    fc.property(
      arbRole.chain((role) => fc.tuple(fc.constant(role), fc.array(arbHeaderish(role), { minLength: 1, maxLength: 8 }))),
      arbCfg,
      fc.integer({ min: 1, max: 64 }),
      ([role, pieces], cfg, chunkSize) => {
        const stream = Buffer.concat(pieces)
        const chunks: Buffer[] = []
        for (let i = 0; i < stream.length; i += chunkSize) chunks.push(stream.subarray(i, i + chunkSize))
        return acceptable(run(role, chunks, cfg))
      },
    ),
    { numRuns: 500 },
  )
  t.pass('500 runs')
})

t.test('valid streams with one corrupted byte only raise protocol errors', async (t) => {
  let errors = 0
  let delivered = 0
  fc.assert(
    fc.property(
      arbRole.chain((role) => fc.tuple(fc.constant(role), fc.array(role === 'target' ? arbTargetBound(3000) : arbHostBound(3000), { minLength: 1, maxLength: 6 }))),
      fc.record({ hdgst: fc.boolean(), ddgst: fc.boolean(), pda: fc.integer({ min: 0, max: 31 }), max: fc.constant(3000) }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      fc.integer({ min: 1, max: 5000 }),
      ([role, pdus], cfg, pos, xor, chunkSize) => {
        const stream = Buffer.concat(pdus.flatMap((p) => encodePduParts(p, cfg)))
        const at = pos % stream.length
        stream[at] = stream[at]! ^ xor
        const chunks: Buffer[] = []
        for (let i = 0; i < stream.length; i += chunkSize) chunks.push(stream.subarray(i, i + chunkSize))
        const o = run(role, chunks, cfg)
        if (o.error !== undefined) errors++
        delivered += o.pdus
        return acceptable(o)
      },
    ),
    { numRuns: 400 },
  )
  t.ok(errors > 0, `some corruptions were detected (${errors})`)
  t.ok(delivered > 0, `some PDUs were still delivered (${delivered}; e.g. a corrupted data byte without DDGST)`)
})
