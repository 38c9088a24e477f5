/**
 * `paths-restored` judges the path at the host's own disconnect: a host still reconnecting a path
 * when the runner asks it to stop (admin queue up, I/O queues connecting — Linux 6.12 in a loaded
 * TCG guest was 0.4 s short) restored it if an I/O queue connects there before it disconnects; a
 * path that never comes back fails. Driven by our initiator on real sockets through the runner: a
 * test driver connects the second port only once its stop has begun (or never). `reconnect` and
 * `io-resumes` count up to the host's disconnect the same way.
 */
import t from 'tap'
import { CATALOGUE } from '../../conformance/catalogue.js'
import { ioResumes, pathsRestored, reconnects } from '../../conformance/checks.js'
import type { DriverTarget, InitiatorDriver } from '../../conformance/driver-types.js'
import { runScenario } from '../../conformance/runner.js'
import { NvmeHost } from '../../initiator/index.js'

/** Connects the first port at start; the other ports during its stop when `lateConnect`, else never. */
function lateDriver(lateConnect: boolean): InitiatorDriver {
  let host: NvmeHost | undefined
  let target: DriverTarget | undefined
  return {
    info: { id: 'late', kind: 'driver', description: 'connects its last path during the stop' },
    start: async (tgt, _workload, onEvent) => {
      target = tgt
      host = new NvmeHost({ hostnqn: tgt.hostnqn, ...(tgt.hostid !== undefined ? { hostid: tgt.hostid } : {}) })
      await host.connect({ traddr: tgt.traddr, trsvcid: tgt.trsvcids[0]!, subnqn: tgt.subnqn })
      onEvent({ kind: 'ready' })
    },
    stop: async () => {
      if (host === undefined || target === undefined) return
      if (lateConnect) for (const trsvcid of target.trsvcids.slice(1)) await host.connect({ traddr: target.traddr, trsvcid, subnqn: target.subnqn })
      await host.close()
    },
  }
}

const base = CATALOGUE.find((e) => e.info.id === 'controller-fatal')
if (base === undefined) throw new Error('controller-fatal is not in the catalogue')
// The topology of a two-path entry, no fault: only the check under test.
const entry = { ...base, ioMs: 200, scenario: JSON.stringify({ name: 'quiet', steps: [] }), checks: [pathsRestored()] }

t.test('a path whose I/O queue connects after the stop, before the host disconnects, is restored', async (t) => {
  const run = await runScenario({ entry, driver: lateDriver(true), seed: 1 })
  const c = run.checks.find((x) => x.id === 'paths-restored')
  t.equal(c?.verdict, 'pass', c?.detail ?? 'no paths-restored result')
  t.match(c?.detail ?? '', /still reconnecting at the stop, I\/O queue connected \d+ ms later/)
})

t.test('a path that never comes back fails, naming the port', async (t) => {
  const run = await runScenario({ entry, driver: lateDriver(false), seed: 1 })
  const c = run.checks.find((x) => x.id === 'paths-restored')
  t.equal(c?.verdict, 'fail', c?.detail ?? 'no paths-restored result')
  t.match(c?.detail ?? '', /no live controller on port\(s\) \d+ at \d+ ms, and no I\/O queue connected there before the host disconnected/)
})

t.test('a controller lost just before the stop and back during it is judged by how long it took', async (t) => {
  let host: NvmeHost | undefined
  const driver: InitiatorDriver = {
    info: { id: 'slow-stop', kind: 'driver', description: 'reconnects while being stopped' },
    start: async (tgt, _workload, onEvent) => {
      host = new NvmeHost({ hostnqn: tgt.hostnqn, controllerDefaults: { reconnectDelayMs: 300 } })
      for (const trsvcid of tgt.trsvcids) await host.connect({ traddr: tgt.traddr, trsvcid, subnqn: tgt.subnqn })
      onEvent({ kind: 'ready' })
    },
    // Give the host's reconnect (300 ms after the loss) time to happen while it is being stopped.
    stop: async () => {
      await new Promise((r) => setTimeout(r, 1500))
      await host?.close()
    },
  }
  const steps = [{ atMs: 50, controller: { op: 'delete', port: 2 } }]
  const run = await runScenario({ entry: { ...entry, ioMs: 150, scenario: JSON.stringify({ name: 'late-reconnect', steps }), checks: [reconnects(2500), pathsRestored()] }, driver, seed: 1 })
  const c = run.checks.find((x) => x.id === 'reconnect')
  t.equal(c?.verdict, 'pass', c?.detail ?? 'no reconnect result')
  t.match(c?.detail ?? '', /1 reconnect\(s\) after \d+ ms \(limit 2500 ms\)/)
  t.equal(run.checks.find((x) => x.id === 'paths-restored')?.verdict, 'pass')
})

t.test('io-resumes counts I/O that completes while the host is stopping', async (t) => {
  let host: NvmeHost | undefined
  let subnqn = ''
  const driver: InitiatorDriver = {
    info: { id: 'writes-on-stop', kind: 'driver', description: 'writes once, while being stopped' },
    start: async (tgt, _workload, onEvent) => {
      subnqn = tgt.subnqn
      host = new NvmeHost({ hostnqn: tgt.hostnqn })
      await host.connect({ traddr: tgt.traddr, trsvcid: tgt.trsvcids[0]!, subnqn: tgt.subnqn })
      onEvent({ kind: 'ready' })
    },
    stop: async () => {
      const dev = host?.devices(subnqn)[0]
      await dev?.write(0, new Uint8Array(4096))
      await host?.close()
    },
  }
  const run = await runScenario({ entry: { ...entry, checks: [ioResumes()] }, driver, seed: 1 })
  const c = run.checks.find((x) => x.id === 'io-resumes')
  t.equal(c?.verdict, 'pass', c?.detail ?? 'no io-resumes result')
  t.match(c?.detail ?? '', /while the host was stopping/)
})
