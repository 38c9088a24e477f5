// The Linux kernel host driver for real: our target in-process with two ports, the kernel chosen
// like the interop suite's (NVMF_FAULT_KERNEL, default: this machine's linux-image-amd64) booted in
// QEMU, every path connected, ~20 s of verified writes on both namespaces (with every path
// inaccessible for 6 s in the middle), then stop(). Checks the event stream: ready first, io events
// with ops > 0 on every namespace, the kernel's no-path requeueing as failover events, I/O resuming,
// no application error, no kernel error line, done last with ok. Skips like the interop suite when QEMU or the kernel is
// missing (NVMF_FAULT_SKIP_INTEROP=1 skips it too). NVMF_FAULT_INTEROP_VERBOSE=1 prints the console.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createTarget } from '../../target/index.js'
import { InvalidStateError } from '../../lib/errors.js'
import type { DriverEvent } from '../../conformance/driver-types.js'
import { createLinuxQemuDriver } from '../../conformance/drivers/linux-qemu.js'
import { ensureVmImage, interopAvailability } from '../../kernel/vm-image.js'
import { freePort } from '../../kernel/vm.js'

const avail = await interopAvailability()
const skip = avail.ok ? false : `Linux host driver test skipped: ${avail.reason}`
const verbose = process.env.NVMF_FAULT_INTEROP_VERBOSE === '1'
const WORKLOAD_MS = 20_000

t.test('Linux host in QEMU: connect both paths, verified writes on every namespace, clean stop', { skip, timeout: 1_200_000 }, async (t) => {
  const image = await ensureVmImage({ log: (l) => t.comment(l) })
  const subnqn = 'nqn.2014-08.org.nvmf-fault:conformance-linux-driver'
  const ports = [await freePort(), await freePort()]
  const target = await createTarget({
    ports: ports.map((port, i) => ({ id: i + 1, address: '127.0.0.1', port })),
    subsystems: [{ nqn: subnqn, namespaces: [{ nsid: 1, size: '32MiB' }, { nsid: 2, size: '32MiB' }] }],
  })
  t.teardown(() => target.close())
  const driver = await createLinuxQemuDriver({ image, regionMiB: 4, log: (l) => t.comment(l), ...(verbose ? { onConsoleLine: (l: string) => t.comment(`console: ${l}`) } : {}) })
  t.teardown(() => driver.stop())
  t.comment(`initiator: ${driver.info.id} — ${driver.info.description}`)

  const events: { ms: number; e: DriverEvent }[] = []
  const t0 = Date.now()
  await driver.start(
    { traddr: '127.0.0.1', trsvcids: ports, subnqn, hostnqn: 'nqn.2014-08.org.nvmf-fault:conformance-linux-host' },
    { rw: 'verify', bs: 4096, qd: 2, durationMs: WORKLOAD_MS, namespaces: 'all', pattern: 'seed:58' },
    (e) => events.push({ ms: Date.now() - t0, e }),
  )
  const readyMs = Date.now() - t0
  const again = await driver.start({ traddr: '127.0.0.1', trsvcids: ports, subnqn, hostnqn: 'nqn.2014-08.org.nvmf-fault:x' }, { rw: 'write', bs: 4096, qd: 1, durationMs: 1000, namespaces: 'all', pattern: 'seed:1' }, () => {}).catch((e: unknown) => e)
  t.ok(again instanceof InvalidStateError, 'a second start() is refused')
  // Mid-run, every path inaccessible for 6 s (queue-if-no-path: the I/O waits, then resumes): the
  // kernel's "no usable path - requeuing I/O" must come through as a failover event, and no I/O fail.
  await sleep(5000)
  const lostAt = Date.now() - t0
  for (const portId of [1, 2]) target.setAnaState({ portId, grpid: 1, state: 'inaccessible' })
  await sleep(6000)
  const backAt = Date.now() - t0
  for (const portId of [1, 2]) target.setAnaState({ portId, grpid: 1, state: 'optimized' })
  await sleep(WORKLOAD_MS - 11_000 + 2000)
  const stopAt = Date.now()
  await driver.stop()
  const stopMs = Date.now() - stopAt

  const kinds = events.map((x) => x.e.kind)
  t.equal(kinds[0], 'ready', 'ready comes first')
  t.equal(kinds.at(-1), 'done', 'done comes last')
  t.equal(kinds.filter((k) => k === 'done').length, 1, 'one done')
  const io = events.flatMap((x) => (x.e.kind === 'io' ? [x.e] : []))
  const byNs = new Map<number, { ops: number; bytes: number; errors: number; reports: number }>()
  for (const e of io) {
    const s = byNs.get(e.nsid) ?? { ops: 0, bytes: 0, errors: 0, reports: 0 }
    s.ops += e.ops
    s.bytes += e.bytes
    s.errors += e.errors
    s.reports++
    byNs.set(e.nsid, s)
  }
  t.same([...byNs.keys()].sort(), [1, 2], 'io reported for both namespaces')
  for (const [nsid, s] of byNs) {
    t.comment(`nsid ${nsid}: ${s.ops} ops (${(s.ops / (WORKLOAD_MS / 1000)).toFixed(1)}/s over the workload), ${s.bytes} bytes, ${s.errors} errors, ${s.reports} reports`)
    t.ok(s.ops > 0, `nsid ${nsid}: ops > 0`)
    t.equal(s.errors, 0, `nsid ${nsid}: no I/O error or mismatch`)
    t.ok(s.reports >= 3, `nsid ${nsid}: counters reported repeatedly (${s.reports})`)
  }
  const failovers = events.filter((x) => x.e.kind === 'failover' && x.ms >= lostAt)
  t.ok(failovers.length > 0, `the kernel's no-path requeueing came through as failover events (${failovers.length})`)
  const opsAfter = events.reduce((n, x) => n + (x.e.kind === 'io' && x.ms > backAt + 1500 ? x.e.ops : 0), 0)
  t.ok(opsAfter > 0, `I/O resumed once the paths came back (${opsAfter} ops)`)
  const appErrors = events.filter((x) => x.e.kind === 'error')
  t.same(appErrors.map((x) => x.e), [], 'no application error')
  const kernelErrors = events.filter((x) => x.e.kind === 'log' && x.e.level === 'error')
  t.same(kernelErrors.map((x) => x.e), [], 'no kernel oops/WARNING/BUG/hung task')
  for (const x of events.filter((y) => y.e.kind === 'log' || y.e.kind === 'failover')) t.comment(`${x.ms} ms ${JSON.stringify(x.e)}`)
  const done = events.at(-1)?.e
  t.comment(`ready after ${(readyMs / 1000).toFixed(1)} s; stop took ${(stopMs / 1000).toFixed(1)} s; ${done?.kind === 'done' ? done.detail : ''}`)
  t.match(done, { kind: 'done', ok: true }, 'done ok: disconnected, no writer stuck, guest exit 0')
})
