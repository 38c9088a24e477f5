/**
 * The read-only workload chains each worker's reads by callback (`NvmeDevice.readWith`): it stops at
 * the count bound, records one latency per successful read, reports progress, and counts failures
 * (a removed device fails every read at once) without growing the stack. `readWith` returns the same
 * bytes as `read`, splits like it above the per-command limit, throws for bad arguments and never
 * calls back from inside the call.
 */
import t, { type Test } from 'tap'
import { targetAndHost } from '../helpers/target-and-host.js'
import { runDeviceWorkload } from '../../initiator/workload.js'
import { InvalidArgumentError } from '../../lib/errors.js'
import { seededRandom, systemClock } from '../../lib/clock.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:workload-read'

const rig = (t: Test) => targetAndHost(t, SUBNQN, { kato: 0 })

const readWith = (dev: { readWith: (s: number, n: number, cb: (e: Error | undefined, d: Buffer | undefined) => void) => void }, slba: number, nlb: number) =>
  new Promise<Buffer>((resolve, reject) => {
    let inside = true
    dev.readWith(slba, nlb, (err, data) => {
      if (inside) reject(new Error('called back from inside readWith'))
      else if (err !== undefined) reject(err)
      else resolve(data!)
    })
    inside = false
  })

t.test('readWith: the bytes of read, split above the per-command limit, arguments checked', async (t) => {
  const { dev } = await rig(t)
  const data = Buffer.alloc(4096)
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff
  await dev.write(100, data)
  t.same(await readWith(dev, 100, 8), data)
  t.same(await readWith(dev, 100, 8), await dev.read(100, 8))
  const big = dev.maxBlocksPerCommand + 8
  t.same(await readWith(dev, 0, big), await dev.read(0, big), 'split like read')
  t.throws(() => dev.readWith(-1, 1, () => undefined), InvalidArgumentError)
  t.throws(() => dev.readWith(0, 0, () => undefined), InvalidArgumentError)
  t.throws(() => dev.readWith(8191, 2, () => undefined), InvalidArgumentError)
})

t.test('read workload: count bound, one latency per read, progress', async (t) => {
  const { dev } = await rig(t)
  let progressCalls = 0
  for (const qd of [1, 4]) {
    const r = await runDeviceWorkload(dev, { mode: 'read', blockCount: 8, qd, count: 300, clock: systemClock, random: seededRandom(3), onProgress: () => progressCalls++, progressMs: 0 })
    t.equal(r.ops, 300, `qd ${qd}: ops`)
    t.equal(r.reads, 300)
    t.equal(r.errors, 0)
    t.equal(r.latency.count, 300, 'one latency per read')
    t.ok(r.latency.p50 > 0)
  }
  t.ok(progressCalls >= 600, 'progress after every I/O with progressMs 0')
  const timed = await runDeviceWorkload(dev, { mode: 'read', blockCount: 1, qd: 2, timeMs: 50, clock: systemClock, random: seededRandom(4) })
  t.ok(timed.ops > 0 && timed.errors === 0, 'time bound')
})

t.test('read workload on a removed device: every read fails, counted, no stack growth', async (t) => {
  const { dev } = await rig(t)
  dev.head.remove()
  const r = await runDeviceWorkload(dev, { mode: 'read', blockCount: 8, qd: 2, count: 20_000, clock: systemClock, random: seededRandom(5) })
  t.equal(r.ops, 20_000)
  t.equal(r.errors, 20_000)
  t.equal(r.reads, 0)
  t.match(r.firstError, /removed/)
  t.equal(r.latency.count, 0)
})
