// Subsystem names as nvmet takes them (issue 9 scope 4): the Linux kernel host connects to a
// subsystem named `blktests-subsystem-1` (blktests' name, not of the `nqn.yyyy-mm.` form) on our
// target, through two ports, and does verified I/O; the target's store holds what it wrote. The
// target is configured the way blktests configures a remote target (an nvmetcli JSON document, as
// its nvme_target_control renders one), moved to free ports with --port-base 0.
import t from 'tap'
import { configFromDocument } from '../../target/config-source.js'
import { createTarget } from '../../target/index.js'
import { firstDifference } from './fixtures/pattern.js'
import { runHostIo } from './fixtures/host-io.js'
import { expectedBlock } from './fixtures/host-io-pattern.js'
import { ensureVmImage, interopAvailability } from './fixtures/vm-image.js'
import { consoleTail, describeRun, GUEST_HOST_IP } from './fixtures/vm.js'

const SUBNQN = 'blktests-subsystem-1'
const MiB = 1024 * 1024

const avail = await interopAvailability()
t.test(`kernel host does I/O on a subsystem named ${SUBNQN}`, { skip: avail.ok ? false : `interop suite skipped: ${avail.reason}` }, async (t) => {
  const image = await ensureVmImage({ log: (l) => t.comment(l) })
  const port = (portid: number, trsvcid: number): unknown => ({
    portid,
    addr: { adrfam: 'ipv4', traddr: '127.0.0.1', treq: 'not specified', trsvcid: String(trsvcid), trtype: 'tcp' },
    ana_groups: [{ ana: { state: 'optimized' }, grpid: 1 }],
    referrals: [],
    subsystems: [SUBNQN],
    nvmf_fault: { advertise: { address: GUEST_HOST_IP } },
  })
  const nvmetJson = {
    hosts: [],
    ports: [port(1, 4420), port(2, 4421)],
    subsystems: [
      {
        nqn: SUBNQN,
        allowed_hosts: [],
        attr: { allow_any_host: '1', serial: 'blktests0001', model: 'Linux' },
        namespaces: [{ nsid: 1, enable: 1, ana_grpid: 1, device: { path: '', uuid: '0f01fb42-9f7f-4856-b0b3-51e60b8de349' }, nvmf_fault: { store: 'memory', size: 32 * MiB } }],
      },
    ],
  }
  const warnings: string[] = []
  const target = await createTarget(await configFromDocument(nvmetJson, { portBase: 0, onWarning: (w) => warnings.push(`${w.path}: ${w.message}`) }))
  t.teardown(() => target.close())
  t.same(warnings, [], 'the nvmetcli document loads without a warning')
  const ports = target.ports.map((p) => p.port)
  const run = await runHostIo({
    subnqn: SUBNQN,
    ports,
    seconds: 6,
    regionMiB: 4,
    image,
    onStart: (vm) => t.teardown(() => vm.kill()),
  })
  const r = run.result
  t.comment(describeRun(r))
  t.comment(`ops=${run.ops} write_errors=${run.writeErrors} read_errors=${run.readErrors} mismatches=${run.mismatches}`)
  for (const name of [`connect_${ports[0]}`, `connect_${ports[1]}`, 'head_device', 'io_verified', 'disconnect', 'kernel_log_clean']) {
    t.equal(run.checks.get(name), 'ok', name)
  }
  t.ok(run.ops > 0, `verified writes (${run.ops})`)
  const seen = target.status().controllers.filter((c) => c.subnqn === SUBNQN)
  t.equal(seen.length, 0, 'the host disconnected (no controller left)')
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
