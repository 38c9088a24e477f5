import t from 'tap'
import fc from 'fast-check'
import { NamespaceMap, type NamespaceEntry, type NamespaceRef, type NamespaceChange } from '../../lib/namespace-map.js'
import { InvalidArgumentError, InvalidStateError } from '../../lib/errors.js'
import { CHANGED_NS_OVERFLOW } from '../../lib/nvme/log-changed-ns.js'

interface Store {
  name: string
}
const store = (name: string): Store => ({ name })
const id16 = (k: number): Buffer => Buffer.alloc(16, k)

t.test('add / acquire / immutable entries / generation', async (t) => {
  const changes: NamespaceChange<Store>[] = []
  const m = new NamespaceMap<Store>({ onChange: (c) => changes.push(c) })
  t.equal(m.generation, 0)
  const c = m.add({ nsid: 1, store: store('a'), blocks: 100n, blockSize: 512, nguid: id16(1), uuid: '00112233-4455-6677-8899-aabbccddeeff', anagrpid: 2 })
  t.equal(c.generation, 1)
  t.equal(m.generation, 1)
  t.ok(c.nsChanged)
  const ref = m.acquire(1)
  t.ok(ref)
  const e = ref?.entry as NamespaceEntry<Store>
  t.ok(Object.isFrozen(e))
  t.equal(e.store.name, 'a')
  t.equal(e.generation, 1)
  t.same(e.uuid, Buffer.from('00112233445566778899aabbccddeeff', 'hex'))
  t.equal(m.refCount(e), 1)
  m.resize(1, 200n)
  t.equal(m.get(1)?.blocks, 200n)
  t.equal(e.blocks, 100n, 'held reference unchanged by resize')
  t.equal(m.get(1)?.generation, 2)
  t.equal(m.instanceRefCount(m.get(1) as NamespaceEntry<Store>), 1, 'new version shares the lifetime ref count')
  t.equal(m.refCount(m.get(1) as NamespaceEntry<Store>), 0)
  ref?.release()
  ref?.release()
  t.equal(m.refCount(e), 0, 'release is idempotent')
  t.same(changes.map((x) => x.kind), ['add', 'resize'])
  t.throws(() => m.add({ nsid: 1, store: store('b'), blocks: 1n, blockSize: 512 }), InvalidArgumentError)
  t.throws(() => m.add({ nsid: 0, store: store('b'), blocks: 1n, blockSize: 512 }), { name: 'InvalidArgumentError', field: 'nsid' })
  t.throws(() => m.add({ nsid: 0xffffffff, store: store('b'), blocks: 1n, blockSize: 512 }), InvalidArgumentError)
  t.throws(() => m.add({ nsid: 2, store: store('b'), blocks: 1n, blockSize: 1000 }), { name: 'InvalidArgumentError', field: 'blockSize' })
  t.throws(() => m.add({ nsid: 2, store: store('b'), blocks: 0n, blockSize: 512 }), { name: 'InvalidArgumentError', field: 'blocks' })
  t.throws(() => m.add({ nsid: 2, store: store('b'), blocks: 1n, blockSize: 512, anagrpid: 0 }), { name: 'InvalidArgumentError', field: 'anagrpid' })
  t.throws(() => m.add({ nsid: 2, store: store('b'), blocks: 1n, blockSize: 512, nguid: id16(1) }), { name: 'InvalidArgumentError', field: 'nguid' }, 'NGUID must be unique')
  t.throws(() => m.add({ nsid: 2, store: store('b'), blocks: 1n, blockSize: 512, nguid: Buffer.alloc(3) }), { name: 'InvalidArgumentError', field: 'nguid' })
  t.equal(m.generation, 2, 'failed operations publish nothing')
})

t.test('disabled namespaces, setUuid/setNguid only while disabled, ANA group', async (t) => {
  const m = new NamespaceMap<Store>()
  m.add({ nsid: 5, store: store('x'), blocks: 8n, blockSize: 4096, enabled: false })
  t.equal(m.acquire(5), undefined, 'disabled: not acquirable for I/O')
  t.ok(m.acquire(5, { includeDisabled: true }))
  m.setUuid(5, id16(9))
  m.setNguid(5, id16(8))
  m.setEui64(5, Buffer.alloc(8, 7))
  t.same(m.get(5)?.uuid, id16(9))
  m.enable(5)
  t.equal(m.enable(5), undefined, 'enable of an enabled namespace is a no-op')
  t.same(m.activeNsids(), [5])
  t.throws(() => m.setUuid(5, id16(1)), InvalidStateError)
  t.throws(() => m.setNguid(5, id16(1)), InvalidStateError)
  t.throws(() => m.setUuid(6, id16(1)), InvalidArgumentError)
  const g = m.setAnaGroup(5, 3)
  t.equal(g?.nsChanged, false, 'ANA group moves are reported by the ANA change event')
  t.same([...m.nsidsByAnaGroup()], [[3, [5]]])
  t.throws(() => m.setAnaGroup(5, 0), InvalidArgumentError)
  m.disable(5)
  t.same(m.activeNsids(), [])
})

t.test('remove waits for in-flight references (whenReleased)', async (t) => {
  const m = new NamespaceMap<Store>()
  m.add({ nsid: 1, store: store('a'), blocks: 8n, blockSize: 512 })
  const r1 = m.acquire(1) as NamespaceRef<Store>
  m.resize(1, 16n)
  const r2 = m.acquire(1) as NamespaceRef<Store>
  const c = m.remove(1)
  t.equal(m.acquire(1), undefined, 'no new references after remove')
  t.equal(m.get(1), undefined)
  let done = false
  const p = m.whenReleased(c.before as NamespaceEntry<Store>).then(() => {
    done = true
  })
  await Promise.resolve()
  t.notOk(done)
  r2.release()
  await Promise.resolve()
  t.notOk(done, 'an older version is still held')
  t.equal(r1.entry.blocks, 8n)
  r1.release()
  await p
  t.ok(done)
  await m.whenReleased(c.before as NamespaceEntry<Store>)
  // the same NSID can come back as a new lifetime
  m.add({ nsid: 1, store: store('b'), blocks: 8n, blockSize: 512 })
  t.not(m.get(1)?.instance, c.before?.instance)
})

t.test('changed namespace lists per controller with the 1024 overflow rule', async (t) => {
  const m = new NamespaceMap<Store>()
  m.subscribe(1)
  m.add({ nsid: 3, store: store('a'), blocks: 8n, blockSize: 512 })
  m.subscribe(2)
  m.add({ nsid: 1, store: store('b'), blocks: 8n, blockSize: 512 })
  m.resize(3, 9n)
  m.add({ nsid: 2, store: store('c'), blocks: 8n, blockSize: 512, enabled: false })
  t.same(m.peekChangedList(1), [1, 3])
  t.same(m.takeChangedList(1), [1, 3])
  t.same(m.takeChangedList(1), [], 'cleared by take')
  t.same(m.takeChangedList(2), [1, 3], 'subscribed later: sees only later changes')
  m.enable(2)
  t.same(m.takeChangedList(1), [2])
  t.throws(() => m.takeChangedList(9), InvalidArgumentError)
  for (let n = 10; n < 10 + 1024; n++) m.add({ nsid: n, store: store('n'), blocks: 1n, blockSize: 512 })
  t.equal(m.pendingChanges(1), 1024)
  t.equal(m.takeChangedList(1).length, 1024, 'exactly 1024 is not an overflow')
  for (let n = 2000; n < 2000 + 1025; n++) m.add({ nsid: n, store: store('n'), blocks: 1n, blockSize: 512 })
  t.same(m.takeChangedList(1), [CHANGED_NS_OVERFLOW])
  t.same(m.takeChangedList(1), [])
  m.unsubscribe(2)
  t.notOk(m.isSubscribed(2))
})

// ---- model-based property test -------------------------------------------------------------

type Op =
  | { op: 'add'; nsid: number; enabled: boolean; id: number; grp: number }
  | { op: 'remove' | 'enable' | 'disable'; nsid: number }
  | { op: 'setUuid' | 'setNguid'; nsid: number; id: number }
  | { op: 'setAnaGroup'; nsid: number; grp: number }
  | { op: 'resize'; nsid: number; blocks: number }
  | { op: 'acquire'; nsid: number }
  | { op: 'release'; index: number }
  | { op: 'take'; ctrl: number }
  | { op: 'subscribe'; ctrl: number }

const nsidArb = fc.integer({ min: 1, max: 6 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), nsid: nsidArb, enabled: fc.boolean(), id: fc.integer({ min: 0, max: 8 }), grp: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ op: fc.constantFrom('remove' as const, 'enable' as const, 'disable' as const), nsid: nsidArb }),
  fc.record({ op: fc.constantFrom('setUuid' as const, 'setNguid' as const), nsid: nsidArb, id: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ op: fc.constant('setAnaGroup' as const), nsid: nsidArb, grp: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ op: fc.constant('resize' as const), nsid: nsidArb, blocks: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ op: fc.constant('acquire' as const), nsid: nsidArb }),
  fc.record({ op: fc.constant('release' as const), index: fc.nat(20) }),
  fc.record({ op: fc.constant('take' as const), ctrl: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ op: fc.constant('subscribe' as const), ctrl: fc.integer({ min: 1, max: 2 }) }),
)

interface ModelNs {
  enabled: boolean
  uuid: number
  nguid: number
  grp: number
  blocks: number
}

function snapshotOf(e: NamespaceEntry<Store>): string {
  return JSON.stringify({ ...e, blocks: e.blocks.toString(), uuid: e.uuid.toString('hex'), nguid: e.nguid.toString('hex'), eui64: e.eui64.toString('hex') })
}

t.test('property: random operation sequences keep the invariants', async (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
      const m = new NamespaceMap<Store>()
      const model = new Map<number, ModelNs>()
      const changed = new Map<number, Set<number>>()
      const held: Array<{ ref: NamespaceRef<Store>; frozen: string; live: boolean }> = []
      let lastGen = m.generation
      const record = (nsid: number): void => {
        for (const s of changed.values()) s.add(nsid)
      }
      const idTaken = (field: 'uuid' | 'nguid', nsid: number, id: number): boolean =>
        id !== 0 && [...model].some(([n, v]) => n !== nsid && v[field] === id)
      for (const o of ops) {
        const before = m.generation
        let published = false
        const cur = 'nsid' in o ? model.get(o.nsid) : undefined
        switch (o.op) {
          case 'add': {
            const expectFail = cur !== undefined || o.grp === 0 || idTaken('uuid', o.nsid, o.id) || idTaken('nguid', o.nsid, o.id)
            try {
              m.add({ nsid: o.nsid, store: store(`s${o.nsid}`), blocks: 10n, blockSize: 512, enabled: o.enabled, uuid: id16(o.id), nguid: id16(o.id), anagrpid: o.grp })
              if (expectFail) return false
              model.set(o.nsid, { enabled: o.enabled, uuid: o.id, nguid: o.id, grp: o.grp, blocks: 10 })
              if (o.enabled) record(o.nsid)
              published = true
            } catch (e) {
              if (!expectFail || !(e instanceof InvalidArgumentError)) throw e
            }
            break
          }
          case 'remove':
            if (cur === undefined) {
              if (!threw(() => m.remove(o.nsid), InvalidArgumentError)) return false
            } else {
              m.remove(o.nsid)
              model.delete(o.nsid)
              if (cur.enabled) record(o.nsid)
              published = true
            }
            break
          case 'enable':
          case 'disable': {
            const want = o.op === 'enable'
            if (cur === undefined) {
              if (!threw(() => m[o.op](o.nsid), InvalidArgumentError)) return false
            } else {
              const c = m[o.op](o.nsid)
              if ((c !== undefined) !== (cur.enabled !== want)) return false
              if (c !== undefined) {
                cur.enabled = want
                record(o.nsid)
                published = true
              }
            }
            break
          }
          case 'setUuid':
          case 'setNguid': {
            const field = o.op === 'setUuid' ? 'uuid' : 'nguid'
            if (cur === undefined) {
              if (!threw(() => m[o.op](o.nsid, id16(o.id)), InvalidArgumentError)) return false
            } else if (cur.enabled) {
              if (!threw(() => m[o.op](o.nsid, id16(o.id)), InvalidStateError)) return false
            } else if (idTaken(field, o.nsid, o.id)) {
              if (!threw(() => m[o.op](o.nsid, id16(o.id)), InvalidArgumentError)) return false
            } else {
              m[o.op](o.nsid, id16(o.id))
              cur[field] = o.id
              published = true
            }
            break
          }
          case 'setAnaGroup':
            if (cur === undefined || o.grp === 0) {
              if (!threw(() => m.setAnaGroup(o.nsid, o.grp), InvalidArgumentError)) return false
            } else {
              const c = m.setAnaGroup(o.nsid, o.grp)
              published = c !== undefined
              if (published !== (cur.grp !== o.grp)) return false
              cur.grp = o.grp
            }
            break
          case 'resize':
            if (cur === undefined || o.blocks === 0) {
              if (!threw(() => m.resize(o.nsid, BigInt(o.blocks)), InvalidArgumentError)) return false
            } else {
              const c = m.resize(o.nsid, BigInt(o.blocks))
              published = c !== undefined
              if (published !== (cur.blocks !== o.blocks)) return false
              if (published && cur.enabled) record(o.nsid)
              cur.blocks = o.blocks
            }
            break
          case 'acquire': {
            const r = m.acquire(o.nsid)
            if ((r !== undefined) !== (cur?.enabled === true)) return false
            if (r !== undefined) {
              if (!Object.isFrozen(r.entry) || r.entry.generation > m.generation) return false
              held.push({ ref: r, frozen: snapshotOf(r.entry), live: true })
            }
            break
          }
          case 'release': {
            const h = held[o.index % Math.max(1, held.length)]
            if (h !== undefined) {
              h.ref.release()
              h.live = false
            }
            break
          }
          case 'subscribe':
            m.subscribe(o.ctrl)
            if (!changed.has(o.ctrl)) changed.set(o.ctrl, new Set())
            break
          case 'take': {
            const s = changed.get(o.ctrl)
            if (s === undefined) {
              if (!threw(() => m.takeChangedList(o.ctrl), InvalidArgumentError)) return false
            } else {
              const want = s.size > 1024 ? [CHANGED_NS_OVERFLOW] : [...s].sort((a, b) => a - b)
              if (m.takeChangedList(o.ctrl).join() !== want.join()) return false
              s.clear()
            }
            break
          }
        }
        // generation strictly increases on every published change and only then
        if (published ? m.generation <= before : m.generation !== before) return false
        if (m.generation < lastGen) return false
        lastGen = m.generation
        // the map matches the model
        if (m.size !== model.size) return false
        for (const [nsid, v] of model) {
          const e = m.get(nsid)
          if (e === undefined || e.enabled !== v.enabled || e.anagrpid !== v.grp || e.blocks !== BigInt(v.blocks) || !e.uuid.equals(id16(v.uuid)) || !e.nguid.equals(id16(v.nguid))) return false
        }
        // a held reference never changes under its holder; ref counts match
        for (const h of held) if (snapshotOf(h.ref.entry) !== h.frozen) return false
        const counts = new Map<NamespaceEntry<Store>, number>()
        for (const h of held) if (h.live) counts.set(h.ref.entry, (counts.get(h.ref.entry) ?? 0) + 1)
        for (const [e, n] of counts) if (m.refCount(e) !== n) return false
      }
      return true
    }),
    { numRuns: 400 },
  )
  t.pass('invariants held')
})

function threw(fn: () => unknown, cls: new (...a: never[]) => Error): boolean {
  try {
    fn()
    return false
  } catch (e) {
    return e instanceof cls
  }
}

t.test("recordChanges: 'every-change' records and flags every published change", async (t) => {
  const kinds: Array<[string, boolean]> = []
  const m = new NamespaceMap<Store>({ recordChanges: 'every-change', onChange: (c) => kinds.push([c.kind, c.nsChanged]) })
  t.equal(m.recordChanges, 'every-change')
  m.subscribe(1)
  m.add({ nsid: 4, store: store('a'), blocks: 8n, blockSize: 512, enabled: false })
  t.same(m.takeChangedList(1), [4], 'adding a disabled namespace is recorded')
  m.setUuid(4, id16(3))
  m.setNguid(4, id16(4))
  m.setEui64(4, Buffer.alloc(8, 5))
  t.same(m.takeChangedList(1), [4], 'identity changes are recorded')
  m.add({ nsid: 6, store: store('b'), blocks: 8n, blockSize: 512 })
  m.takeChangedList(1)
  m.setAnaGroup(6, 2)
  t.same(m.takeChangedList(1), [6], 'an ANA group move is recorded')
  m.resize(4, 9n)
  m.remove(4)
  t.same(m.takeChangedList(1), [4], 'resize and remove of a disabled namespace are recorded')
  t.equal(m.resize(6, 8n), undefined, 'a no-op publishes nothing')
  t.same(m.takeChangedList(1), [], 'and records nothing')
  t.ok(kinds.every(([, ns]) => ns), 'every change flagged nsChanged')
  t.same(
    kinds.map(([k]) => k),
    ['add', 'set-uuid', 'set-nguid', 'set-eui64', 'add', 'set-ana-group', 'resize', 'remove'],
  )
  const d = new NamespaceMap<Store>()
  t.equal(d.recordChanges, 'host-visible', 'default is what nvmet announces')
  t.throws(() => new NamespaceMap<Store>({ recordChanges: 'all' as never }), { name: 'InvalidArgumentError', field: 'recordChanges' })
})

t.test('uniqueIds: false serves duplicate identifiers on purpose', async (t) => {
  const m = new NamespaceMap<Store>({ uniqueIds: false })
  t.equal(m.uniqueIds, false)
  m.add({ nsid: 1, store: store('a'), blocks: 8n, blockSize: 512, nguid: id16(1), uuid: id16(2) })
  m.add({ nsid: 2, store: store('b'), blocks: 8n, blockSize: 512, nguid: id16(1), uuid: id16(2), enabled: false })
  m.setUuid(2, id16(2))
  t.same(m.get(2)?.nguid, m.get(1)?.nguid, 'duplicate NGUID accepted')
  t.same(m.get(2)?.uuid, m.get(1)?.uuid, 'duplicate UUID accepted')
  t.throws(() => m.setUuid(1, id16(9)), InvalidStateError, 'the disabled-only rule still holds')
  const strict = new NamespaceMap<Store>()
  t.equal(strict.uniqueIds, true, 'unique by default')
  strict.add({ nsid: 1, store: store('a'), blocks: 8n, blockSize: 512, uuid: id16(2) })
  strict.add({ nsid: 2, store: store('b'), blocks: 8n, blockSize: 512, enabled: false })
  t.throws(() => strict.setUuid(2, id16(2)), { name: 'InvalidArgumentError', field: 'uuid' })
  t.throws(() => new NamespaceMap<Store>({ uniqueIds: 1 as never }), { name: 'InvalidArgumentError', field: 'uniqueIds' })
})

t.test('noteChanged records an NSID without a map change, for all or one controller', async (t) => {
  const changes: NamespaceChange<Store>[] = []
  const m = new NamespaceMap<Store>({ onChange: (c) => changes.push(c) })
  m.subscribe(1)
  m.subscribe(2)
  m.noteChanged(7)
  t.same(m.peekChangedList(1), [7], 'an NSID the map does not hold is accepted')
  t.same(m.peekChangedList(2), [7])
  m.noteChanged(3, 2)
  t.same(m.takeChangedList(1), [7], 'only the named controller')
  t.same(m.takeChangedList(2), [3, 7])
  m.noteChanged(0xffffffff, 1)
  t.same(m.takeChangedList(1), [CHANGED_NS_OVERFLOW], 'any NSID a list entry can hold')
  t.equal(m.generation, 0, 'nothing published')
  t.equal(changes.length, 0, 'no change callback')
  for (const bad of [0, -1, 1.5, 2 ** 32, Number.NaN]) t.throws(() => m.noteChanged(bad), { name: 'InvalidArgumentError', field: 'nsid' }, `NSID ${bad}`)
  t.throws(() => m.noteChanged(1, 9), { name: 'InvalidArgumentError', field: 'ctrlId' }, 'unsubscribed controller')
  for (let n = 1; n <= 1024; n++) m.noteChanged(n, 2)
  t.equal(m.pendingChanges(2), 1024)
  m.noteChanged(1025, 2)
  t.same(m.takeChangedList(2), [CHANGED_NS_OVERFLOW], 'the overflow rule applies to noted NSIDs too')
  t.same(m.takeChangedList(1), [], 'the other controller was not touched')
})
