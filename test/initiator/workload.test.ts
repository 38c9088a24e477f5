/**
 * The `nvmf-fault io` workload against our target over loopback TCP, in each mode: the counts add
 * up, no I/O fails, and the modes that read back find what they wrote (verify: every write read back
 * by the worker that wrote it; randrw: reads checked against the journal). The write data comes from
 * shared slabs, so a piece handed out twice would show as a verify failure. A write-only run keeps no
 * journal and no LBA exclusion; its data still reaches the store.
 */
import t, { type Test } from 'tap'
import { targetAndHost } from '../helpers/target-and-host.js'
import { runDeviceWorkload, type WorkloadMode } from '../../initiator/workload.js'
import { seededRandom, systemClock } from '../../lib/clock.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:workload'

const rig = (t: Test) => targetAndHost(t, SUBNQN)

const run = (dev: Parameters<typeof runDeviceWorkload>[0], mode: WorkloadMode, o: { qd: number; count: number; spanBlocks: number; seed: string }) =>
  runDeviceWorkload(dev, { mode, blockCount: 8, qd: o.qd, count: o.count, spanBlocks: o.spanBlocks, clock: systemClock, random: seededRandom(o.seed) })

t.test('verify and randrw: what was written is read back, with LBAs shared by the workers', async (t) => {
  const { dev } = await rig(t)
  // 16 slots of 8 blocks for 8 workers: LBAs collide constantly, so the exclusion is exercised.
  const v = await run(dev, 'verify', { qd: 8, count: 600, spanBlocks: 128, seed: 'verify' })
  t.equal(v.errors, 0, `no errors (${v.firstError ?? ''})`)
  t.equal(v.verifyFailures, 0, 'every write read back intact')
  t.equal(v.writes, 600)
  t.equal(v.reads, 600)
  const rw = await run(dev, 'randrw', { qd: 8, count: 800, spanBlocks: 128, seed: 'randrw' })
  t.equal(rw.errors, 0, `no errors (${rw.firstError ?? ''})`)
  t.equal(rw.verifyFailures, 0, 'reads match the journal')
  t.equal(rw.reads + rw.writes, 800)
  t.ok(rw.reads > 0 && rw.writes > 0, 'both kinds ran')
})

t.test('write-only: concurrent writers, every write acknowledged and in the store', async (t) => {
  const { target, dev } = await rig(t)
  const w = await run(dev, 'write', { qd: 16, count: 1000, spanBlocks: 256, seed: 'write' })
  t.equal(w.errors, 0, `no errors (${w.firstError ?? ''})`)
  t.equal(w.writes, 1000)
  t.equal(w.reads, 0)
  // Each 8-byte unit starts with the LBA of its 512-byte block: the data went where it was sent.
  const stored = await target.readNamespace(SUBNQN, 1, 0, 256 * 512)
  let written = 0
  for (let lba = 0; lba < 256; lba++) {
    const word = stored.readUInt32LE(lba * 512)
    if (word === 0 && stored.readUInt32LE(lba * 512 + 4) === 0) continue // never written
    t.equal(word, lba, `block ${lba} carries its own LBA`)
    written++
  }
  t.ok(written > 128, `most of the span was written (${written} of 256 blocks)`)
})
