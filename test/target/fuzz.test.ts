/**
 * Random bytes on a connection (before and after ICReq) only ever end that connection (with a
 * C2HTermReq or a close) or get NVMe statuses; the target never crashes, leaks no queue, and keeps
 * serving other connections. Bounded by numRuns.
 */
import t from 'tap'
import fc from 'fast-check'
import { RawHost, waitFor, withTimeout } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN } from './helpers/fixture.js'
import { PduType } from '../../lib/pdu/index.js'

t.test('random input never hurts the target', async (t) => {
  const target = await startTarget(t, { icReqTimeoutMs: 300 })
  const port = portOf(target)
  const witness = await RawHost.connect({ port })
  t.teardown(() => witness.destroy())
  await witness.connectAdmin({ subnqn: SUBNQN, kato: 0 })
  let runs = 0
  await fc.assert(
    fc.asyncProperty(
      fc.boolean(),
      fc.uint8Array({ minLength: 1, maxLength: 600 }),
      fc.constantFrom(PduType.CAPSULE_CMD, PduType.H2C_DATA, PduType.IC_REQ, 0x05, 0x42),
      async (afterIc, bytes, type) => {
        runs++
        const c = await RawHost.connect({ port, noIcReq: !afterIc })
        const b = Buffer.from(bytes)
        if (b.length >= 8) {
          // Half the time make the common header plausible so the deeper checks run.
          b[0] = type
          if (b[7]! & 1) {
            b[2] = type === PduType.CAPSULE_CMD ? 72 : type === PduType.IC_REQ ? 128 : 24
            b.writeUInt32LE(b.length, 4)
          }
        }
        c.sendRaw(b)
        // Either the target closes the connection, or it is still alive and answers.
        const closed = await withTimeout(c.closed.then(() => true), 300, 'close').catch(() => false)
        if (!closed) c.destroy()
        await c.closed
        return true
      },
    ),
    { numRuns: 40, seed: 4242 },
  )
  t.equal(runs, 40, '40 random inputs sent')
  await waitFor(() => target.status().unboundQueues.length === 0, 'no stray queue', 5000)
  t.equal(target.status().controllers.length, 1, 'only the witness controller is left')
  t.equal((await witness.admin(0x18)).cqe.status, 0x401a, 'witness connection still served (Keep Alive with KATO 0 → 0x1A + DNR)')
  const fresh = await RawHost.connect({ port })
  t.teardown(() => fresh.destroy())
  t.ok((await fresh.connectAdmin({ subnqn: SUBNQN })) > 0, 'new connections still accepted')
})
