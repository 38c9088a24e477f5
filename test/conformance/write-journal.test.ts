import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'
import { FileStore, MemoryStore, type NamespaceStore } from '../../target/core/namespace-store.js'
import type { HookCommand, HookContext } from '../../target/index.js'
import { WriteJournal } from '../../conformance/write-journal.js'

const BS = 512
const ctx: HookContext = { portId: 1, connectionId: 1, qid: 1, cntlid: 1 }
const cmd = (opc: number, lba: number, blocks: number): HookCommand => ({ sqe: undefined as never, opc, kind: 'io', nsid: 1, slba: BigInt(lba), nlb: blocks - 1 })
const block = (v: number, n = 1): Buffer => Buffer.alloc(BS * n, v)

async function withStores(fn: (name: string, make: () => Promise<NamespaceStore>) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nvmf-journal-'))
  try {
    await fn('memory', async () => new MemoryStore({ size: 1 << 20 }))
    let n = 0
    await fn('file', async () => FileStore.open({ path: join(dir, `ns${++n}.img`), size: 1 << 20 }))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

t.test('acknowledged writes read back clean; overwrites in order pass', async (t) => {
  await withStores(async (name, make) => {
    const j = new WriteJournal({ clock: new ManualClock() })
    const s = j.wrapStore(await make(), { nsid: 1, blockSize: BS })
    await s.write(0, block(1, 2))
    j.completed(ctx, cmd(IoOpcode.WRITE, 0, 2), 0, true)
    await s.write(BS, block(2))
    j.completed(ctx, cmd(IoOpcode.WRITE, 1, 1), 0, true)
    t.same(await s.read(0, 2 * BS), Buffer.concat([block(1), block(2)]), `${name}: data`)
    t.same(j.violations, [], `${name}: no violation`)
    t.equal(j.stats.acked, 2)
    t.equal(j.attempts.length, 2)
    t.equal(j.attempts[0]!.acked, true)
    t.equal(j.attempts[0]!.portId, 1)
    await s.close()
  })
})

t.test('a write lost below the journal is caught on read', async (t) => {
  await withStores(async (name, make) => {
    const j = new WriteJournal({ clock: new ManualClock() })
    const inner = await make()
    const s = j.wrapStore(inner, { nsid: 1, blockSize: BS })
    await s.write(0, block(7))
    j.completed(ctx, cmd(IoOpcode.WRITE, 0, 1), 0, true)
    // The store loses it (what a broken remap or a wrong store would do): zeroes underneath.
    await inner.writeZeroes(0, BS)
    await s.read(0, BS)
    t.equal(j.violations.length, 1, name)
    t.equal(j.violations[0]!.kind, 'lost-write')
    t.match(j.violations[0]!.detail, /nsid 1 LBA 0 returned zeroes/)
    await s.close()
  })
})

t.test('bytes no write carried are corruption', async (t) => {
  await withStores(async (name, make) => {
    const j = new WriteJournal({ clock: new ManualClock() })
    const inner = await make()
    const s = j.wrapStore(inner, { nsid: 1, blockSize: BS })
    await s.write(0, block(7))
    j.completed(ctx, cmd(IoOpcode.WRITE, 0, 1), 0, true)
    const bad = block(7)
    bad[100] = 0
    await inner.write(0, bad)
    await s.read(0, BS)
    t.equal(j.violations[0]?.kind, 'corrupt-read', name)
    await s.close()
  })
})

t.test('old data coming back after a newer acknowledged write is a reordered/duplicated write', async (t) => {
  await withStores(async (name, make) => {
    const j = new WriteJournal({ clock: new ManualClock() })
    const inner = await make()
    const s = j.wrapStore(inner, { nsid: 1, blockSize: BS })
    await s.write(0, block(1))
    j.completed(ctx, cmd(IoOpcode.WRITE, 0, 1), 0, true)
    await s.write(0, block(2))
    j.completed(ctx, cmd(IoOpcode.WRITE, 0, 1), 0, true)
    await inner.write(0, block(1)) // the old write replayed under the journal
    await s.read(0, BS)
    t.equal(j.violations[0]?.kind, 'stale-read', name)
    t.match(j.violations[0]!.detail, /write #1 .*superseded/)
    await s.close()
  })
})

t.test('overlapping writes in flight together: either outcome is accepted; only acknowledged order counts', async (t) => {
  await withStores(async (name, make) => {
    const j = new WriteJournal({ clock: new ManualClock() })
    const s = j.wrapStore(await make(), { nsid: 1, blockSize: BS })
    // Both start before either completes; acknowledged in the opposite order.
    const a = s.write(0, block(1))
    const b = s.write(0, block(2))
    await Promise.all([a, b])
    j.completed(ctx, cmd(IoOpcode.WRITE, 0, 1), 0, true)
    j.completed(ctx, cmd(IoOpcode.WRITE, 0, 1), 0, true)
    await s.read(0, BS)
    t.same(j.violations, [], `${name}: concurrent writes, any order`)
    // A write started after both completed supersedes both.
    await s.write(0, block(3))
    j.completed(ctx, cmd(IoOpcode.WRITE, 0, 1), 0, true)
    t.same(await s.read(0, BS), block(3))
    t.same(j.violations, [])
    await s.close()
  })
})

t.test('an unacknowledged write stays a possible outcome; a failed one too', async (t) => {
  const j = new WriteJournal({ clock: new ManualClock() })
  const s = j.wrapStore(new MemoryStore({ size: 1 << 20 }), { nsid: 1, blockSize: BS })
  await s.write(0, block(1))
  j.completed(ctx, cmd(IoOpcode.WRITE, 0, 1), 0, true)
  await s.write(0, block(2))
  j.completed(ctx, cmd(IoOpcode.WRITE, 0, 1), 0x302, true) // failed with a path status after landing
  t.same(await s.read(0, BS), block(2))
  t.same(j.violations, [])
  t.equal(j.attempts[1]!.acked, false)
  t.equal(j.attempts[1]!.status, 0x302)
})

t.test('a write completed with success by a hook without reaching the store is a lost write', async (t) => {
  const j = new WriteJournal({ clock: new ManualClock() })
  j.wrapStore(new MemoryStore({ size: 1 << 20 }), { nsid: 1, blockSize: BS })
  j.completed(ctx, cmd(IoOpcode.WRITE, 8, 1), 0, true)
  t.equal(j.violations[0]?.kind, 'ack-without-store')
  t.match(j.violations[0]!.detail, /LBA 8 .*without reaching the store/)
  // Reads are not writes; a failed write that never landed is fine.
  j.completed(ctx, cmd(IoOpcode.READ, 8, 1), 0, true)
  j.completed(ctx, cmd(IoOpcode.WRITE, 9, 1), 0x4002, true)
  t.equal(j.violations.length, 1)
})

t.test('write zeroes and deallocate are journaled as zeroes', async (t) => {
  const j = new WriteJournal({ clock: new ManualClock() })
  const s = j.wrapStore(new MemoryStore({ size: 1 << 20 }), { nsid: 1, blockSize: BS })
  await s.write(0, block(5, 2))
  j.completed(ctx, cmd(IoOpcode.WRITE, 0, 2), 0, true)
  await s.writeZeroes(0, BS)
  j.completed(ctx, cmd(IoOpcode.WRITE_ZEROES, 0, 1), 0, true)
  await s.deallocate(BS, BS)
  t.same(await s.read(0, 2 * BS), Buffer.alloc(2 * BS))
  t.same(j.violations, [])
})
