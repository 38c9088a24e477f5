/**
 * The control plane: the Unix socket (mode 0600) and loopback TCP (token) endpoints speaking
 * length-delimited protobuf; bad requests get clear errors and the target keeps running; and the
 * CLI driving a running target in a child process: `nvmf-fault ctl --control PATH ana set --port 1
 * --group 1 --state inaccessible` changes what a connected host reads in the ANA log and raises
 * the ANA-change AEN.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { decodeAnaLog } from '../../lib/nvme/log-ana.js'
import { makeSqe } from '../../lib/nvme/sqe.js'
import { ControlClient, ControlRequestError } from '../../faults/control-client.js'
import { decodeTraceProto } from '../../faults/trace.js'
import { DEFAULT_SUBSYSTEM_NQN } from '../../target/index.js'
import { fixture, SUBNQN } from './helpers/fixture.js'
import { orUndefined, RawHost } from '../helpers/raw-host.js'
import { cliArgs, runCli, waitFor } from '../helpers/cli-process.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-ctl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Enable AENs (ANA change, namespace attribute) and read the ANA log (Get Log Page LID 0Ch). */
async function enableAens(h: RawHost): Promise<void> {
  await h.command(makeSqe({ opc: 0x09, cid: h.nextCid(), cdw10: 0x0b, cdw11: (1 << 8) | (1 << 11) }))
}
async function anaStateOf(h: RawHost, grpid: number): Promise<number | undefined> {
  const r = await orUndefined(h.getLogPage(0x0c, 4096, { nsid: 0 }))
  if (r === undefined || r.cqe.status !== 0) return undefined
  return decodeAnaLog(r.data).groups.find((g) => g.grpid === grpid)?.state
}

t.test('in-process control server: verbs, errors, socket mode, TCP token', async (t) => {
  const dir = tmp(t)
  const path = join(dir, 'ctl.sock')
  const f = await fixture(t, { control: path })
  t.equal(statSync(path).mode & 0o777, 0o600, 'socket created with mode 0600')
  const c = await ControlClient.connect(path)
  t.teardown(() => c.close())

  const st = (await c.call('status')).json as { target: { ports: unknown[] }; faults: unknown[] }
  t.equal(st.target.ports.length, 1)
  const added = (await c.call('faultAdd', { id: 'slow', type: 'delay', match: { commands: ['read'] }, params: { delay: { ms: 1 } } })).json
  t.same(added, { id: 'slow' })
  const list = (await c.call('faultList')).json as Array<{ id: string; type: string }>
  t.match(list, [{ id: 'slow', type: 'delay' }])

  // Bad requests: a clear error naming the field; the connection and the target keep working.
  const bad = await c.request('faultAdd', { type: 'status', params: { status: 'NOPE' } })
  t.equal(bad.ok, false)
  t.match(bad.error, { code: 'ERR_NVMEOF_CONFIG', path: 'fault.params.status' })
  const badAna = await c.request('anaSet', { port: 1, group: 1, state: 'sideways' })
  t.match(badAna.error, { code: 'ERR_NVMEOF_INVALID_ARG', path: 'state' })
  const noPort = await c.request('anaSet', { port: 9, group: 1, state: 'optimized' })
  t.match(noPort.error, { code: 'ERR_NVMEOF_INVALID_ARG', message: /port/ })
  await t.rejects(c.call('faultClear', { id: 'nope' }), ControlRequestError)
  t.same((await c.call('faultClear', { id: 'slow' })).json, { removed: 1 })

  // Namespaces through the control plane, seen by a host.
  const { host } = await f.admin()
  await c.call('ns', { op: 'add', nsid: 2, sizeBytes: 1024 * 1024 })
  await c.call('ns', { op: 'disable', nsid: 2 })
  const u = (await c.call('ns', { op: 'uuid', nsid: 2 })).json as { uuid: string }
  t.match(u.uuid, /^[0-9a-f-]{36}$/)
  await c.call('ns', { op: 'enable', nsid: 2 })
  const ns2 = f.target.status().subsystems[0]!.namespaces.find((n) => n.nsid === 2)
  t.equal(ns2?.uuid, u.uuid, 'the target holds the new UUID')
  await c.call('ns', { op: 'resize', nsid: 2, sizeBytes: 2 * 1024 * 1024 })
  t.equal(f.target.status().subsystems[0]!.namespaces.find((n) => n.nsid === 2)?.sizeBytes, 2 * 1024 * 1024)
  const idList = await host.admin(0x06, { cdw10: 0x02 }, { readLength: 4096 })
  t.equal(idList?.data.readUInt32LE(4), 2, 'active NSID list has namespace 2')

  // A scenario run through the socket, then the trace in three formats.
  const run = (await c.call('scenarioRun', { text: 'steps:\n  - { atMs: 0, mark: hello }\n', source: 'inline' })).json
  t.match(run, { state: /running|finished/ })
  const jsonl = (await c.call('traceDump', { format: 'jsonl' })).data!.toString()
  t.match(jsonl, /"action":"mark","detail":"hello"/)
  const proto = (await c.call('traceDump', { format: 'proto' })).data!
  const events = decodeTraceProto(f.faults.engine.schemas, proto)
  t.ok(events.some((e) => e.action === 'ns-uuid' && e.detail?.includes(u.uuid)), 'protobuf trace decodes and holds the UUID change')
  t.same((await c.call('scenarioStop')).json, { stopped: true })

  // Garbage bytes: an error reply, connection closed, server still serving.
  const raw = net.connect({ path })
  await new Promise((r) => raw.once('connect', r))
  raw.resume()
  raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
  await new Promise((r) => raw.once('close', r))
  t.equal((await c.call('status')).json !== null, true, 'the server keeps serving')

  // TCP on loopback only, with a token.
  const { startControlServer } = await import('../../faults/control-server.js')
  await t.rejects(startControlServer({ controller: f.faults.controller, tcp: { host: '0.0.0.0', port: 0, token: 'secret-token' } }), { code: 'ERR_NVMEOF_INVALID_ARG' })
  const tcp = await startControlServer({ controller: f.faults.controller, tcp: { host: '127.0.0.1', port: 0, token: 'secret-token' } })
  t.teardown(() => tcp.close())
  const ep = `tcp://127.0.0.1:${tcp.tcpAddress!.port}`
  // A wrong token is refused on the first frame and the connection closed (control-hardening.test.ts).
  await t.rejects(ControlClient.connect(ep, { token: 'wrong-token!' }), { name: 'ControlRequestError', message: /token/ })
  const right = await ControlClient.connect(ep, { token: 'secret-token' })
  t.teardown(() => right.close())
  t.equal((await right.request('status')).ok, true)
})

t.test('in-process: ANA set through the control plane changes the ANA log and raises the AEN', async (t) => {
  const dir = tmp(t)
  const path = join(dir, 'ctl.sock')
  const f = await fixture(t, { control: path })
  const { host } = await f.admin()
  await enableAens(host)
  t.equal(await anaStateOf(host, 1), 1, 'optimized before')
  const aer = host.aer(5000)
  const c = await ControlClient.connect(path)
  t.teardown(() => c.close())
  await c.call('anaSet', { port: 1, group: 1, state: 'inaccessible' })
  t.equal((await aer)?.cqe.dw0, 0x000c0302, 'ANA change AEN')
  t.equal(await anaStateOf(host, 1), 3, 'inaccessible after')
  const { io } = { io: await RawHost.connect({ port: f.port }) }
  t.teardown(() => io.destroy())
  const cntlid = f.target.status().controllers.find((x) => !x.discovery)!.cntlid
  await io.connectIo({ subnqn: SUBNQN, cntlid, qid: 1 })
  t.equal((await io.read(1, 0n, 1))?.cqe.status, 0x302, 'I/O on the path answers ANA Inaccessible')
})

t.test('CLI: nvmf-fault ctl drives a running nvmf-fault target (child processes)', async (t) => {
  const dir = tmp(t)
  const path = join(dir, 'ctl.sock')
  const target: ChildProcess = spawn(
    process.execPath,
    [...cliArgs(), 'target', '--listen', '127.0.0.1:0', '--listen', '127.0.0.1:0', '--control', path, '--seed', '5', '--trace-out', join(dir, 'trace.jsonl'), '--no-pretty', '--log-level', 'info'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  let stdout = ''
  target.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  target.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  const exited = new Promise<number | null>((r) => target.on('exit', (code) => r(code)))
  t.teardown(async () => {
    if (target.exitCode === null) {
      target.kill('SIGTERM')
      await exited
    }
  })
  t.ok(await waitFor(() => existsSync(path), 300_000), `control socket appears (${stderr})`)

  // Port 1's bound port from the target's JSON start-up log ("listening on ADDR:PORT").
  const listening = () => stdout.split('\n').flatMap((l) => (l.includes('"portId":1') && l.includes('listening on') ? [JSON.parse(l) as { port: number }] : []))
  t.ok(await waitFor(() => listening().length > 0, 300_000), 'target logged its ports')
  const port1 = listening()[0]!.port

  const host = await RawHost.connect({ port: port1 })
  t.teardown(() => host.destroy())
  const c = await host.connectCmd({ qid: 0, subnqn: DEFAULT_SUBSYSTEM_NQN })
  t.equal(c.cqe.status, 0)
  await host.enable()
  await enableAens(host)
  t.equal(await anaStateOf(host, 1), 1, 'ANA log: group 1 optimized')
  const aer = host.aer(180_000) // the ctl child process may take long to start on a loaded machine

  const set = await runCli(['ctl', '--control', path, 'ana', 'set', '--port', '1', '--group', '1', '--state', 'inaccessible'])
  t.equal(set.code, 0, set.stderr)
  t.equal((await aer)?.cqe.dw0, 0x000c0302, 'the connected host got the ANA change AEN')
  t.equal(await anaStateOf(host, 1), 3, 'ANA log: group 1 inaccessible on port 1')

  // A bad request: a clear error and a non-zero exit; the target keeps running.
  const bad = await runCli(['ctl', '--control', path, 'fault', 'add', '--json', '{"type":"status","params":{"status":"NOPE"}}'])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /fault\.params\.status/)
  const dump = await runCli(['ctl', '--control', path, 'trace', 'dump'])
  t.equal(dump.code, 0, `trace dump exits 0 (${dump.stderr.slice(0, 500)})`)
  t.match(dump.stdout, /"detail":"ana port 1 group 1 -> inaccessible"/)
  t.match(dump.stdout, /"action":"queue-live"/)
  t.equal(target.exitCode, null, 'target still running')
  target.kill('SIGTERM')
  await exited
  t.notOk(existsSync(path), 'control socket removed on shutdown')
  const traceOut = readFileSync(join(dir, 'trace.jsonl'), 'utf8')
  t.match(traceOut, /"action":"controller-created"/, '--trace-out written at shutdown, with controller life-cycle events')
  t.match(traceOut, /"detail":"ana port 1 group 1 -> inaccessible"/)
})
