/**
 * `npm run bench -- --json` on a tiny run: the document has the fields tracking relies on, every
 * NVMe row names its same-run baseline and carries a ratio, the load average and the per-process
 * figures. Asserts the shape only, never a speed.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const runTs = fileURLToPath(new URL('../../bench/run.ts', import.meta.url))
const loader = import.meta.resolve('@tapjs/typescript/import')

function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', loader, runTs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    p.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

t.test('--json: document and row shape of a tiny io run', { timeout: 240_000 }, async (t) => {
  const r = await bench(['--json', '--quick', '--only', 'io', '--cases', '4k-randread-qd1', '--seconds', '0.1'])
  t.equal(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout) as { node: string; quick: boolean; load: { start: number; end: number }; rows: Record<string, unknown>[] }
  t.equal(doc.node, process.version)
  t.equal(doc.quick, true)
  t.type(doc.load.start, 'number')
  const names = doc.rows.map((row) => row.name)
  t.same(names, ['echo 4k-randread-qd1', '4k-randread-qd1 digests off', '4k-randread-qd1 digests on'])
  for (const row of doc.rows.slice(1)) {
    t.equal(row.section, 'io')
    t.equal(row.baseline, 'echo 4k-randread-qd1')
    t.type(row.ratio, 'number')
    t.type(row.load, 'number')
    const m = row.metrics as Record<string, unknown>
    for (const k of ['ops', 'errors', 'p50Ms', 'p99Ms', 'p999Ms', 'targetCpuUsPerIo', 'initiatorCpuUsPerIo', 'targetPeakRss', 'initiatorPeakRss']) t.type(m[k], 'number', k)
    t.equal(m.errors, 0, 'no I/O failed')
  }
})

t.test('bad options are refused with the option named', async (t) => {
  const r = await bench(['--only', 'nope'])
  t.equal(r.code, 1)
  t.match(r.stderr, /'--only': no section 'nope'/)
  const r2 = await bench(['--seconds', '-1'])
  t.equal(r2.code, 1)
  t.match(r2.stderr, /'--seconds' must be a number/)
})
