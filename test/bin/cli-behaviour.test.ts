/**
 * `nvmf-fault` as a process against an in-process target on loopback: `discover -o json` read with
 * nvme-cli's keys, the 8009 → 4420 fallback, a closed stdout, `ctl -o json|normal` confirmations,
 * and the progress bar on a terminal (util-linux `script`) but not on a pipe.
 */
import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { attachFaults } from '../../faults/attach.js'
import { createTarget } from '../../target/index.js'
import { cliArgs } from '../helpers/cli-process.js'
import { RawHost } from '../helpers/raw-host.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:cli-behaviour'
/** The keys nvme-cli's json_discovery_log() writes for a TCP entry (src/nvme-print-json.c). */
const NVME_CLI_RECORD_KEYS = ['trtype', 'adrfam', 'subtype', 'treq', 'portid', 'trsvcid', 'subnqn', 'traddr', 'eflags', 'sectype']
const env = { ...process.env, NODE_OPTIONS: '', TS_NODE_TRANSPILE_ONLY: '1' }

interface Run {
  code: number | null
  out: string
  err: string
}

function run(args: string[], opts: { closeStdout?: boolean } = {}, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...cliArgs(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
    let out = ''
    let err = ''
    // A reader that went away before the command printed (as `| head -0` would).
    if (opts.closeStdout === true) p.stdout.destroy()
    else p.stdout.on('data', (b: Buffer) => (out += b.toString()))
    p.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const timer = setTimeout(() => {
      p.kill('SIGKILL')
      reject(new Error(`${args.join(' ')}: no exit within ${timeoutMs} ms\n${err}`))
    }, timeoutMs)
    p.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    })
  })
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

t.test('discover -o json, connect/io -o json, closed stdout', async (t) => {
  const target = await createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0 },
    ],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '1MiB', blockSize: 512 }] }],
  })
  t.teardown(() => target.close())
  const [p1, p2] = target.ports.map((p) => String(p.port)) as [string, string]

  const d = await run(['discover', '-a', '127.0.0.1', '-s', p1, '-o', 'json'])
  t.equal(d.code, 0, d.err)
  t.equal(d.err, '', 'nothing on stderr')
  const log = JSON.parse(d.out) as { genctr: unknown; records: Record<string, unknown>[] }
  t.type(log.genctr, 'number', 'genctr is a JSON number, as nvme-cli prints it')
  t.ok(log.records.length >= 3, 'the discovery entry and both ports of the subsystem')
  for (const r of log.records) t.same(Object.keys(r), NVME_CLI_RECORD_KEYS, `record ${String(r.subnqn)}:${String(r.trsvcid)} has nvme-cli's keys`)
  const nvme = log.records.filter((r) => r.subtype === 'nvme subsystem' && r.subnqn === SUBNQN)
  t.same(nvme.map((r) => r.trsvcid).sort(), [p1, p2].sort(), 'trsvcid of both ports, as strings like nvme-cli')
  t.match(nvme[0], { trtype: 'tcp', adrfam: 'ipv4', traddr: '127.0.0.1', sectype: 'none', eflags: 'none' })
  t.type(nvme[0]!.portid, 'number')

  const io = await run(['io', '-a', '127.0.0.1', '-s', p1, '-n', SUBNQN, '--count', '50', '--qd', '2', '-o', 'json'])
  t.equal(io.code, 0, io.err)
  const sum = JSON.parse(io.out) as { ops: number; errors: number }
  t.equal(sum.ops, 50)
  t.equal(sum.errors, 0)

  const closed = await run(['discover', '-a', '127.0.0.1', '-s', p1], { closeStdout: true })
  t.equal(closed.code, 0, 'a closed stdout ends the command with its exit code so far')
  t.equal(closed.err, '', 'and quietly: no EPIPE message or stack')
})

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => resolve(false))
    srv.listen({ host, port }, () => srv.close(() => resolve(true)))
  })
}

// A loopback address of its own, so that no other listener on the machine's 127.0.0.1:4420 answers.
const fallbackAddr = `127.0.0.${100 + Math.floor(Math.random() * 150)}`
const fallbackSkip = (await canConnect(fallbackAddr, 8009))
  ? `something listens on ${fallbackAddr}:8009`
  : !(await canListen(fallbackAddr, 4420))
    ? `cannot listen on ${fallbackAddr}:4420`
    : false

t.test('discover without -s falls back to 4420 when 8009 refuses', { skip: fallbackSkip }, async (t) => {
  const addr = fallbackAddr
  const target = await createTarget({ ports: [{ id: 1, address: addr, port: 4420 }], subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '1MiB' }] }] })
  t.teardown(() => target.close())
  const d = await run(['discover', '-a', addr])
  t.equal(d.code, 0, d.err)
  t.match(d.err, new RegExp(`${addr.replace(/\./g, '\\.')}:8009 refused the connection; trying 4420`), 'says why it moved')
  t.match(d.out, new RegExp(`Discovery log from ${addr.replace(/\./g, '\\.')}:4420: 2 entries`))

  const given = await run(['discover', '-a', addr, '-s', '8009'])
  t.equal(given.code, 3, 'an explicit -s is not second-guessed: unreachable, exit 3')
  t.match(given.err, /^nvmf-fault: .*:8009 refused the connection: no NVMe\/TCP discovery service listens there \[ERR_NVMEOF_CONNECTION\]\n$/)
})

t.test('ctl: -o json and normal; a change prints a short confirmation', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const sock = join(dir, 'ctl.sock')
  const target = await createTarget({ ports: [{ id: 1, address: '127.0.0.1', port: 0 }], subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '1MiB' }] }] })
  const faults = await attachFaults(target, { control: sock })
  t.teardown(async () => {
    await faults.close()
    await target.close()
  })
  const ctl = (...a: string[]) => run(['ctl', '--control', sock, ...a])

  const ana = await ctl('ana', 'set', '--port', '1', '--group', '1', '--state', 'inaccessible')
  t.equal(ana.code, 0, ana.err)
  t.equal(ana.out, 'port 1 ANA group 1: inaccessible\n', 'one line, not the whole status')
  const anaJson = await ctl('ana', 'set', '--port', '1', '--group', '1', '--state', 'optimized', '-o', 'json')
  t.same(JSON.parse(anaJson.out), { port: 1, group: 1, state: 'optimized' })

  const add = await ctl('fault', 'add', '--json', '{"id":"slow","type":"delay","params":{"delay":{"ms":1}},"match":{"kinds":["io"]}}')
  t.equal(add.out, 'fault slow added\n')
  const status = await ctl('status')
  t.match(status.out, /^port 1 {2}127\.0\.0\.1:\d+/m)
  t.match(status.out, /^fault slow {2}delay .* seen 0 {2}fired 0$/m)
  const statusJson = JSON.parse((await ctl('status', '-o', 'json')).out) as { target: { discovery: { genctr: unknown } }; faults: unknown }
  t.type(statusJson.target.discovery.genctr, 'number', 'a 64-bit counter prints as a number')
  t.match(statusJson.faults, [{ id: 'slow', seen: 0, fired: 0 }])

  // A controller's state: the deprecated upper-case value, then the lower-case name (docs/design.md "State names").
  const host = await RawHost.connect({ port: target.ports[0]!.port })
  t.teardown(() => host.destroy())
  const cntlid = await host.connectAdmin({ subnqn: SUBNQN })
  t.match((await ctl('status')).out, new RegExp(`^controller ${cntlid} {2}READY \\(ready\\) {2}port 1 `, 'm'), 'text: state (stateName)')
  const withCtrl = JSON.parse((await ctl('status', '-o', 'json')).out) as { target: { controllers: unknown } }
  t.match(withCtrl.target.controllers, [{ cntlid, state: 'READY', stateName: 'ready', queues: [{ qid: 0, state: 'LIVE', stateName: 'live' }] }], 'JSON: state and stateName')

  const bad = await ctl('fault', 'clear', '--id', 'nope', '--output-format', 'yaml')
  t.equal(bad.code, 2)
  t.match(bad.err, /^nvmf-fault: option '-o, --output-format <format>' argument 'yaml' is invalid\. Allowed choices are normal, json\. \[commander\.invalidArgument\]\n$/)
})

function haveScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

// The pipe case is in test/initiator/cli.test.ts (io with piped stdout/stderr draws no bar).
t.test('a progress bar on a terminal (script -qc)', { skip: haveScript() ? false : 'util-linux script is not installed' }, async (t) => {
  const target = await createTarget({ ports: [{ id: 1, address: '127.0.0.1', port: 0 }], subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '1MiB' }] }] })
  t.teardown(() => target.close())
  const args = ['io', '-a', '127.0.0.1', '-s', String(target.ports[0]!.port), '-n', SUBNQN, '--count', '400', '--qd', '1']
  const cmd = [process.execPath, ...cliArgs(), ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  const tty = await new Promise<Run>((resolve) => {
    const p = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env })
    let out = ''
    p.stdout.on('data', (b: Buffer) => (out += b.toString()))
    p.on('exit', (code) => resolve({ code, out, err: '' }))
  })
  t.equal(tty.code, 0, tty.out)
  t.match(tty.out, /[█░]+ \d+% \| \d+\/400 I\/Os/, 'the bar is drawn on a terminal')
  t.match(tty.out, /400 I\/Os in [\d.]+ s/, 'then the summary')
})
