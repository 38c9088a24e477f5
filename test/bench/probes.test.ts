/**
 * The bench's initiator-side probes, in one process against a real target on 127.0.0.1: the remap
 * probe (bench/remap-probe.ts) keeps doing I/O on namespaces whose identity changes under it and
 * fails nothing but by that identity going away; the scale burst (bench/scale-burst.ts) reads every
 * device and accounts for what it did. Shapes and failure counts only, never a speed.
 */
import t, { type Test } from 'tap'
import { createTarget } from '../../target/index.js'
import { NvmeHost } from '../../initiator/index.js'
import { seededRandom } from '../../lib/clock.js'
import { randomUuid } from '../../lib/nvme/uuid.js'
import { runRemapProbe } from '../../bench/remap-probe.js'
import { runScaleBurst } from '../../bench/scale-burst.js'

const NQN = 'nqn.2014-08.org.nvmf-fault:bench-probes'

async function setup(t: Test) {
  const target = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: NQN, allowAnyHost: true, namespaces: [1, 2, 3].map((nsid) => ({ nsid, size: '1MiB' })) }],
  })
  const host = new NvmeHost({ qos: { writeThrottle: false, latency: false } })
  t.teardown(async () => {
    await host.close()
    await target.close()
  })
  await host.connect({ traddr: '127.0.0.1', trsvcid: target.ports[0]!.port, subnqn: NQN, nrIoQueues: 1, kato: 0 })
  for (const nsid of [1, 2, 3]) await host.waitForDevice(nsid, { subnqn: NQN, timeoutMs: 30_000 })
  return { target, host }
}

t.test('remap probe: I/O follows the namespace across remaps; no failure but identity loss', async (t) => {
  const { target, host } = await setup(t)
  const probe = runRemapProbe(host, NQN, { nsids: [2, 3], qd: 2, blockCount: 8, timeMs: 60_000, maxOps: 600, seed: 1 })
  const random = seededRandom(5)
  // Remaps spread over the probe's I/O (bounded in count), one event-loop turn apart.
  let remaps = 0
  for (let i = 0; i < 40; i++) {
    const nsid = 2 + (i % 2)
    target.disableNamespace(NQN, nsid)
    target.setNamespaceUuid(NQN, nsid, randomUuid(random))
    target.enableNamespace(NQN, nsid)
    remaps++
    await new Promise((r) => setTimeout(r, 5))
  }
  const r = await probe
  t.equal(remaps, 40)
  t.equal(r.ops, r.completed + r.namespaceGone + r.otherErrors, 'every I/O is counted once')
  t.equal(r.otherErrors, 0, `no I/O failed otherwise (${r.firstOtherError ?? ''})`)
  t.ok(r.completed > 0, 'I/O completed')
  t.ok(r.devicesUsed >= 2, `${r.devicesUsed} identities served I/O`)
})

t.test('scale burst: reads on every device, counted in the window', async (t) => {
  const { host } = await setup(t)
  const r = await runScaleBurst(host, NQN, { nsids: [1, 2, 3], qd: 4, blockCount: 8, warmMs: 0, maxWarmMs: 60_000, timeMs: 300, seed: 2 })
  t.equal(r.errors, 0)
  t.ok(r.devicesServed <= 3)
  t.ok(r.measuredMs > 0 && r.firstWaveMs >= 0)
  t.equal(r.latency.count, r.ops, 'one latency sample per read counted')
  await t.rejects(runScaleBurst(host, NQN, { nsids: [9], qd: 1, blockCount: 8, warmMs: 0, maxWarmMs: 1000, timeMs: 10, seed: 2 }), /no device for namespace 9/)
})
