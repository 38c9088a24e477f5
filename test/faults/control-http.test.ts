/**
 * The HTTP/JSON control API, driven from code: every resource family, validation errors with the
 * same code and field path as the protobuf socket, the OpenAPI document (served == checked in),
 * /healthz, bearer tokens for non-loopback exposure, and HTTP over a Unix socket (mode 0600).
 * Set UPDATE_OPENAPI=1 to rewrite docs/openapi.json after changing a route or a proto message.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { attachFaults, type FaultsHandle } from '../../faults/attach.js'
import { ControlClient } from '../../faults/control-client.js'
import { startHttpApi } from '../../faults/control-http.js'
import { createTarget, type TargetHandle } from '../../target/index.js'
import { NvmeHost } from '../../initiator/host.js'
import { generateDhchapSecret } from '../../lib/nvme/auth-secret.js'
import { RawHost } from '../helpers/raw-host.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SUBNQN = 'nqn.2026-01.io.nvmf-fault:http-test'

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-http-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function setup(t: Test, extra: { token?: string } = {}): Promise<{ target: TargetHandle; faults: FaultsHandle; base: string; sock: string; ctl: string }> {
  const dir = tmp(t)
  const target = await createTarget({ ports: [{ id: 1, address: '127.0.0.1', port: 0 }], subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '16MiB' }] }] })
  const sock = join(dir, 'http.sock')
  const ctl = join(dir, 'ctl.sock')
  const faults = await attachFaults(target, { seed: 3, control: ctl, recordPdus: true, http: { listen: { host: '127.0.0.1', port: 0 }, socketPath: sock, ...extra } })
  t.teardown(async () => {
    await faults.close()
    await target.close()
  })
  return { target, faults, base: `http://127.0.0.1:${faults.http!.address!.port}`, sock, ctl }
}

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] ??= 'application/json'
  }
  const r = await fetch(`${base}${path}`, init)
  const text = await r.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: r.status, json, text }
}

t.test('HTTP API: resources, verbs shared with the protobuf socket', async (t) => {
  const { target, base, ctl } = await setup(t)
  t.same((await call(base, 'GET', '/healthz')).json, { ok: true })
  const st = await call(base, 'GET', '/v1/status')
  t.equal(st.status, 200)
  t.equal(st.json.target.ports.length, 1)
  t.match((await call(base, 'GET', '/v1/ports')).json, [{ id: 1 }])

  // Subsystems at run time, with hosts and namespaces.
  const add = await call(base, 'POST', '/v1/subsystems', { nqn: 'nqn.2026-01.io.test:sub2', config: { hosts: ['nqn.2014-08.org.nvmexpress:uuid:h1'], anaGroups: [1, 2], namespaces: [{ nsid: 1, size: '4MiB', anaGroup: 2 }] } })
  t.equal(add.status, 200, add.text)
  t.match(add.json, { nqn: 'nqn.2026-01.io.test:sub2', allowAnyHost: false, hosts: ['nqn.2014-08.org.nvmexpress:uuid:h1'] })
  t.equal((await call(base, 'POST', '/v1/subsystems/nqn.2026-01.io.test:sub2/hosts', { hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:h2' })).status, 200)
  t.equal((await call(base, 'DELETE', '/v1/subsystems/nqn.2026-01.io.test:sub2/hosts/nqn.2014-08.org.nvmexpress:uuid:h1')).status, 200)
  t.same(target.status().subsystems.find((s) => s.nqn === 'nqn.2026-01.io.test:sub2')?.hosts, ['nqn.2014-08.org.nvmexpress:uuid:h2'])

  // Namespaces: add, disable, new UUID and NGUID, enable, ANA group, resize, remove.
  const ns = `/v1/subsystems/${SUBNQN}/namespaces`
  t.equal((await call(base, 'POST', ns, { nsid: 2, sizeBytes: 1048576 })).status, 200)
  t.equal((await call(base, 'POST', `${ns}/2/disable`)).status, 200)
  const u = await call(base, 'POST', `${ns}/2/uuid`, {})
  t.match(u.json.uuid, /^[0-9a-f-]{36}$/)
  const g = await call(base, 'POST', `${ns}/2/nguid`, { nguid: '00112233445566778899aabbccddeeff' })
  t.same(g.json, { nguid: '00112233445566778899aabbccddeeff' })
  t.equal((await call(base, 'POST', `${ns}/2/enable`)).status, 200)
  t.equal((await call(base, 'POST', `${ns}/2/resize`, { sizeBytes: 2097152 })).status, 200)
  const ns2 = target.status().subsystems[0]!.namespaces.find((n) => n.nsid === 2)!
  t.match(ns2, { uuid: u.json.uuid, nguid: '00112233445566778899aabbccddeeff', sizeBytes: 2097152, enabled: true })
  t.equal((await call(base, 'DELETE', `${ns}/2`)).status, 200)

  // ANA per port x group.
  const ana = await call(base, 'PUT', '/v1/ana/1/1', { state: 'inaccessible' })
  t.equal(ana.status, 200, ana.text)
  t.ok((await call(base, 'GET', '/v1/ana')).json.some((a: { subnqn: string; portId: number; grpid: number; state: string }) => a.subnqn === SUBNQN && a.portId === 1 && a.grpid === 1 && a.state === 'inaccessible'))

  // Faults: add, list, get with counters, remove, clear.
  t.same((await call(base, 'POST', '/v1/faults', { id: 'slow', type: 'delay', match: { commands: ['read'] }, params: { delay: { ms: 1 } } })).json, { id: 'slow' })
  t.match((await call(base, 'GET', '/v1/faults')).json, [{ id: 'slow', seen: 0, fired: 0 }])
  t.match((await call(base, 'GET', '/v1/faults/slow')).json, { id: 'slow', type: 'delay', seen: 0 })
  t.equal((await call(base, 'GET', '/v1/faults/nope')).status, 404)
  t.same((await call(base, 'DELETE', '/v1/faults/slow')).json, { removed: 1 })
  await call(base, 'POST', '/v1/faults', { type: 'delay', params: { delay: { ms: 1 } } })
  t.same((await call(base, 'DELETE', '/v1/faults')).json, { removed: 1 })

  // Errors: the same code and field path as on the protobuf socket.
  const c = await ControlClient.connect(ctl)
  t.teardown(() => c.close())
  const cases: Array<[string, string, unknown, string, Record<string, unknown>]> = [
    ['POST', '/v1/faults', { type: 'status', params: { status: 'NOPE' } }, 'faultAdd', { type: 'status', params: { status: 'NOPE' } }],
    ['PUT', '/v1/ana/1/1', { state: 'sideways' }, 'anaSet', { port: 1, group: 1, state: 'sideways' }],
    ['POST', `${ns}/7/group`, { group: 999 }, 'ns', { op: 'group', nsid: 7, group: 999, subnqn: SUBNQN }],
  ]
  for (const [m, p, body, op, args] of cases) {
    const h = await call(base, m, p, body)
    const pb = await c.request(op, args as never)
    t.equal(h.status, 400, `${m} ${p} is a 400`)
    t.same({ code: h.json.error.code, path: h.json.error.path }, { code: pb.error?.code, path: pb.error?.path }, `${op}: same code and path on both transports (${pb.error?.path})`)
  }
  const typeErr = await call(base, 'POST', ns, { nsid: 'two' })
  t.match(typeErr.json.error, { code: 'ERR_NVMEOF_CONFIG', path: 'nsid' }, 'a wrongly typed field is named')
  t.match((await call(base, 'POST', ns, { nsid: 3, colour: 'red' })).json.error, { code: 'ERR_NVMEOF_CONFIG', path: 'colour' }, 'an unknown field is named')
  t.match((await call(base, 'POST', ns, '{not json')).json.error, { code: 'ERR_NVMEOF_CONFIG', path: '(body)' })
  t.equal((await call(base, 'GET', '/v1/nothing')).status, 404)
  t.equal((await call(base, 'PATCH', '/v1/faults')).status, 405)

  // Scenario: run from a YAML body, state, stop.
  const run = await call(base, 'POST', '/v1/scenario?seed=9', 'name: s\nsteps:\n  - { atMs: 0, mark: via-http }\n', { 'content-type': 'application/yaml' })
  t.equal(run.status, 200, run.text)
  t.match(run.json, { name: 's', seed: '9' })
  t.match((await call(base, 'GET', '/v1/scenario')).json, { name: 's', state: /running|finished/, seed: '9' })
  t.same((await call(base, 'DELETE', '/v1/scenario')).json, { stopped: true })

  // Controllers, AENs, referrals.
  const host = await RawHost.connect({ port: target.ports[0]!.port })
  t.teardown(() => host.destroy())
  const cntlid = await host.connectAdmin({ subnqn: SUBNQN })
  t.match((await call(base, 'GET', '/v1/controllers')).json, [{ cntlid }])
  // Both spellings of a state for one release: `state` unchanged (deprecated), `stateName` lower case.
  const enabled = await call(base, 'GET', '/v1/status?section=controllers')
  t.match(enabled.json, [{ cntlid, state: 'READY', stateName: 'ready', queues: [{ qid: 0, state: 'LIVE', stateName: 'live' }] }], 'status API: state and stateName')
  t.equal((await call(base, 'POST', '/v1/aens', { event: 'ns-changed', nsids: [1] })).status, 200)
  t.match((await call(base, 'POST', '/v1/referrals', { address: '127.0.0.2', trsvcid: 4420 })).json, [{ address: '127.0.0.2', port: 4420 }])
  t.same((await call(base, 'DELETE', '/v1/referrals?address=127.0.0.2&trsvcid=4420')).json, { removed: 1 })
  t.same((await call(base, 'DELETE', `/v1/controllers/${cntlid}`)).json, { deleted: 1 })

  // Trace export (JSON lines, pcap) and config export.
  const jsonl = await call(base, 'GET', '/v1/trace?format=jsonl')
  t.match(jsonl.text, /"action":"mark","detail":"via-http"/)
  const pcap = await fetch(`${base}/v1/trace?format=pcap`)
  t.equal(pcap.headers.get('content-type'), 'application/vnd.tcpdump.pcap')
  t.equal(Buffer.from(await pcap.arrayBuffer()).readUInt32LE(0), 0xa1b2c3d4, 'pcap magic')
  const cfg = (await call(base, 'GET', '/v1/config')).json
  t.match(cfg, { ports: [{ id: 1, anaStates: { '1': 'inaccessible' } }], subsystems: [{ nqn: SUBNQN }, { nqn: 'nqn.2026-01.io.test:sub2', hosts: ['nqn.2014-08.org.nvmexpress:uuid:h2'] }] })
  t.equal((await call(base, 'DELETE', '/v1/subsystems/nqn.2026-01.io.test:sub2')).status, 200)
  t.equal(target.status().subsystems.length, 1, 'subsystem removed')
})

t.test('OpenAPI: served document equals the checked-in docs/openapi.json', async (t) => {
  const { base } = await setup(t)
  const served = (await call(base, 'GET', '/v1/openapi.json')).text
  const file = join(ROOT, 'docs/openapi.json')
  if (process.env.UPDATE_OPENAPI === '1') writeFileSync(file, served)
  t.equal(served, readFileSync(file, 'utf8'), 'docs/openapi.json is current (UPDATE_OPENAPI=1 rewrites it)')
  const doc = JSON.parse(served) as { openapi: string; paths: Record<string, unknown> }
  t.match(doc.openapi, /^3\./)
  t.ok(doc.paths['/v1/faults/{id}'] !== undefined && doc.paths['/healthz'] !== undefined)
})

t.test('exposure: loopback only unless allowed, then a bearer token', async (t) => {
  const { faults } = await setup(t)
  const controller = faults.controller
  await t.rejects(startHttpApi({ controller, listen: { host: '0.0.0.0', port: 0 } }), { code: 'ERR_NVMEOF_INVALID_ARG', message: /http-allow/ })
  await t.rejects(startHttpApi({ controller, listen: { host: '0.0.0.0', port: 0 }, allow: ['0.0.0.0'] }), { code: 'ERR_NVMEOF_INVALID_ARG', message: /token/ })
  const token = 'a-long-bearer-token-123'
  const api = await startHttpApi({ controller, listen: { host: '127.0.0.1', port: 0 }, token })
  t.teardown(() => api.close())
  const base = `http://127.0.0.1:${api.address!.port}`
  t.equal((await call(base, 'GET', '/healthz')).status, 200, 'healthz needs no token')
  const no = await call(base, 'GET', '/v1/status')
  t.equal(no.status, 401)
  t.match(no.json.error, { path: 'token' })
  t.equal((await call(base, 'GET', '/v1/status', undefined, { authorization: 'Bearer wrong-token-wrong-token' })).status, 401)
  t.equal((await call(base, 'POST', '/v1/faults', { type: 'delay' }, { authorization: 'Bearer nope' })).status, 401, 'refused before the body')
  t.equal((await call(base, 'GET', '/v1/status', undefined, { authorization: `Bearer ${token}` })).status, 200)
})

t.test('HTTP over a Unix socket, mode 0600', async (t) => {
  const { sock } = await setup(t)
  t.equal(statSync(sock).mode & 0o777, 0o600)
  const body = await new Promise<string>((resolve, reject) => {
    const req = http.request({ socketPath: sock, path: '/v1/ports', method: 'GET' }, (res) => {
      let s = ''
      res.on('data', (d: Buffer) => (s += d.toString()))
      res.on('end', () => resolve(s))
    })
    req.on('error', reject)
    req.end()
  })
  t.match(JSON.parse(body), [{ id: 1 }])
})

t.test('HTTP API: port x subsystem links (nvmet ports/<id>/subsystems) and PATCH of a host\'s DH-HMAC-CHAP settings', async (t) => {
  const { target, base, ctl } = await setup(t)
  const genctr = (): bigint => BigInt(target.status().discovery.genctr)
  const SUB2 = 'nqn.2026-01.io.test:linked'
  t.equal((await call(base, 'POST', '/v1/ports', { port: 2, address: '127.0.0.1', trsvcid: 0, subsystems: [] })).status, 200)
  t.same(target.status().ports.find((p) => p.id === 2)?.subsystems, [], 'a port added with subsystems [] exposes none')
  t.equal((await call(base, 'POST', '/v1/subsystems', { nqn: SUB2, config: { allowAnyHost: true, namespaces: [{ nsid: 1, size: '1MiB' }] } })).status, 200)
  t.same(target.status().ports.find((p) => p.id === 2)?.subsystems, [], 'nor a subsystem added later')
  const port2 = target.ports.find((p) => p.id === 2)!.port
  await t.rejects(RawHost.connect({ port: port2 }).then(async (h) => {
    try {
      await h.connectAdmin({ subnqn: SUB2 })
    } finally {
      h.destroy()
    }
  }), 'a Connect to an unlinked subsystem is refused')

  let g = genctr()
  const link = await call(base, 'PUT', `/v1/ports/2/subsystems/${SUB2}`)
  t.same([link.status, link.json], [200, { changed: true }])
  t.ok(genctr() > g, 'linking bumps the discovery genctr')
  t.same(target.status().ports.find((p) => p.id === 2)?.subsystems, [SUB2])
  g = genctr()
  t.same((await call(base, 'PUT', `/v1/ports/2/subsystems/${SUB2}`)).json, { changed: false }, 'a second link changes nothing')
  t.equal(genctr(), g, 'and is not a new generation')

  const host = await RawHost.connect({ port: port2 })
  t.teardown(() => host.destroy())
  const cntlid = await host.connectAdmin({ subnqn: SUB2 })
  t.same((await call(base, 'DELETE', `/v1/ports/2/subsystems/${SUB2}`)).json, { changed: true })
  t.ok(genctr() > g, 'unlinking bumps the discovery genctr')
  t.notOk(target.status().controllers.some((c) => c.cntlid === cntlid), "unlinking deleted the subsystem's controller on that port")
  // Port 1 exposes every subsystem: unlinking one gives it an explicit list of the others.
  t.same((await call(base, 'DELETE', `/v1/ports/1/subsystems/${SUB2}`)).json, { changed: true })
  t.same(target.status().ports.find((p) => p.id === 1)?.subsystems, [SUBNQN], 'port 1 now lists only the others')

  // Hostile input, with the field named; the same on the protobuf socket.
  const c = await ControlClient.connect(ctl)
  t.teardown(() => c.close())
  for (const [m, p, op, args, path] of [
    ['PUT', `/v1/ports/9/subsystems/${SUB2}`, 'port', { op: 'link', port: 9, subnqn: SUB2 }, 'port'],
    ['PUT', '/v1/ports/2/subsystems/nqn.2026-01.io.test:none', 'port', { op: 'link', port: 2, subnqn: 'nqn.2026-01.io.test:none' }, 'subnqn'],
    ['PUT', '/v1/ports/70000/subsystems/x', 'port', { op: 'link', port: 70000, subnqn: 'x' }, 'port'],
  ] as const) {
    const h = await call(base, m, p)
    const pb = await c.request(op, args as never)
    t.ok(h.status === 400 || h.status === 404, `${m} ${p} is refused (${h.status})`)
    t.same({ code: h.json.error.code, path: h.json.error.path }, { code: pb.error?.code, path: pb.error?.path }, `${p}: same code and path on both transports (${h.json.error.path})`)
    t.equal(h.json.error.path, path)
  }
  t.equal((await call(base, 'POST', '/v1/ports', { port: 3, subsystems: ['nqn.2026-01.io.test:none'] })).json.error.path, 'ports[0].subsystems[0]', 'a port naming an unknown subsystem is refused, the entry named')

  // PATCH: one setting at a time, the others kept; a host without keys needs dhchapKey.
  const H = 'nqn.2014-08.org.nvmexpress:uuid:patched'
  const key = generateDhchapSecret({ hash: 'sha256' })
  const noKey = await call(base, 'PATCH', `/v1/hosts/${H}/dhchap`, { dhchapDhgroups: ['ffdhe2048'] })
  t.same([noKey.status, noKey.json.error.path], [400, 'dhchapKey'], 'PATCH of a host without keys needs dhchapKey')
  t.equal((await call(base, 'PUT', `/v1/hosts/${H}/dhchap`, { dhchapKey: key })).status, 200)
  t.equal((await call(base, 'PATCH', `/v1/hosts/${H}/dhchap`, { dhchapDhgroups: ['ffdhe2048'] })).status, 200)
  t.equal((await call(base, 'PATCH', `/v1/hosts/${H}/dhchap`, { dhchapHashes: ['sha512'] })).status, 200)
  const badGroup = await call(base, 'PATCH', `/v1/hosts/${H}/dhchap`, { dhchapDhgroups: ['ffdhe1024'] })
  t.same([badGroup.status, badGroup.json.error.code], [400, 'ERR_NVMEOF_CONFIG'])
  t.match(badGroup.json.error.path, /dhchapDhgroups/, 'a DH group that does not exist is named')
  // Both changes kept, with the key: a host must offer sha512 and ffdhe2048 now.
  const nvme = new NvmeHost({ hostnqn: H, controllerDefaults: { reconnectDelayMs: 60_000, ioTimeoutMs: 30_000 } })
  t.teardown(() => nvme.close())
  const at = { traddr: '127.0.0.1', trsvcid: target.ports[0]!.port, subnqn: SUBNQN, dhchapSecret: key }
  await t.rejects(nvme.connect({ ...at, dhchapDhgroups: ['null'] }), 'offering only the null DH group is refused')
  await t.rejects(nvme.connect({ ...at, dhchapHashes: ['sha256'] }), 'offering only sha256 is refused')
  t.equal((await nvme.connect({ ...at, dhchapHashes: ['sha512'], dhchapDhgroups: ['ffdhe2048'] })).state, 'live', 'sha512 with ffdhe2048 and the key authenticates')
})
