/**
 * Properties of the control-plane framing and of the scenario validator: any chunking of a stream
 * of length-delimited messages yields the same messages; arbitrary JSON given as a fault spec is
 * either accepted or rejected with a ConfigError (never another exception).
 */
import fc from 'fast-check'
import t from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { ConfigError, InvalidArgumentError } from '../../lib/errors.js'
import { DelimitedDecoder } from '../../faults/control-codec.js'
import { FaultEngine } from '../../faults/engine.js'
import { loadFaultSchemas } from '../../faults/proto.js'

t.test('DelimitedDecoder: any chunking yields the same messages', async (t) => {
  const schemas = loadFaultSchemas()
  fc.assert(
    fc.property(
      fc.array(fc.record({ id: fc.nat(1000), token: fc.string({ maxLength: 300 }) }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      (reqs, cuts) => {
        const stream = Buffer.concat(reqs.map((r) => schemas.Request.encodeDelimited(schemas.Request.fromObject({ ...r, status: {} })).finish()))
        const got: Buffer[] = []
        const d = new DelimitedDecoder({ onMessage: (m) => got.push(Buffer.from(m)) })
        let off = 0
        let i = 0
        while (off < stream.length) {
          const n = cuts[i++ % cuts.length]!
          d.push(stream.subarray(off, off + n))
          off += n
        }
        const decoded = got.map((m) => schemas.Request.toObject(schemas.Request.decode(m), { defaults: true }) as { id: number; token: string })
        return decoded.length === reqs.length && decoded.every((m, k) => m.id === reqs[k]!.id && m.token === reqs[k]!.token)
      },
    ),
    { numRuns: 200 },
  )
  const d = new DelimitedDecoder({ onMessage: () => undefined, maxMessage: 100 })
  t.throws(() => d.push(Buffer.from([0xc8, 0x01])), InvalidArgumentError, 'a declared length over the limit is refused before buffering')
  t.throws(() => d.push(Buffer.from([0x01])), InvalidArgumentError, 'and the decoder stays failed')
})

t.test('parseFault: arbitrary JSON is accepted or refused with a ConfigError', async (t) => {
  const engine = new FaultEngine({ clock: new ManualClock() })
  const types = engine.registry.names()
  const anyJson = fc.jsonValue({ maxDepth: 3 })
  const specLike = fc.record(
    {
      type: fc.oneof(fc.constantFrom(...types), fc.string()),
      at: fc.oneof(fc.constantFrom('command', 'completion', 'pdu-send', 'pdu-received', 'connection'), fc.string()),
      match: fc.oneof(anyJson, fc.record({ ports: fc.array(fc.integer()), kinds: fc.array(fc.string()), lba: anyJson }, { requiredKeys: [] })),
      schedule: fc.oneof(anyJson, fc.record({ probability: fc.double(), everyNth: fc.integer(), times: fc.integer() }, { requiredKeys: [] })),
      params: anyJson,
    },
    { requiredKeys: [] },
  )
  let accepted = 0
  fc.assert(
    fc.property(fc.oneof(anyJson, specLike), (json) => {
      try {
        engine.parseFault(json)
        accepted++
        return true
      } catch (err) {
        return err instanceof ConfigError && typeof err.path === 'string' && err.path.startsWith('fault')
      }
    }),
    { numRuns: 500 },
  )
  t.ok(accepted >= 0, `${accepted} random specs were valid`)
})
