// Our initiator against the Linux kernel nvmet-tcp target booted in QEMU (startKernelTarget): discover,
// connect both ports of the two-port subsystem, verified I/O, and ANA states flipped through configfs
// during I/O; the initiator follows (new I/O goes to the optimized path) and no I/O fails. Skipped
// with a message when QEMU or the VM image is unavailable.
import t from 'tap'
import { NvmeHost } from '../../initiator/host.js'
import type { HostController } from '../../initiator/controller.js'
import { pattern, runWorkload } from '../initiator/helpers/workload.js'
import { startKernelTarget } from './fixtures/kernel-target.js'
import { interopAvailability } from './fixtures/vm-image.js'
import { consoleTail, describeRun } from './fixtures/vm.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end && !cond()) await sleep(10)
  return cond()
}

const avail = await interopAvailability()
t.test('initiator vs kernel nvmet-tcp: discover, two paths, verified I/O across configfs ANA flips', { skip: avail.ok ? false : `interop suite skipped: ${avail.reason}` }, async (t) => {
  const kt = await startKernelTarget({ nsMiB: 64, backend: 'file', timeoutSec: 600, log: (l) => t.comment(l) })
  t.teardown(() => kt.vm.kill())
  const host = new NvmeHost({ checkInvariants: true, controllerDefaults: { reconnectDelayMs: 1000, ioTimeoutMs: 10_000 } })
  t.teardown(() => host.close())

  // nvmet's discovery log lists the subsystems of the port the discovery controller came in on, so
  // ask each port and merge.
  const entries = []
  for (const p of kt.ports) entries.push(...(await host.discover({ traddr: p.host, trsvcid: p.port })))
  const seen = new Set<string>()
  const subsys = entries.filter((e) => {
    const k = `${e.traddr}:${e.trsvcid}`
    if (e.subtype !== 2 || e.subnqn !== kt.subnqn || seen.has(k)) return false
    seen.add(k)
    return true
  })
  t.equal(subsys.length, 2, `discovery lists both ports of ${kt.subnqn}`)
  for (const e of subsys) t.comment(`discovered ${e.traddr}:${e.trsvcid} portid ${e.portid}`)

  // The guest reports its own addresses; the fixture maps them to the forwarded ports here.
  const ctrls: { portid: number; ctrl: HostController }[] = []
  for (const e of subsys) {
    const where = kt.addressMap.get(`${e.traddr}:${e.trsvcid}`)
    t.ok(where !== undefined, `forwarded port for ${e.traddr}:${e.trsvcid}`)
    if (where === undefined) continue
    ctrls.push({ portid: e.portid, ctrl: await host.connect({ traddr: where.host, trsvcid: where.port, subnqn: e.subnqn, distance: e.portid === 1 ? 0 : 1 }) })
  }
  const dev = await host.waitForDevice(1, { subnqn: kt.subnqn, timeoutMs: 10_000 })
  t.equal(dev.head.paths.length, 2, 'one device with two paths')
  const pathOfPort = (portid: number) => dev.head.paths.find((p) => p.backend === ctrls.find((c) => c.portid === portid)?.ctrl)!
  const p1 = pathOfPort(1)
  const p2 = pathOfPort(2)
  t.equal(p1.state, 'live', 'port 1 path optimized')
  t.equal(p2.state, 'live', 'port 2 path optimized')

  const observed: string[] = []
  const fault = (async () => {
    await sleep(300)
    await kt.setAnaState(1, 1, 'inaccessible')
    t.ok(await waitFor(() => p1.state === 'inaccessible', 10_000), 'host saw port 1 inaccessible (ANA AEN)')
    let s1 = p1.counters.issued
    let s2 = p2.counters.issued
    await sleep(500)
    observed.push(`port 1 inaccessible: +${p1.counters.issued - s1} on port 1, +${p2.counters.issued - s2} on port 2`)
    t.ok(p1.counters.issued - s1 === 0 && p2.counters.issued - s2 > 0, 'all new I/O on port 2')
    await kt.setAnaState(1, 1, 'optimized')
    await kt.setAnaState(2, 1, 'non-optimized')
    t.ok(await waitFor(() => p1.state === 'live' && p2.state === 'degraded', 10_000), 'host saw port 1 optimized, port 2 non-optimized')
    s1 = p1.counters.issued
    s2 = p2.counters.issued
    await sleep(500)
    observed.push(`port 2 non-optimized: +${p1.counters.issued - s1} on port 1, +${p2.counters.issued - s2} on port 2`)
    t.ok(p1.counters.issued - s1 > 0 && p2.counters.issued - s2 === 0, 'all new I/O back on the optimized port 1')
    await kt.setAnaState(2, 1, 'optimized')
    await sleep(200)
  })()
  const res = await runWorkload({ device: dev, writers: 4, span: 256, until: fault, tailOps: 50 })
  await fault
  for (const o of observed) t.comment(o)
  t.same(res.errors.map((e) => e.message), [], 'no I/O failed')
  t.equal(res.readMismatches, 0, `${res.writes} writes, ${res.reads} read-backs verified`)
  let bad = 0
  for (const [lba, version] of res.journal) if (!(await dev.read(lba, 1)).equals(pattern(lba, version, dev.blockSize))) bad++
  t.equal(bad, 0, `all ${res.journal.size} journaled blocks hold the last acknowledged write`)
  t.same(host.checkQuiescent(), [], 'QoS counters back to zero')
  t.same(host.checker?.violations ?? [], [], 'invariant checker silent')

  await host.close()
  const r = await kt.stop()
  t.comment(describeRun(r))
  t.equal(r.rc, 0, `guest kernel log clean${r.rc === 0 ? '' : `\n${consoleTail(r)}`}`)
})
