/**
 * The runner bounds a driver's stop, and the Linux bound outlasts the kernel's reconnect: an
 * unanswered Connect holds `nvme disconnect` for nvme_core.admin_timeout (60 s) plus the guest's
 * own disconnect limit (90 s), so a 60 s bound aborted controller-deleted-during-connect.
 */
import t from 'tap'
import { CATALOGUE } from '../../conformance/catalogue.js'
import type { InitiatorDriver } from '../../conformance/driver-types.js'
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
