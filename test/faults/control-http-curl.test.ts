/**
 * curl drives an nvme/058-style run over HTTP against a running `nvmf-fault target` process: add a
 * subsystem (3 namespaces in ANA groups 1-3), set ANA states, add a fault, run a remapping scenario
 * while a host is connected, read the fault counters, export the trace (JSON lines and pcap), and
 * scrape /metrics. Skips when curl (Debian package `curl`) is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { RawHost } from '../helpers/raw-host.js'
import { cliArgs } from '../helpers/cli-process.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SUB = 'nqn.2024-11.org.blktests:subsystem-1'
const hasCurl = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0

async function waitFor<T>(get: () => T | undefined, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms
  for (;;) {
    const v = get()
    if (v !== undefined || Date.now() > end) return v
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function startTarget(t: Test): Promise<{ dir: string; base: string; port1: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-curl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const target: ChildProcess = spawn(
    process.execPath,
    [...cliArgs(), 'target', '--listen', '127.0.0.1:0', '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--record-pdus', '--seed', '58', '--no-pretty'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  target.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  target.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((r) => target.on('exit', (code) => r(code)))
  t.teardown(async () => {
    if (target.exitCode === null) {
      target.kill('SIGTERM')
      await exited
    }
  })
  const logged = <T>(pred: (o: Record<string, unknown>) => T | undefined): T | undefined => {
    for (const l of out.split('\n')) {
      if (!l.startsWith('{')) continue
      const v = pred(JSON.parse(l) as Record<string, unknown>)
      if (v !== undefined) return v
    }
    return undefined
  }
  const httpPort = await waitFor(() => logged((o) => (o.msg === 'http API listening' ? (o.http as { port: number }).port : undefined)), 300_000) // a loaded machine starts the child slowly
  t.ok(httpPort, `the target logged its HTTP address (${err})`)
  const port1 = logged((o) => (o.portId === 1 && typeof o.port === 'number' ? o.port : undefined))!
  return { dir, base: `http://127.0.0.1:${httpPort}`, port1 }
}

t.test('curl: nvme/058-style run over HTTP against a target process', { skip: hasCurl ? false : 'curl is not installed (Debian package curl)' }, async (t) => {
  const { dir, base, port1 } = await startTarget(t)
  const curl = (args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync('curl', ['-sS', '--fail-with-body', '--max-time', '60', ...args], { encoding: 'utf8' })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const json = (method: string, path: string, body?: unknown): unknown => {
    const r = curl(['-X', method, ...(body !== undefined ? ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)] : []), `${base}${path}`])
    t.equal(r.code, 0, `curl -X ${method} ${path}: ${r.stdout}${r.stderr}`)
    return JSON.parse(r.stdout) as unknown
  }

  // 1. The nvme/058 topology's subsystem: 3 namespaces in ANA groups 1-3.
  json('POST', '/v1/subsystems', { nqn: SUB, config: { anaGroups: [1, 2, 3], namespaces: [1, 2, 3].map((n) => ({ nsid: n, size: '8MiB', anaGroup: n })) } })
  // 2. ANA per port x group: port 1 serves group 1, port 2 group 2 (others inaccessible).
  json('PUT', '/v1/ana/1/2', { state: 'inaccessible' })
  json('PUT', '/v1/ana/1/3', { state: 'inaccessible' })
  json('PUT', '/v1/ana/2/1', { state: 'inaccessible' })
  const ana = json('GET', '/v1/ana') as Array<{ subnqn: string; portId: number; grpid: number; state: string }>
  t.ok(ana.some((a) => a.subnqn === SUB && a.portId === 1 && a.grpid === 2 && a.state === 'inaccessible'), 'GET /v1/ana shows port 1 group 2 inaccessible')
  // 3. A fault that matches I/O reads only.
  t.same(json('POST', '/v1/faults', { id: 'slow-read', type: 'delay', match: { kinds: ['io'], commands: ['read'] }, params: { delay: { ms: 1 } } }), { id: 'slow-read' })

  // A host connected on port 1 (blktests connects first, then remaps), reading namespace 1.
  const admin = await RawHost.connect({ port: port1 })
  t.teardown(() => admin.destroy())
  const cntlid = await admin.connectAdmin({ subnqn: SUB })
  const io = await RawHost.connect({ port: port1 })
  t.teardown(() => io.destroy())
  await io.connectIo({ subnqn: SUB, cntlid, qid: 1 })
  for (let i = 0; i < 5; i++) t.equal((await io.read(1, BigInt(i), 1)).cqe.status, 0, `read ${i}`)

  // 4. The remapping scenario (058's loop: disable, new UUID, enable), posted as YAML.
  const steps: string[] = []
  let at = 0
  for (let round = 0; round < 3; round++)
    for (const nsid of [1, 2, 3])
      for (const op of ['disable', 'uuid', 'enable']) steps.push(`  - { atMs: ${at++}, ns: { op: ${op}, nsid: ${nsid}, subnqn: "${SUB}" } }`)
  const file = join(dir, 'remap.yaml')
  writeFileSync(file, `name: remap-058\nsteps:\n${steps.join('\n')}\n  - { atMs: ${at}, mark: remap-done }\n`)
  const run = curl(['-X', 'POST', '-H', 'Content-Type: application/yaml', '--data-binary', `@${file}`, `${base}/v1/scenario?seed=58`])
  t.equal(run.code, 0, run.stdout + run.stderr)
  t.match(JSON.parse(run.stdout), { name: 'remap-058', seed: '58' })
  const done = await waitFor(() => {
    const s = json('GET', '/v1/scenario') as { state: string }
    return s.state === 'finished' ? s : undefined
  }, 60_000)
  t.match(done, { state: 'finished' }, 'the scenario ran to its end')

  // 5. Fault counters.
  const fault = json('GET', '/v1/faults/slow-read') as { seen: number; fired: number }
  t.ok(fault.fired >= 5 && fault.seen >= 5, `the fault saw and fired on the reads (${JSON.stringify(fault)})`)

  // 6. Trace export: JSON lines and pcap, to files.
  const jsonl = join(dir, 'trace.jsonl')
  t.equal(curl(['-o', jsonl, `${base}/v1/trace?format=jsonl`]).code, 0)
  const lines = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action?: string; detail?: string })
  t.equal(lines.filter((e) => e.action === 'ns-uuid').length, 9, 'nine UUID changes in the trace')
  t.ok(lines.some((e) => e.action === 'mark' && e.detail === 'remap-done'))
  t.ok(lines.some((e) => e.action === 'subsystem-add'), 'the subsystem add is traced')
  const pcap = join(dir, 'trace.pcap')
  t.equal(curl(['-o', pcap, `${base}/v1/trace?format=pcap`]).code, 0)
  t.equal(readFileSync(pcap).readUInt32LE(0), 0xa1b2c3d4, 'a pcap file')

  // /metrics while the host is connected.
  const m = curl([`${base}/metrics`])
  t.equal(m.code, 0)
  t.match(m.stdout, /nvmf_target_fault_fired_total\{id="slow-read",type="delay"\} [1-9]/)
  t.match(m.stdout, /nvmf_target_commands_total\{[^}]*opcode="read"[^}]*status="0x0"\} 5/)

  // Errors come back as JSON naming the field, with a 400.
  const bad = spawnSync('curl', ['-s', '-o', '-', '-w', '%{http_code}', '-X', 'PUT', '-H', 'Content-Type: application/json', '--data-binary', '{"state":"sideways"}', `${base}/v1/ana/1/1`], { encoding: 'utf8' })
  t.match(bad.stdout, /"path":"state".*400$/s)
})

t.test("curl: the README's HTTP examples run as written against a target process", { skip: hasCurl ? false : 'curl is not installed (Debian package curl)' }, async (t) => {
  const { dir, base } = await startTarget(t)
  // The README's curl examples run as written (API points at this target).
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## HTTP API and metrics'))
  const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)][1]![1]!
  const examples = block.split('\n').filter((l) => l.startsWith('curl '))
  t.ok(examples.length >= 10, `README has curl examples (${examples.length})`)
  symlinkSync(join(ROOT, 'examples'), join(dir, 'examples'))
  for (const line of examples) {
    const r = spawnSync('bash', ['-c', `curl() { command curl --fail-with-body --max-time 60 "$@"; }\n${line}`], { cwd: dir, env: { ...process.env, API: base }, encoding: 'utf8' })
    t.equal(r.status, 0, `README: ${line.slice(0, 100)} -> ${r.stdout.slice(0, 200)}${r.stderr}`)
  }
  t.equal(readFileSync(join(dir, 'trace.pcap')).readUInt32LE(0), 0xa1b2c3d4, 'README trace export wrote a pcap')
})
