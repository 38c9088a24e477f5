/**
 * The `limits:` block of the target config (target/limits.ts): validation and defaults, and each
 * count limit through real sockets — connections per port and per host NQN, controllers and
 * namespaces per subsystem, queue depth. Time limits are in hostile-host.test.ts (manual clock).
 */
import t from 'tap'
import { RawHost, HOSTNQN, waitFor, withTimeout } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN, testOptions } from './helpers/fixture.js'
import { createTarget } from '../../target/index.js'
import { parseTargetConfig } from '../../target/config.js'
import { DEFAULT_LIMITS, clampKato, MAX_TIMER_MS } from '../../target/limits.js'
import { ConfigError } from '../../lib/errors.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'

const WAIT = 30_000
const ports = [{ id: 1, address: '127.0.0.1', port: 0 }]

t.test('limits: defaults, legacy top-level keys, and errors that name the field', async (t) => {
  const c = parseTargetConfig({ ports })
  t.same(c.limits, DEFAULT_LIMITS, 'defaults')
  t.equal(c.icReqTimeoutMs, DEFAULT_LIMITS.icReqTimeoutMs, 'top-level view of the same value')
  const legacy = parseTargetConfig({ ports, icReqTimeoutMs: 500, maxQueueSize: 64, maxBufferedBytes: 1 << 20 })
  t.same([legacy.limits.icReqTimeoutMs, legacy.limits.maxQueueSize, legacy.limits.maxBufferedBytes], [500, 64, 1 << 20], 'legacy keys fill limits')
  const set = parseTargetConfig({ ports, limits: { connectionsPerPort: 8, maxR2T: 4, kato: { maxMs: 60_000 } } })
  t.equal(set.limits.connectionsPerPort, 8)
  t.same(set.limits.kato, { minMs: 100, maxMs: 60_000 })
  const bad: [unknown, string][] = [
    [{ limits: 5 }, 'limits'],
    [{ limits: { connectionsPerPort: 0 } }, 'limits.connectionsPerPort'],
    [{ limits: { maxBufferedBytes: 1000 } }, 'limits.maxBufferedBytes'],
    [{ limits: { idleTimeoutMs: -1 } }, 'limits.idleTimeoutMs'],
    [{ limits: { nope: 1 } }, 'limits.nope'],
    [{ limits: { kato: { minMs: 10, maxMs: 5 } } }, 'limits.kato'],
    [{ limits: { kato: { maxMs: 2 ** 31 } } }, 'limits.kato.maxMs'],
    [{ limits: { kato: { typo: 1 } } }, 'limits.kato.typo'],
    [{ icReqTimeoutMs: 5, limits: { icReqTimeoutMs: 6 } }, 'icReqTimeoutMs'],
  ]
  for (const [extra, path] of bad) {
    let err: unknown
    try {
      parseTargetConfig({ ports, ...(extra as object) })
    } catch (e) {
      err = e
    }
    t.ok(err instanceof ConfigError && err.path === path, `${JSON.stringify(extra)} → ConfigError at ${path} (${String(err)})`)
  }
})

t.test('clampKato: 0 stays 0, everything else within the range and under a Node timer overflow', async (t) => {
  const r = { minMs: 100, maxMs: 3_600_000 }
  t.equal(clampKato(0, r), 0)
  t.equal(clampKato(1, r), 100)
  t.equal(clampKato(5000, r), 5000)
  t.equal(clampKato(0xffffffff, r), 3_600_000)
  t.equal(clampKato(-1, r), 3_600_000, 'a signed CDW11 is read unsigned')
  t.equal(clampKato(0xffffffff, { minMs: 1, maxMs: MAX_TIMER_MS }), MAX_TIMER_MS)
})

t.test('connections per port: the one past the limit is closed at accept, the others work', async (t) => {
  const target = await startTarget(t, { limits: { connectionsPerPort: 3 } })
  const port = portOf(target)
  const hosts = await Promise.all([0, 1, 2].map(() => RawHost.connect({ port })))
  t.teardown(() => hosts.forEach((h) => h.destroy()))
  const extra = await RawHost.connect({ port, noIcReq: true })
  t.teardown(() => extra.destroy())
  await withTimeout(extra.closed, WAIT, 'close of the 4th connection')
  t.pass('4th connection closed')
  t.ok((await hosts[0]!.connectAdmin({ subnqn: SUBNQN })) > 0, 'an accepted connection still works')
  // Another port has its own count.
  const other = await RawHost.connect({ port: portOf(target, 2) })
  t.teardown(() => other.destroy())
  t.ok((await other.connectAdmin({ subnqn: SUBNQN })) > 0, 'port 2 unaffected')
  // A slot frees when a connection closes.
  hosts[2]!.destroy()
  await waitFor(() => target.connectionStats().filter((c) => c.portId === 1).length === 2, 'slot freed', WAIT)
  const again = await RawHost.connect({ port })
  t.teardown(() => again.destroy())
  t.ok((await again.connectAdmin({ subnqn: SUBNQN })) > 0, 'a new connection fits again')
})

t.test('connections per host NQN: Connect beyond the limit → Controller Busy; other hosts unaffected', async (t) => {
  const target = await startTarget(t, { limits: { connectionsPerHost: 2 } })
  const port = portOf(target)
  const admin = await RawHost.connect({ port })
  t.teardown(() => admin.destroy())
  const cntlid = await admin.connectAdmin({ subnqn: SUBNQN })
  const io1 = await RawHost.connect({ port })
  t.teardown(() => io1.destroy())
  t.equal((await io1.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid })).cqe.status, 0, 'second queue of the host')
  const io2 = await RawHost.connect({ port })
  t.teardown(() => io2.destroy())
  t.equal((await io2.connectCmd({ qid: 2, subnqn: SUBNQN, cntlid })).cqe.status, NvmeStatus.CONNECT_CTRL_BUSY | STATUS_DNR, 'third → Controller Busy')
  const admin2 = await RawHost.connect({ port })
  t.teardown(() => admin2.destroy())
  const busy = await admin2.connectCmd({ qid: 0, subnqn: SUBNQN, hostnqn: HOSTNQN })
  t.equal(busy.cqe.status, NvmeStatus.CONNECT_CTRL_BUSY | STATUS_DNR, 'a new admin queue of the same host too')
  const otherHost = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000002'
  t.equal((await admin2.connectCmd({ qid: 0, subnqn: SUBNQN, hostnqn: otherHost })).cqe.status, 0, 'another host NQN connects')
})

t.test('controllers per subsystem: Connect beyond the limit → Controller Busy', async (t) => {
  const target = await startTarget(t, { limits: { controllersPerSubsystem: 1 } })
  const port = portOf(target)
  const a = await RawHost.connect({ port })
  t.teardown(() => a.destroy())
  await a.connectAdmin({ subnqn: SUBNQN })
  const b = await RawHost.connect({ port })
  t.teardown(() => b.destroy())
  t.equal((await b.connectCmd({ qid: 0, subnqn: SUBNQN })).cqe.status, NvmeStatus.CONNECT_CTRL_BUSY | STATUS_DNR)
  a.destroy()
  await waitFor(() => target.status().controllers.length === 0, 'first controller gone', WAIT)
  t.equal((await b.connectCmd({ qid: 0, subnqn: SUBNQN })).cqe.status, 0, 'room again once it is gone')
})

t.test('namespaces per subsystem: config and runtime additions beyond the limit are refused', async (t) => {
  await t.rejects(createTarget(testOptions({ limits: { namespacesPerSubsystem: 1 } })), { code: 'ERR_NVMEOF_INVALID_ARG' }, 'a config with 2 namespaces and a limit of 1')
  const target = await startTarget(t, { limits: { namespacesPerSubsystem: 2 } })
  await t.rejects(target.addNamespace(SUBNQN, { nsid: 3, size: '1MiB' }), /namespacesPerSubsystem/, 'a third namespace at runtime')
  await target.removeNamespace(SUBNQN, 2)
  await target.addNamespace(SUBNQN, { nsid: 3, size: '1MiB' })
  t.pass('room again after a removal')
})

t.test('queue depth: Connect SQSIZE+1 above limits.maxQueueSize → Invalid Parameters', async (t) => {
  const target = await startTarget(t, { limits: { maxQueueSize: 32 } })
  const h = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => h.destroy())
  const cntlid = await h.connectAdmin({ subnqn: SUBNQN })
  const io = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => io.destroy())
  t.equal((await io.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid, sqsize: 32 })).cqe.status, NvmeStatus.CONNECT_INVALID_PARAM | STATUS_DNR)
  t.equal((await io.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid, sqsize: 31 })).cqe.status, 0)
})
