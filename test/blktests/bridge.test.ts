/**
 * blktests/nvme-target-control against a running `nvmf-fault target` process, called with sh the
 * way blktests calls NVME_TARGET_CONTROL (common/nvme, tests/nvme/rc): each config query, setup,
 * add-ports, the port/ANA/namespace verbs of the blktests patch, and cleanup. Our initiator
 * connects between setup and cleanup; cleanup must drop it (nvme/061 relies on that). Skips when
 * curl (Debian package curl) is missing; the shellcheck check skips without shellcheck.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { NvmeHost } from '../../initiator/host.js'
import { generateDhchapSecret } from '../../lib/nvme/auth-secret.js'
import { AnaState } from '../../lib/nvme/log-ana.js'
import { cliArgs } from '../helpers/cli-process.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BRIDGE = join(ROOT, 'blktests/nvme-target-control')
const SUB = 'blktests-subsystem-1'
const UUID = '5f3c2b1a-0e9d-4c8b-a7f6-e5d4c3b2a190'
const HOSTID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'
const HOSTNQN = `nqn.2014-08.org.nvmexpress:uuid:${HOSTID}`
const hasCurl = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0
const hasShellcheck = spawnSync('shellcheck', ['--version'], { stdio: 'ignore' }).status === 0

async function waitFor<T>(get: () => T | undefined | false, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms
  for (;;) {
    const v = get()
    if ((v !== undefined && v !== false) || Date.now() > end) return v === false ? undefined : v
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A target process with one NVMe/TCP port and the HTTP API, both on free loopback ports. */
async function startTarget(t: Test): Promise<{ url: string; port1: number }> {
  const target: ChildProcess = spawn(process.execPath, [...cliArgs(), 'target', '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--no-pretty'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  target.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  target.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<void>((r) => target.on('exit', () => r()))
  t.teardown(async () => {
    if (target.exitCode === null) {
      target.kill('SIGTERM')
      await exited
    }
  })
  const logged = <T>(pred: (o: Record<string, unknown>) => T | undefined): T | undefined => {
    for (const l of out.split('\n')) if (l.startsWith('{')) {
      const v = pred(JSON.parse(l) as Record<string, unknown>)
      if (v !== undefined) return v
    }
    return undefined
  }
  // A loaded machine starts the child slowly.
  const http = await waitFor(() => logged((o) => (o.msg === 'http API listening' ? (o.http as { port: number }).port : undefined)), 300_000)
  if (http === undefined) throw new Error(`the target did not log its HTTP address: ${err}`)
  const port1 = logged((o) => (o.portId === 1 && typeof o.port === 'number' ? o.port : undefined))!
  return { url: `http://127.0.0.1:${http}`, port1 }
}

t.test('bridge: blktests NVME_TARGET_CONTROL verbs drive a running target', { skip: hasCurl ? false : 'curl is not installed (Debian package curl)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-bridge-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { url, port1 } = await startTarget(t)
  const logFile = join(dir, 'bridge.log')
  const env = {
    ...process.env,
    NVMF_FAULT_URL: url,
    NVMF_FAULT_BRIDGE_LOG: logFile,
    NVMF_FAULT_HOSTNQN: HOSTNQN,
    NVMF_FAULT_HOSTID: HOSTID,
    NVMF_FAULT_SUBSYS_UUID: UUID,
    NVMF_FAULT_NS_SIZE: '8MiB',
    TMPDIR: dir,
  }
  const ctl = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync('sh', [BRIDGE, ...args], { env, encoding: 'utf8', timeout: 120_000 })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const ok = (...args: string[]): string => {
    const r = ctl(...args)
    t.equal(r.code, 0, `${args.join(' ')} exits 0 ${r.stderr}`)
    return r.stdout.trim()
  }
  const api = async (path: string): Promise<unknown> => (await fetch(`${url}${path}`)).json()

  // group_setup and _setup_nvmet: one invocation per value, read from stdout.
  t.equal(ok('config', '--show-trtype'), 'tcp')
  t.equal(ok('config', '--show-blkdev-type'), 'file')
  t.equal(ok('config', '--show-hostnqn'), HOSTNQN)
  t.equal(ok('config', '--show-hostid'), HOSTID)
  t.equal(ok('config', '--show-traddr'), '127.0.0.1')
  t.equal(ok('config', '--show-trsvid'), String(port1), 'trsvid (blktests spelling) is the first port')
  t.equal(ok('config', '--show-subsys-uuid'), UUID)
  t.equal(ok('config', '--show-subsysnqn'), SUB)
  t.equal(ctl('config', '--show-nothing').code, 1, 'an unknown query fails')

  // _nvmet_target_setup, with the controller key spelled as blktests passes it in other tests.
  ok('setup', '--subsysnqn', SUB, '--subsys-uuid', UUID, '--hostnqn', HOSTNQN)
  ok('setup', '--subsysnqn', SUB, '--subsys-uuid', UUID, '--hostnqn', HOSTNQN) // a leftover subsystem is replaced
  t.equal(ctl('cleanup', '--subsysnqn', 'blktests-subsystem-9').code, 0, 'cleanup of a subsystem that is not there succeeds')
  ok('add-ports', '--ports', '2', '--subsysnqn', SUB, '--subsys-uuid', UUID, '--hostnqn', HOSTNQN)
  const ports = ok('ports', '--subsysnqn', SUB).split('\n').map(Number)
  t.same(ports, [1, 100, 101], 'the default port and the two added ones expose the subsystem')
  const [, p100] = ok('port-addr', '--port', '100').split(' ').slice(1)
  t.match(ok('port-addr', '--port', '1'), `tcp 127.0.0.1 ${port1}`)
  const subs = (await api('/v1/subsystems')) as Array<{ nqn: string; hosts: string[]; allowAnyHost: boolean; namespaces: Array<{ nsid: number; uuid?: string }> }>
  const s = subs.find((x) => x.nqn === SUB)
  t.ok(s, 'setup created the subsystem in the running target')
  t.same(s?.hosts, [HOSTNQN], 'only the given host is allowed')
  t.equal(s?.namespaces[0]?.uuid, UUID, 'namespace 1 has the subsystem UUID')

  // The host side: our initiator on two ports, as nvme/057 connects one controller per port.
  const host = new NvmeHost({ hostnqn: HOSTNQN, hostid: HOSTID, controllerDefaults: { reconnectDelayMs: 60_000, ioTimeoutMs: 30_000 } })
  t.teardown(() => host.close())
  const c1 = await host.connect({ traddr: '127.0.0.1', trsvcid: port1, subnqn: SUB })
  const c2 = await host.connect({ traddr: '127.0.0.1', trsvcid: Number(p100), subnqn: SUB })
  t.equal(c1.state, 'live')
  t.equal(c2.state, 'live')

  // _setup_nvmet_port_ana through the bridge: the host reads the change (ANA change AEN).
  ok('ana', '--port', '100', '--group', '1', '--state', 'inaccessible')
  t.ok(await waitFor(() => c2.anaStateOf(1) === AnaState.INACCESSIBLE, 30_000), 'the host saw port 100 group 1 inaccessible')
  t.equal(c1.anaStateOf(1), AnaState.OPTIMIZED, 'port 1 stays optimized')
  const bad = ctl('ana', '--port', '100', '--group', '1', '--state', 'sideways')
  t.equal(bad.code, 1, 'a bad ANA state fails')
  t.match(bad.stderr, /state/, 'and the error names the field')

  // _disable_nvmet_ns / _set_nvmet_ns_uuid / _enable_nvmet_ns (nvme/058's remap loop), ns add/group.
  const uuid2 = '7e6d5c4b-3a29-4817-9605-f4e3d2c1b0a9'
  ok('ns-disable', '--nsid', '1')
  ok('ns-uuid', '--nsid', '1', '--uuid', uuid2)
  ok('ns-enable', '--nsid', '1')
  ok('ns-add', '--nsid', '2', '--uuid', UUID.replace(/^5/, '6'), '--group', '2', '--size', '4m')
  ok('ana', '--port', '1', '--group', '2', '--state', 'non-optimized')
  const after = ((await api('/v1/subsystems')) as typeof subs).find((x) => x.nqn === SUB)!
  t.equal(after.namespaces.find((n) => n.nsid === 1)?.uuid, uuid2, 'namespace 1 has its new UUID')
  t.ok(after.namespaces.some((n) => n.nsid === 2), 'namespace 2 was added')

  // Forced reconnect and the controller list.
  t.match(ok('ctrl-list'), /"cntlid"/)

  // _nvmet_target_cleanup: the subsystem goes, and with it the host's controllers.
  ok('cleanup', '--subsysnqn', SUB)
  t.ok(await waitFor(() => c1.state !== 'live' && c2.state !== 'live', 30_000), `cleanup dropped the host (states ${c1.state}, ${c2.state})`)
  t.same(await api('/v1/controllers'), [], 'no controller is left on the target')
  t.same(ok('ports', '--subsysnqn', SUB), '', 'no port exposes the removed subsystem')
  const portsLeft = ((await api('/v1/ports')) as Array<{ id: number }>).map((p) => p.id)
  t.same(portsLeft, [1], "the ports the bridge added are gone; the target's own stays")

  // nvme/048: attr_qid_max is the subsystem's maxIoQueues. Setting it deletes the controllers, as
  // nvmet does, and the host reconnects with that many I/O queues.
  ok('setup', '--subsysnqn', SUB, '--subsys-uuid', UUID, '--hostnqn', HOSTNQN)
  t.equal(ctl('attr', '--subsysnqn', SUB, '--attr', 'attr_qid_max').code, 0, 'attr_qid_max is supported')
  t.equal(ctl('attr', '--subsysnqn', 'blktests-subsystem-9', '--attr', 'attr_qid_max').code, 1, 'not on a subsystem that is not there')
  t.equal(ctl('attr', '--subsysnqn', SUB, '--nsid', '1', '--attr', 'resv_enable').code, 1, 'resv_enable is not (no reservations)')
  const host2 = new NvmeHost({ hostnqn: HOSTNQN, hostid: HOSTID, controllerDefaults: { reconnectDelayMs: 200, ioTimeoutMs: 30_000, nrIoQueues: 4 } })
  t.teardown(() => host2.close())
  const c3 = await host2.connect({ traddr: '127.0.0.1', trsvcid: port1, subnqn: SUB })
  t.equal(c3.stats().ioQueues, 4, 'the host gets the 4 I/O queues it asks for')
  const cntlid = c3.stats().cntlid
  ok('attr', '--subsysnqn', SUB, '--attr', 'attr_qid_max', '--value', '1')
  t.ok(
    await waitFor(() => c3.state === 'live' && c3.stats().cntlid !== cntlid, 60_000),
    `the host reconnected to a new controller (state ${c3.state}, cntlid ${String(c3.stats().cntlid)})`,
  )
  t.equal(c3.stats().ioQueues, 1, 'with 1 I/O queue')
  t.equal(((await api('/v1/subsystems')) as Array<{ nqn: string; maxIoQueues: number }>).find((x) => x.nqn === SUB)?.maxIoQueues, 1, 'the target reports maxIoQueues 1')
  const badQ = ctl('attr', '--subsysnqn', SUB, '--attr', 'attr_qid_max', '--value', '0')
  t.equal(badQ.code, 1, 'attr_qid_max 0 fails')
  t.match(badQ.stderr, /maxIoQueues/, 'and the error names the field')
  await host2.close()
  ok('cleanup', '--subsysnqn', SUB)

  // nvme/041 and 044: setup --hostkey [--ctrkey] gives the host DH-HMAC-CHAP keys; cleanup drops them.
  const hostKey = generateDhchapSecret({ hash: 'sha256' })
  const ctrlKey = generateDhchapSecret({ hash: 'sha256' })
  ok('setup', '--subsysnqn', SUB, '--subsys-uuid', UUID, '--hostnqn', HOSTNQN, '--hostkey', hostKey, '--ctrkey', ctrlKey)
  const host3 = new NvmeHost({ hostnqn: HOSTNQN, hostid: HOSTID, controllerDefaults: { reconnectDelayMs: 60_000, ioTimeoutMs: 30_000 } })
  t.teardown(() => host3.close())
  await t.rejects(host3.connect({ traddr: '127.0.0.1', trsvcid: port1, subnqn: SUB }), 'a host without the key is refused')
  const authed = await host3.connect({ traddr: '127.0.0.1', trsvcid: port1, subnqn: SUB, dhchapSecret: hostKey, dhchapCtrlSecret: ctrlKey })
  t.equal(authed.state, 'live', 'the host with the keys authenticates both ways')
  t.equal(ctl('setup', '--subsysnqn', SUB, '--ctrkey', ctrlKey).code, 1, '--ctrkey alone fails')
  const badKey = await fetch(`${url}/v1/hosts/${encodeURIComponent(HOSTNQN)}/dhchap`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"dhchapKey":"DHHC-1:01:nope:"}' })
  t.equal(badKey.status, 400, 'a malformed secret is refused')
  t.match(((await badKey.json()) as { error: { path: string } }).error.path, /dhchapKey/, 'and the error names the field')
  ok('cleanup', '--subsysnqn', SUB)
  ok('setup', '--subsysnqn', SUB, '--subsys-uuid', UUID, '--hostnqn', HOSTNQN)
  const plain = await host3.connect({ traddr: '127.0.0.1', trsvcid: port1, subnqn: SUB })
  t.equal(plain.state, 'live', 'after cleanup the next setup without keys needs no authentication')
  await host3.close()
  ok('cleanup', '--subsysnqn', SUB)

  // Every verb is in the bridge log (the issue asks it to show nvme/057 and 058's verbs).
  const log = readFileSync(logFile, 'utf8')
  for (const v of ['setup --subsysnqn', 'add-ports --ports 2', 'attr --subsysnqn blktests-subsystem-1 --attr attr_qid_max --value 1', 'PUT /v1/subsystems/blktests-subsystem-1/max-io-queues', 'ana --port 100 --group 1 --state inaccessible', 'ns-disable --nsid 1', 'ns-uuid --nsid 1', 'cleanup --subsysnqn', 'PUT /v1/ana/100/1'])
    t.ok(log.includes(v), `bridge log shows "${v}"`)
  t.notOk(log.includes(hostKey) || log.includes(ctrlKey), 'the DH-HMAC-CHAP secrets are not in the bridge log')
  t.match(log, /"dhchapKey":"\(secret\)"/, 'the log shows that a key was sent')
})

/** The bridge run with sh as blktests runs it, against `url`, logging to `dir`/bridge.log. */
function bridge(t: Test, url: string, dir: string) {
  const env = { ...process.env, NVMF_FAULT_URL: url, NVMF_FAULT_BRIDGE_LOG: join(dir, 'bridge.log'), NVMF_FAULT_HOSTNQN: HOSTNQN, NVMF_FAULT_HOSTID: HOSTID, NVMF_FAULT_SUBSYS_UUID: UUID, NVMF_FAULT_NS_SIZE: '8MiB', TMPDIR: dir }
  const ctl = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync('sh', [BRIDGE, ...args], { env, encoding: 'utf8', timeout: 120_000 })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const ok = (...args: string[]): string => {
    const r = ctl(...args)
    t.equal(r.code, 0, `${args.join(' ')} exits 0 ${r.stderr}`)
    return r.stdout.trim()
  }
  /** A call that must fail with an error naming `what` (a field, an option). */
  const refused = (what: RegExp, ...args: string[]): void => {
    const r = ctl(...args)
    t.equal(r.code, 1, `${args.join(' ')} fails`)
    t.match(r.stderr, what, `${args.join(' ')}: the error names ${String(what)}`)
  }
  return { ctl, ok, refused, log: (): string => readFileSync(join(dir, 'bridge.log'), 'utf8') }
}

t.test('bridge: nvme/030 verbs (ports, subsystems, links, allowed hosts), each change a new discovery genctr', { skip: hasCurl ? false : 'curl is not installed (Debian package curl)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-bridge-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { url, port1 } = await startTarget(t)
  const { ok, ctl, refused, log } = bridge(t, url, dir)
  const SUB1 = 'blktests-subsystem-1'
  const SUB2 = 'blktests-subsystem-2'
  const host = new NvmeHost({ hostnqn: HOSTNQN, hostid: HOSTID, controllerDefaults: { reconnectDelayMs: 60_000, ioTimeoutMs: 30_000 } })
  t.teardown(() => host.close())
  // What `nvme discover` shows blktests: the log of the default port, as this host.
  const discover = async (): Promise<{ genctr: bigint; entries: string[] }> => {
    let genctr = -1n
    const found = await host.discover({ traddr: '127.0.0.1', trsvcid: port1, maxReferralDepth: 0, onLog: (_src, l) => (genctr = BigInt(l.genctr)) })
    return { genctr, entries: found.filter((e) => e.subnqn.startsWith('blktests')).map((e) => `${e.subnqn}@${e.portid}`).sort() }
  }
  const portsApi = async (): Promise<Array<{ id: number; subsystems: string[] }>> => (await fetch(`${url}/v1/ports`)).json() as never

  // _create_nvmet_port: as nvmet's mkdir ports/N, the new port exposes nothing.
  const port = ok('port-add')
  t.equal(port, '100', 'port-add prints the new port id')
  t.same((await portsApi()).find((p) => p.id === 100)?.subsystems, [], 'the new port exposes no subsystem')
  // _create_nvmet_subsystem, _add_nvmet_subsys_to_port, _create_nvmet_host (030's first subsystem).
  ok('subsys-add', '--subsysnqn', SUB1, '--uuid', UUID, '--blkdev', '/dev/loop0', '--size', '4m')
  t.same((await discover()).entries, [], 'a new subsystem allows no host')
  ok('subsys-link', '--port', port, '--subsysnqn', SUB1)
  ok('host-add', '--subsysnqn', SUB1, '--hostnqn', HOSTNQN)
  let d = await discover()
  t.same(d.entries, [`${SUB1}@1`, `${SUB1}@100`], 'the host sees it on the linked port (and on the default port, which exposes every subsystem)')
  const subs = (await (await fetch(`${url}/v1/subsystems`)).json()) as Array<{ nqn: string; namespaces: Array<{ uuid: string }> }>
  t.equal(subs.find((x) => x.nqn === SUB1)?.namespaces[0]?.uuid, UUID, 'subsys-add made namespace 1 with the UUID')

  // Each of 030's checks: the counter grows.
  const steps: Array<[string, string[], string[]]> = [
    ['subsys-add', ['--subsysnqn', SUB2, '--blkdev', '/dev/loop1'], [`${SUB1}@1`, `${SUB1}@100`]],
    ['subsys-link', ['--port', port, '--subsysnqn', SUB2], [`${SUB1}@1`, `${SUB1}@100`]],
    ['host-add', ['--subsysnqn', SUB2, '--hostnqn', HOSTNQN], [`${SUB1}@1`, `${SUB1}@100`, `${SUB2}@1`, `${SUB2}@100`]],
    ['host-remove', ['--subsysnqn', SUB2, '--hostnqn', HOSTNQN], [`${SUB1}@1`, `${SUB1}@100`]],
    ['subsys-unlink', ['--port', port, '--subsysnqn', SUB2], [`${SUB1}@1`, `${SUB1}@100`]],
    ['subsys-remove', ['--subsysnqn', SUB2], [`${SUB1}@1`, `${SUB1}@100`]],
  ]
  for (const [verb, args, entries] of steps) {
    ok(verb, ...args)
    const next = await discover()
    t.ok(next.genctr > d.genctr, `${verb}: genctr ${next.genctr} > ${d.genctr}`)
    t.same(next.entries, entries, `${verb}: the log shows ${entries.join(', ')}`)
    d = next
  }

  // Linking twice changes nothing (not a new generation); unlinking drops the port's controllers.
  ok('subsys-link', '--port', port, '--subsysnqn', SUB1)
  t.equal((await discover()).genctr, d.genctr, 'a second link of the same subsystem is not a change')
  const p100 = Number(ok('port-addr', '--port', port).split(' ')[2])
  const c100 = await host.connect({ traddr: '127.0.0.1', trsvcid: p100, subnqn: SUB1 })
  const c1 = await host.connect({ traddr: '127.0.0.1', trsvcid: port1, subnqn: SUB1 })
  ok('subsys-unlink', '--port', port, '--subsysnqn', SUB1)
  t.ok(await waitFor(() => c100.state !== 'live', 30_000), `unlink deleted the controller on port 100 (state ${c100.state})`)
  t.equal(c1.state, 'live', 'the controller on the default port stays')
  t.same((await discover()).entries, [`${SUB1}@1`], 'the subsystem is no longer offered on port 100')
  await t.rejects(host.connect({ traddr: '127.0.0.1', trsvcid: p100, subnqn: SUB1 }), 'a Connect through port 100 is refused')
  // nvme/060's reset through the bridge: every controller of the subsystem gets CSTS.CFS and goes.
  ok('ctrl-fatal', '--subsysnqn', SUB1)
  t.ok(await waitFor(() => c1.state !== 'live', 30_000), `ctrl-fatal --subsysnqn dropped the controller (state ${c1.state})`)
  ok('ctrl-fatal', '--subsysnqn', 'blktests-nope')
  await host.close()

  // Hostile input: each refusal names what is wrong.
  refused(/port 999/, 'subsys-link', '--port', '999', '--subsysnqn', SUB1)
  refused(/--port must be a non-negative integer/, 'subsys-link', '--port', '1;reboot', '--subsysnqn', SUB1)
  refused(/subnqn.*no subsystem blktests-nope/, 'subsys-link', '--port', port, '--subsysnqn', 'blktests-nope')
  refused(/--subsysnqn is required/, 'subsys-unlink', '--port', port)
  refused(/--hostnqn is required/, 'host-add', '--subsysnqn', SUB1)
  refused(/HTTP 404|no subsystem/, 'subsys-remove', '--subsysnqn', 'blktests-nope')
  refused(/already exists/, 'subsys-add', '--subsysnqn', SUB1)
  refused(/--subsysnqn needs a value/, 'subsys-add', '--subsysnqn')
  // Quotes, a backslash and a space reach the target intact (JSON-escaped, then percent-encoded).
  const odd = 'blktests "quoted" \\ name'
  ok('subsys-add', '--subsysnqn', odd)
  t.ok(((await (await fetch(`${url}/v1/subsystems`)).json()) as Array<{ nqn: string }>).some((x) => x.nqn === odd), 'the odd name arrived unchanged')
  ok('subsys-remove', '--subsysnqn', odd)

  // The end of 030: the subsystem, the port and the host go.
  ok('subsys-remove', '--subsysnqn', SUB1)
  ok('port-remove', '--port', port)
  ok('dhchap-remove', '--hostnqn', HOSTNQN)
  t.same((await portsApi()).map((p) => p.id), [1])
  for (const v of ['port-add', 'subsys-add --subsysnqn blktests-subsystem-2', 'subsys-link --port 100 --subsysnqn blktests-subsystem-2', 'PUT /v1/ports/100/subsystems/blktests-subsystem-2 -> 200', 'host-remove --subsysnqn blktests-subsystem-2', 'DELETE /v1/ports/100/subsystems/blktests-subsystem-1 -> 200'])
    t.ok(log().includes(v), `bridge log shows "${v}"`)
})

t.test('bridge: dhchap changes one DH-HMAC-CHAP setting and keeps the others; a re-authenticating host gets them (nvme/042-045)', { skip: hasCurl ? false : 'curl is not installed (Debian package curl)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-bridge-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { url, port1 } = await startTarget(t)
  const { ok, refused, log } = bridge(t, url, dir)
  const key1 = generateDhchapSecret({ hash: 'sha256' })
  const key2 = generateDhchapSecret({ hash: 'sha256' })
  const ctrlKey = generateDhchapSecret({ hash: 'sha256' })
  ok('setup', '--subsysnqn', SUB, '--subsys-uuid', UUID, '--hostnqn', HOSTNQN, '--hostkey', key1, '--ctrkey', ctrlKey)
  const host = new NvmeHost({ hostnqn: HOSTNQN, hostid: HOSTID, controllerDefaults: { reconnectDelayMs: 60_000, ioTimeoutMs: 30_000 } })
  t.teardown(() => host.close())
  const c = await host.connect({ traddr: '127.0.0.1', trsvcid: port1, subnqn: SUB, dhchapSecret: key1, dhchapCtrlSecret: ctrlKey })
  t.match(await c.reauthenticate(), [{ hash: 'sha256', dhgroup: 'null', bidirectional: true }], "the defaults: nvmet's hmac(sha256), DH group null")

  // _set_nvmet_dhgroup and _set_nvmet_hash (nvmet's hash spelling): the connected host's next
  // authentication uses them, with the same keys.
  ok('dhchap', '--hostnqn', HOSTNQN, '--dhgroup', 'ffdhe2048')
  ok('dhchap', '--hostnqn', HOSTNQN, '--hash', 'hmac(sha512)')
  const again = await c.reauthenticate()
  t.ok(again.length >= 2, 'admin and I/O queues re-authenticated')
  t.ok(again.every((r) => r.hash === 'sha512' && r.dhgroup === 'ffdhe2048' && r.bidirectional), `every queue: sha512, ffdhe2048, both ways (${JSON.stringify(again)})`)

  // _set_nvmet_hostkey: the new key only; the controller key, hash and group stay.
  ok('dhchap', '--hostnqn', HOSTNQN, '--hostkey', key2)
  await t.rejects(c.reauthenticate(), 'the old host key no longer authenticates')
  const c2 = await host.connect({ traddr: '127.0.0.1', trsvcid: port1, subnqn: SUB, dhchapSecret: key2, dhchapCtrlSecret: ctrlKey, dhchapDhgroups: ['ffdhe2048'] })
  t.equal(c2.state, 'live', 'the new host key with the kept controller key and DH group authenticates')

  // Hostile input, named precisely.
  refused(/dhchapDhgroups/, 'dhchap', '--hostnqn', HOSTNQN, '--dhgroup', 'ffdhe1024')
  refused(/dhchapHashes/, 'dhchap', '--hostnqn', HOSTNQN, '--hash', 'hmac(md5)')
  refused(/dhchapKey/, 'dhchap', '--hostnqn', HOSTNQN, '--hostkey', 'DHHC-1:01:nope:')
  refused(/give --hostkey, --ctrkey, --hash or --dhgroup/, 'dhchap', '--hostnqn', HOSTNQN)
  refused(/--hostnqn is required/, 'dhchap', '--hash', 'hmac(sha256)')
  refused(/dhchapKey.*required/, 'dhchap', '--hostnqn', 'nqn.2014-08.org.nvmexpress:uuid:no-keys', '--hash', 'hmac(sha256)')

  // _remove_nvmet_host: the host needs no authentication any more.
  await host.close()
  ok('dhchap-remove', '--hostnqn', HOSTNQN)
  ok('dhchap-remove', '--hostnqn', HOSTNQN)
  const host2 = new NvmeHost({ hostnqn: HOSTNQN, hostid: HOSTID, controllerDefaults: { reconnectDelayMs: 60_000, ioTimeoutMs: 30_000 } })
  t.teardown(() => host2.close())
  t.equal((await host2.connect({ traddr: '127.0.0.1', trsvcid: port1, subnqn: SUB })).state, 'live', 'after dhchap-remove no key is needed')
  await host2.close()
  ok('cleanup', '--subsysnqn', SUB)
  const text = log()
  t.ok(text.includes('dhchap --hostnqn') && text.includes('PATCH /v1/hosts/'), 'the bridge log shows the dhchap verbs and their PATCH requests')
  t.notOk(text.includes(key1) || text.includes(key2) || text.includes(ctrlKey), 'no secret in the bridge log')
})

t.test('bridge: shellcheck-clean POSIX sh', { skip: hasShellcheck ? false : 'shellcheck is not installed (Debian package shellcheck)' }, async (t) => {
  const r = spawnSync('shellcheck', ['-s', 'sh', BRIDGE], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stdout)
})

t.test('bridge: usage without a verb', async (t) => {
  const r = spawnSync('sh', [BRIDGE], { encoding: 'utf8', env: { ...process.env, NVMF_FAULT_BRIDGE_LOG: '/dev/null' } })
  t.equal(r.status, 2)
  t.match(r.stderr, /usage: nvme-target-control VERB/)
})
