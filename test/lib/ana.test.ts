import t from 'tap'
import fc from 'fast-check'
import { AnaModel, AnaState, anaStateToStatus, anaStateIsLive, type AnaChangeEvent } from '../../lib/ana.js'
import { decodeAnaLog } from '../../lib/nvme/log-ana.js'
import { NvmeStatus } from '../../lib/status.js'
import { InvalidArgumentError } from '../../lib/errors.js'

t.test('state → I/O status', async (t) => {
  t.equal(anaStateToStatus(AnaState.INACCESSIBLE), 0x302)
  t.equal(anaStateToStatus(AnaState.PERSISTENT_LOSS), 0x301)
  t.equal(anaStateToStatus(AnaState.CHANGE), 0x303)
  t.equal(anaStateToStatus(AnaState.OPTIMIZED), undefined)
  t.equal(anaStateToStatus(AnaState.NON_OPTIMIZED), undefined)
  t.equal(NvmeStatus.ANA_TRANSITION, 0x303)
  t.ok(anaStateIsLive(AnaState.NON_OPTIMIZED))
  t.notOk(anaStateIsLive(AnaState.CHANGE))
  t.same(AnaState, { OPTIMIZED: 1, NON_OPTIMIZED: 2, INACCESSIBLE: 3, PERSISTENT_LOSS: 4, CHANGE: 0xf })
})

t.test('groups are 1-based; states per port x group; counters; validation', async (t) => {
  const events: AnaChangeEvent[] = []
  const m = new AnaModel({ groups: [1, 2], ports: [1, 2], onChange: (e) => events.push(e) })
  t.same(m.groups(), [1, 2])
  t.same(m.ports(), [1, 2])
  t.throws(() => m.addGroup(0), { name: 'InvalidArgumentError', field: 'grpid' })
  t.throws(() => new AnaModel({ groups: [0] }), InvalidArgumentError)
  t.throws(() => m.addGroup(129), InvalidArgumentError)
  t.throws(() => m.addGroup(1), InvalidArgumentError)
  t.throws(() => m.getState(1, 3), InvalidArgumentError)
  t.throws(() => m.setState(1, 1, 5), { name: 'InvalidArgumentError', field: 'state' })
  t.throws(() => m.setState(1, 0, 1), InvalidArgumentError)
  t.equal(m.getState(1, 1), AnaState.OPTIMIZED)
  const c0 = m.changeCount
  t.ok(m.setState(1, 2, AnaState.INACCESSIBLE))
  t.notOk(m.setState(1, 2, AnaState.INACCESSIBLE), 'no-op set is not a change')
  t.equal(m.getState(1, 2), AnaState.INACCESSIBLE)
  t.equal(m.getState(2, 2), AnaState.OPTIMIZED, 'other port unaffected')
  t.equal(m.changeCount, c0 + 1n)
  t.equal(m.groupChangeCount(2), 1n)
  t.equal(m.groupChangeCount(1), 0n)
  t.same(events, [{ portId: 1, grpid: 2, from: 1, to: 3, changeCount: c0 + 1n }])
  m.bumpChangeCount(1)
  t.equal(m.changeCount, c0 + 2n)
  t.equal(m.groupChangeCount(1), 1n)
  m.setState(3, 1, AnaState.NON_OPTIMIZED)
  t.ok(m.hasPort(3), 'port added on first set')
  m.removeGroup(2)
  t.notOk(m.hasGroup(2))
})

t.test('ANA log build: header, descriptors ascending, NSIDs ascending, RGO', async (t) => {
  const m = new AnaModel({ groups: [3, 1, 2] })
  m.setState(1, 2, AnaState.NON_OPTIMIZED)
  m.setState(1, 3, AnaState.CHANGE)
  m.setState(2, 1, AnaState.INACCESSIBLE)
  const byGroup = new Map([[2, [9, 4, 4]], [1, [7, 1]]])
  const b = m.buildLog(1, byGroup)
  const log = decodeAnaLog(b, { anagrpmax: 128 })
  t.equal(log.chgcnt, m.changeCount)
  t.same(log.groups.map((g) => [g.grpid, g.state, g.nsids]), [[1, 1, [1, 7]], [2, 2, [4, 9]], [3, 15, []]])
  t.equal(b.readUInt16LE(8), 3, 'NGRPS')
  t.equal(b.length, 16 + 3 * 32 + 4 * 4)
  const port2 = decodeAnaLog(m.buildLog(2, { 1: [1] }))
  t.same(port2.groups.map((g) => g.state), [3, 1, 1])
  const rgo = m.buildLog(1, byGroup, { rgo: true })
  t.equal(rgo.length, 16 + 3 * 32)
  t.same(decodeAnaLog(rgo).groups.map((g) => g.nsids.length), [0, 0, 0])
  t.throws(() => m.buildLog(1, new Map([[9, [1]]])), { name: 'InvalidArgumentError', field: 'nsidsByGroup' })
  t.throws(() => m.buildLog(1, new Map([[1, [0]]])), InvalidArgumentError)
})

t.test('property: the built log always passes the Linux-host validation and matches the model', async (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: 128 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 9 }), fc.constantFrom(1, 2, 3, 4, 15)), { maxLength: 30 }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 0, max: 9 })), { maxLength: 40 }),
      fc.boolean(),
      (groups, sets, nss, rgo) => {
        const m = new AnaModel({ groups })
        let changes = 0n
        for (const [port, gi, st] of sets) {
          const g = groups[gi % groups.length] ?? 1
          if (m.setState(port, g, st)) changes++
        }
        const byGroup = new Map<number, number[]>()
        for (const [nsid, gi] of nss) {
          const g = groups[gi % groups.length] ?? 1
          byGroup.set(g, [...(byGroup.get(g) ?? []), nsid])
        }
        const log = decodeAnaLog(m.buildLog(0, byGroup, { rgo }), { anagrpmax: 128 })
        const sorted = [...groups].sort((a, b) => a - b)
        if (log.chgcnt !== BigInt(groups.length) + changes) return false
        return log.groups.every((g, i) => g.grpid === sorted[i] && g.state === m.getState(0, g.grpid) &&
          (rgo ? g.nsids.length === 0 : g.nsids.join() === [...new Set(byGroup.get(g.grpid) ?? [])].sort((a, b) => a - b).join()))
      },
    ),
    { numRuns: 300 },
  )
  t.pass('property held')
})
