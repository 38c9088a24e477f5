// The Linux kernel NVMe/TCP host (guest under QEMU, nvme-cli) against our target, created
// in-process: discovery through each port, two paths under native multipath, 64 MiB verified both in
// the guest and in the target's store, ANA flip under I/O, namespace add/remove, clean disconnect.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { createTarget } from '../../target/index.js'
import { runLinuxHost } from './fixtures/linux-host.js'
import { ensureVmImage, interopAvailability } from './fixtures/vm-image.js'
import { consoleTail, describeRun, freePort, GUEST_HOST_IP } from './fixtures/vm.js'

const SUBNQN = 'nqn.2014-08.org.nvmf-fault:interop'

/** Every check linux-host.sh reports; a missing one means the script stopped early. */
const EXPECTED_CHECKS = [
  'connect_P1', 'connect_P2', 'discover_P1', 'discover_P2', 'head_device', 'multipath', 'list_subsys_two_live_paths',
  'cli_list', 'cli_id_ctrl', 'cli_id_ns', 'cli_ns_descs', 'cli_smart_log', 'cli_error_log', 'cli_effects_log', 'cli_ana_log',
  'cli_list_subsys', 'dd_write', 'readback_identical', 'target_store_holds_pattern', 'ana_match_port1', 'ana_match_port2',
  'ana_seen_within_2s', 'io_moved_to_port2', 'io_across_flip_exit0', 'flip_data_readback', 'flip_data_in_target',
  'ana_back_to_optimized', 'ns_added_appears', 'ns_removed_disappears', 'reset_live', 'io_after_reset', 'reconnect_port2',
  'io_after_reconnect', 'disconnect', 'controllers_gone', 'digests_io',
  'digests_disconnect', 'kernel_log_clean',
]

const avail = await interopAvailability()
t.test('Linux kernel host against our target', { skip: avail.ok ? false : `interop suite skipped: ${avail.reason}` }, async (t) => {
  const image = await ensureVmImage({ log: (l) => t.comment(l) })
  const logDir = mkdtempSync(join(tmpdir(), 'nvmf-fault-interop-'))
  t.teardown(() => rmSync(logDir, { recursive: true, force: true }))
  const logFile = join(logDir, 'target.log')
  const logger = pino({ level: process.env.NVMF_FAULT_INTEROP_LOG_LEVEL ?? 'debug' }, pino.destination({ dest: logFile, sync: true }))

  const ports: [number, number] = [await freePort(), await freePort()]
  const target = await createTarget({
    logger,
    ports: ports.map((port, i) => ({
      id: i + 1,
      address: '127.0.0.1',
      port,
      // The guest reaches 127.0.0.1 through the slirp gateway: discovery must say so.
      advertise: { address: GUEST_HOST_IP, port },
    })),
    subsystems: [
      {
        nqn: SUBNQN,
        serial: 'NVMFFAULT0001',
        model: 'nvmf-fault interop',
        namespaces: [{ nsid: 1, size: '256MiB' }],
      },
    ],
  })
  t.teardown(() => target.close())

  const calls: string[] = []
  const run = await runLinuxHost({
    target,
    subnqn: SUBNQN,
    ports,
    image,
    timeoutSec: 600,
    onStart: (vm) => t.teardown(() => vm.kill()),
    // NVMF_FAULT_INTEROP_VERBOSE=1 shows the guest console as it happens.
    ...(process.env.NVMF_FAULT_INTEROP_VERBOSE === '1' ? { onConsoleLine: (l: string) => t.comment(`[vm] ${l}`) } : {}),
    onCall: (cmd, ms, err) => calls.push(`${cmd} -> ${err === undefined ? 'ok' : `ERROR ${err}`} (${ms.toFixed(0)} ms)`),
  })
  const r = run.result
  t.comment(describeRun(r))
  t.comment(`guest kernel ${r.kernelVersion} (${image.kernelPackage}), nvme-cli ${r.nvmeCliVersion}; ${image.nvmeCliVersion}`)
  t.comment(`timings (ms): ${[...run.timings].map(([k, v]) => `${k}=${v}`).join(' ')}`)
  const res = r.results
  t.comment(
    `ANA: inaccessible seen by the host ${res.ana_inaccessible_seen_ms ?? '?'} ms after the guest asked ` +
      `(${res.ana_inaccessible_after_call_ms ?? '?'} ms after the guest's call returned), optimized again after ${res.ana_optimized_seen_ms ?? '?'} ms; ` +
      `I/O across the flip: ${res.io_dd_total ?? '?'} dd runs, ${res.io_dd_failed ?? '?'} failed, ${res.io_passes ?? '?'} passes; ` +
      `sectors written while port 1 inaccessible: port1 ${res.sectors_port1_while_inaccessible ?? '?'}, port2 ${res.sectors_port2_while_inaccessible ?? '?'}`,
  )
  t.comment(`ANA, host-measured from the target's change to the guest's signal: ${[...run.anaSeenMs].map(([k, v]) => `${k} ${v} ms`).join(', ')}`)
  t.comment(`namespace add seen after ${res.ns_add_seen_ms ?? '?'} ms, removal after ${res.ns_remove_seen_ms ?? '?'} ms`)
  t.comment(`host-side calls: ${calls.join('; ')}`)

  const names = EXPECTED_CHECKS.map((c) => c.replace('P1', String(ports[0])).replace('P2', String(ports[1])))
  let failed = 0
  for (const name of names) {
    const v = run.checks.get(name)
    if (v !== 'ok') failed++
    t.equal(v, 'ok', name)
  }
  t.equal(res.io_running_during_flip, 'yes', 'I/O was in flight when the ANA state changed')
  t.equal(r.rc, 0, 'guest reports no failed check')
  if (failed > 0 || r.rc !== 0) {
    t.comment(`--- guest console (tail) ---\n${consoleTail(r, 150)}`)
    const log = readFileSync(logFile, 'utf8').trim().split('\n')
    t.comment(`--- target log (last 60 of ${log.length} lines) ---\n${log.slice(-60).join('\n')}`)
  }
})
