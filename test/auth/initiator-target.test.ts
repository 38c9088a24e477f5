/**
 * DH-HMAC-CHAP end to end: our initiator against our target over TCP on 127.0.0.1, every hash with a
 * few DH groups, unidirectional and bidirectional, wrong secrets on either side, a host without a
 * secret, and re-authentication of a live controller. ffdhe6144/8192 only run with
 * NVMF_FAULT_AUTH_SLOW=1 (the big groups cost a few hundred ms each on a loaded machine).
 */
import t, { type Test } from 'tap'
import { createTarget, type TargetHandle } from '../../target/index.js'
import { NvmeHost } from '../../initiator/host.js'
import { generateDhchapSecret } from '../../lib/nvme/auth-secret.js'
import { AuthFailure, type DhchapGroupName, type DhchapHashName } from '../../lib/nvme/auth-ids.js'
import type { HostAuthConfig } from '../../target/index.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:auth'
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0b7a3c44-5e1f-4d2a-9c3b-7e6f5a4d3c2b'
const HOST_KEY = generateDhchapSecret({ hash: 'sha256' })
const CTRL_KEY = generateDhchapSecret({ hash: 'sha512' })

async function target(t: Test, auth: HostAuthConfig): Promise<TargetHandle> {
  const tg = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: false, hosts: [HOSTNQN], namespaces: [{ nsid: 1, size: '1MiB' }] }],
    hosts: [{ nqn: HOSTNQN, ...auth }],
  })
  t.teardown(() => tg.close())
  return tg
}

function host(t: Test): NvmeHost {
  const h = new NvmeHost({ hostnqn: HOSTNQN })
  t.teardown(() => h.close())
  return h
}

const cases: [DhchapHashName, DhchapGroupName][] = [
  ['sha256', 'null'],
  ['sha384', 'ffdhe2048'],
  ['sha512', 'ffdhe3072'],
  ['sha256', 'ffdhe4096'],
]
if (process.env.NVMF_FAULT_AUTH_SLOW === '1') cases.push(['sha384', 'ffdhe6144'], ['sha512', 'ffdhe8192'])

for (const [hash, group] of cases) {
  for (const bidi of [false, true]) {
    t.test(`${hash} ${group} ${bidi ? 'bidirectional' : 'unidirectional'}: every queue authenticates, then I/O works`, async (t) => {
      const tg = await target(t, { dhchapKey: HOST_KEY, dhchapCtrlKey: CTRL_KEY, dhchapHashes: [hash], dhchapDhgroups: [group] })
      const h = host(t)
      const ctrl = await h.connect({ traddr: '127.0.0.1', trsvcid: tg.ports[0]!.port, subnqn: SUBNQN, nrIoQueues: 2, dhchapSecret: HOST_KEY, ...(bidi ? { dhchapCtrlSecret: CTRL_KEY } : {}) })
      t.equal(ctrl.counters.authentications, 3, 'admin queue + 2 I/O queues authenticated')
      const dev = h.device(1)!
      await dev.write(0, Buffer.alloc(4096, 0x5a))
      t.same(await dev.read(0, 8), Buffer.alloc(4096, 0x5a), 'I/O after authentication')
      t.match(tg.authCounters(), { attempts: 3, successes: 3, failures: 0, refusedCommands: 0 })
    })
  }
}

t.test('wrong host secret: AUTH_Failure1 "Authentication failed", logged, counted, controller deleted', async (t) => {
  const tg = await target(t, { dhchapKey: HOST_KEY })
  const h = host(t)
  await t.rejects(h.connect({ traddr: '127.0.0.1', trsvcid: tg.ports[0]!.port, subnqn: SUBNQN, dhchapSecret: generateDhchapSecret({ hash: 'sha256' }) }), {
    name: 'AuthenticationError',
    code: 'ERR_NVMEOF_AUTH',
    qid: 0,
    by: 'controller',
    reason: AuthFailure.FAILED,
    message: /AUTH_Failure1 .*Authentication failed/,
  })
  t.match(tg.authCounters(), { attempts: 1, successes: 0, failures: 1, failuresByReason: { 'Authentication failed': 1 } })
  const end = Date.now() + 10_000
  while (tg.status().controllers.length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
  t.equal(tg.status().controllers.length, 0, 'the controller is deleted (nvmet_ctrl_fatal_error)')
})

t.test('wrong controller secret: the host refuses the controller with AUTH_Failure2', async (t) => {
  const tg = await target(t, { dhchapKey: HOST_KEY, dhchapCtrlKey: CTRL_KEY })
  const h = host(t)
  await t.rejects(h.connect({ traddr: '127.0.0.1', trsvcid: tg.ports[0]!.port, subnqn: SUBNQN, dhchapSecret: HOST_KEY, dhchapCtrlSecret: generateDhchapSecret({ hash: 'sha512' }) }), {
    name: 'AuthenticationError',
    by: 'host',
    reason: AuthFailure.FAILED,
    message: /controller response mismatch/,
  })
  t.match(tg.authCounters(), { failures: 1, failuresByReason: { 'Authentication failed': 1 } }, 'the target counted the AUTH_Failure2')
})

t.test('bidirectional asked but the target has no controller secret: AUTH_Failure1', async (t) => {
  const tg = await target(t, { dhchapKey: HOST_KEY })
  const h = host(t)
  await t.rejects(h.connect({ traddr: '127.0.0.1', trsvcid: tg.ports[0]!.port, subnqn: SUBNQN, dhchapSecret: HOST_KEY, dhchapCtrlSecret: CTRL_KEY }), { name: 'AuthenticationError', by: 'controller', reason: AuthFailure.FAILED })
})

t.test('no common hash or group: Hash / DH group not usable', async (t) => {
  const tg = await target(t, { dhchapKey: HOST_KEY, dhchapHashes: ['sha512'], dhchapDhgroups: ['ffdhe2048'] })
  const h = host(t)
  const port = tg.ports[0]!.port
  await t.rejects(h.connect({ traddr: '127.0.0.1', trsvcid: port, subnqn: SUBNQN, dhchapSecret: HOST_KEY, dhchapHashes: ['sha256'] }), { name: 'AuthenticationError', by: 'controller', reason: AuthFailure.HASH_UNUSABLE })
  await t.rejects(h.connect({ traddr: '127.0.0.1', trsvcid: port, subnqn: SUBNQN, dhchapSecret: HOST_KEY, dhchapDhgroups: ['null'] }), { name: 'AuthenticationError', by: 'controller', reason: AuthFailure.DHGROUP_UNUSABLE })
  t.match(tg.authCounters().failuresByReason, { 'Hash function not usable': 1, 'DH group not usable': 1 })
})

t.test('a host without a secret is told the controller requires authentication', async (t) => {
  const tg = await target(t, { dhchapKey: HOST_KEY })
  const h = host(t)
  await t.rejects(h.connect({ traddr: '127.0.0.1', trsvcid: tg.ports[0]!.port, subnqn: SUBNQN }), { name: 'AuthenticationError', by: 'host', message: /requires authentication \(AUTHREQ\.ATR\) but no dhchapSecret/ })
})

t.test('a target without keys for the host does not ask (AUTHREQ 0); a host secret is then unused', async (t) => {
  const tg = await createTarget({ ports: [{ id: 1, address: '127.0.0.1', port: 0 }], subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '1MiB' }] }] })
  t.teardown(() => tg.close())
  const h = host(t)
  const ctrl = await h.connect({ traddr: '127.0.0.1', trsvcid: tg.ports[0]!.port, subnqn: SUBNQN, dhchapSecret: HOST_KEY })
  t.equal(ctrl.counters.authentications, 0)
})

t.test('re-authentication of a live controller: every queue again, I/O keeps working', async (t) => {
  const tg = await target(t, { dhchapKey: HOST_KEY, dhchapCtrlKey: CTRL_KEY, dhchapDhgroups: ['ffdhe2048'] })
  const h = host(t)
  const ctrl = await h.connect({ traddr: '127.0.0.1', trsvcid: tg.ports[0]!.port, subnqn: SUBNQN, nrIoQueues: 2, dhchapSecret: HOST_KEY, dhchapCtrlSecret: CTRL_KEY })
  const dev = h.device(1)!
  const io = dev.write(0, Buffer.alloc(512, 1))
  const results = await ctrl.reauthenticate()
  await io
  t.equal(results.length, 3)
  t.ok(results.every((r) => r.bidirectional && r.dhgroup === 'ffdhe2048'))
  t.match(tg.authCounters(), { attempts: 6, successes: 6, failures: 0 })
  t.same(await dev.read(0, 1), Buffer.alloc(512, 1))
})

t.test('re-authentication on the target\'s request: I/O gets Authentication Required (no DNR), the host re-authenticates and retries', async (t) => {
  const tg = await target(t, { dhchapKey: HOST_KEY, dhchapDhgroups: ['ffdhe2048'] })
  const h = host(t)
  const ctrl = await h.connect({ traddr: '127.0.0.1', trsvcid: tg.ports[0]!.port, subnqn: SUBNQN, nrIoQueues: 2, dhchapSecret: HOST_KEY })
  const dev = h.device(1)!
  await dev.write(0, Buffer.alloc(512, 7))
  t.equal(tg.requestReauthentication(), 3, 'admin + 2 I/O queues must authenticate again')
  const reads = await Promise.all([dev.read(0, 1), dev.read(0, 1), dev.read(0, 1), dev.read(0, 1)])
  t.ok(reads.every((b) => b.equals(Buffer.alloc(512, 7))), 'every I/O completed after the host re-authenticated')
  t.ok(tg.authCounters().refusedCommands >= 1, 'commands were refused meanwhile')
  t.equal(ctrl.counters.authentications, 6, 'each queue authenticated twice (concurrent I/O shared one re-authentication)')
  t.equal(ctrl.counters.authFailures, 0)
})

t.test('options are validated at the edge', async (t) => {
  const h = host(t)
  await t.rejects(h.connect({ traddr: '127.0.0.1', trsvcid: 1, subnqn: SUBNQN, dhchapSecret: 'DHHC-1:01:nope:' }), { name: 'InvalidArgumentError', field: 'dhchapSecret' })
  await t.rejects(h.connect({ traddr: '127.0.0.1', trsvcid: 1, subnqn: SUBNQN, dhchapCtrlSecret: CTRL_KEY }), { name: 'InvalidArgumentError', field: 'dhchapCtrlSecret' })
  await t.rejects(h.connect({ traddr: '127.0.0.1', trsvcid: 1, subnqn: SUBNQN, dhchapSecret: HOST_KEY, dhchapHashes: ['md5' as DhchapHashName] }), { name: 'InvalidArgumentError', field: 'dhchapHashes' })
})
