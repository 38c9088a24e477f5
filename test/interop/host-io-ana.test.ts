// runHostIo (the harness piece issue 4's interop runs use): the Linux kernel host keeps verified
// I/O going through both ports of our target while this side flips port 1's ANA group to
// inaccessible and back; every I/O must complete and verify, and the target's store must hold the
// last generation the guest wrote to each block.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createTarget } from '../../target/index.js'
import { firstDifference } from './fixtures/pattern.js'
import { runHostIo } from './fixtures/host-io.js'
import { expectedBlock } from './fixtures/host-io-pattern.js'
import { ensureVmImage, interopAvailability } from './fixtures/vm-image.js'
import { consoleTail, describeRun, freePort, GUEST_HOST_IP } from './fixtures/vm.js'

const SUBNQN = 'nqn.2014-08.org.nvmf-fault:interop-io'
const MiB = 1024 * 1024

const avail = await interopAvailability()
t.test('kernel host verified I/O across an ANA flip (runHostIo)', { skip: avail.ok ? false : `interop suite skipped: ${avail.reason}` }, async (t) => {
  const image = await ensureVmImage({ log: (l) => t.comment(l) })
  const ports = [await freePort(), await freePort()]
  const target = await createTarget({
    ports: ports.map((port, i) => ({ id: i + 1, address: '127.0.0.1', port, advertise: { address: GUEST_HOST_IP, port } })),
    subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '64MiB' }] }],
  })
  t.teardown(() => target.close())
  const flips: string[] = []
  const run = await runHostIo({
    subnqn: SUBNQN,
    ports,
    seconds: 12,
    regionMiB: 8,
    image,
    onStart: (vm) => t.teardown(() => vm.kill()),
    duringIo: async () => {
      await sleep(2000)
      target.setAnaState({ portId: 1, grpid: 1, state: 'inaccessible' })
      flips.push('port 1 inaccessible')
      await sleep(5000)
      target.setAnaState({ portId: 1, grpid: 1, state: 'optimized' })
      flips.push('port 1 optimized')
    },
  })
  const r = run.result
  t.comment(describeRun(r))
  t.comment(
    `ops=${run.ops} write_errors=${run.writeErrors} read_errors=${run.readErrors} mismatches=${run.mismatches} ` +
      `sectors by port: ${[...run.sectorsByPort].map(([p, s]) => `${p}:${s}`).join(' ')} flips: ${flips.join(', ')}`,
  )
  t.equal(run.scenarioError, undefined, 'scenario ran')
  for (const name of [`connect_${ports[0]}`, `connect_${ports[1]}`, 'head_device', 'io_verified', 'disconnect', 'kernel_log_clean']) {
    t.equal(run.checks.get(name), 'ok', name)
  }
  t.ok(run.ops > 8, `I/O kept going (${run.ops} verified writes)`)
  t.ok((run.sectorsByPort.get(ports[1]!) ?? 0) > 0, 'port 2 carried I/O (while port 1 was inaccessible)')
  t.equal(flips.length, 2)
  // The target's store holds what the guest wrote last to each block.
  let checked = 0
  for (const [block, gen] of run.generations.entries()) {
    if (gen !== 0 && gen !== 1) continue
    const got = await target.readNamespace(SUBNQN, 1, block * MiB, MiB)
    const d = firstDifference(got, expectedBlock(1, gen, block))
    if (d >= 0) t.fail(`block ${block} (generation ${gen}) differs in the target store at byte ${d}`)
    checked++
  }
  t.ok(checked > 0, `${checked} blocks of the target store verified`)
  t.equal(r.rc, 0, `guest rc 0${r.rc === 0 ? '' : `\n${consoleTail(r, 80)}`}`)
})
