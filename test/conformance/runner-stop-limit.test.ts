/**
 * The runner bounds a driver's stop, and the Linux bound outlasts the kernel's reconnect: an
 * unanswered Connect holds `nvme disconnect` for nvme_core.admin_timeout (60 s) plus the guest's
 * own disconnect limit (90 s), so a 60 s bound aborted controller-deleted-during-connect.
 * Other per-initiator limits (identify after a namespace change) are here too.
 */
import t from 'tap'
import { CATALOGUE } from '../../conformance/catalogue.js'
import type { InitiatorDriver } from '../../conformance/driver-types.js'
import { identifyLimitMsFor } from '../../conformance/checks.js'
import { driverStopLimitMs, runScenario } from '../../conformance/runner.js'

t.test('the Linux stop bound outlasts the guest disconnect and the admin timeout', async (t) => {
  t.ok(driverStopLimitMs('linux') > 90_000 + 60_000)
  t.ok(driverStopLimitMs('driver') > 90_000 + 60_000)
  t.equal(driverStopLimitMs('nvmf-fault'), 60_000)
})

t.test('a stop that never ends is reported as an error naming the bound', async (t) => {
  const entry = CATALOGUE.find((e) => e.info.id === 'dnr-obeyed')
  if (entry === undefined) throw new Error('dnr-obeyed is not in the catalogue')
  // A driver that connects nothing and whose stop never resolves (an initiator stuck in its kernel).
  const driver: InitiatorDriver = {
    info: { id: 'stuck', kind: 'driver', description: 'never stops' },
    start: async (_target, _workload, onEvent) => onEvent({ kind: 'ready' }),
    stop: () => new Promise<void>(() => undefined),
  }
  const run = await runScenario({ entry: { ...entry, ioMs: 300 }, driver, seed: 1, stopTimeoutMs: 400 })
  t.equal(run.verdict, 'error')
  t.match(run.checks[0]?.detail ?? '', /the driver's stop did not happen within 400 ms/)
})

t.test('a host other than ours gets longer to identify a changed namespace (its scan work runs late under TCG)', async (t) => {
  t.equal(identifyLimitMsFor('nvmf-fault', 1500), 1500, 'our initiator keeps the entry limit')
  // Linux 6.12 in a loaded TCG guest identified the re-enabled namespace 4765 ms after the change.
  t.ok(identifyLimitMsFor('linux', 1500) > 4765)
  t.ok(identifyLimitMsFor('driver', 1500) > 4765)
  t.equal(identifyLimitMsFor('linux', 20_000), 20_000, 'never shorter than the entry limit')
})
