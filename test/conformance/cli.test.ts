/**
 * `nvmf-fault conformance`: usage errors name the field (in-process), and a real run as a process
 * prints TAP, writes the JSON report and exits 0 when every check passed.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createProgram } from '../../bin/program.js'
import { listCatalogue } from '../../conformance/cli.js'
import { CATALOGUE } from '../../conformance/catalogue.js'
import { reportExitCode } from '../../conformance/output.js'
import type { ConformanceReport } from '../../conformance/report-types.js'
import { childEnv, cliArgs } from '../helpers/cli-process.js'


const parse = (...args: string[]) => createProgram().parseAsync(['node', 'nvmf-fault', 'conformance', ...args])

t.test('usage errors name what is wrong', async (t) => {
  await t.rejects(parse('--initiator', 'linux:nope!', '--scenario', 'dnr-obeyed'), { code: 'ERR_NVMEOF_INVALID_ARG', message: /'nope!' is not a kernel spec/ })
  await t.rejects(parse('--initiator', 'spdk'), { code: 'ERR_NVMEOF_INVALID_ARG', message: /must be nvmf-fault, driver:CMD or linux:KERNELSPEC, got 'spdk'/ })
  await t.rejects(parse('--scenario', 'no-such-entry'), { code: 'ERR_NVMEOF_INVALID_ARG', message: /no catalogue entry 'no-such-entry'/ })
  await t.rejects(parse('--category', 'nope'), { code: 'ERR_NVMEOF_INVALID_ARG', message: /must be one of multipath/ })
  await t.rejects(parse('--seed', '-3'), { code: 'ERR_NVMEOF_INVALID_ARG', message: /seed/ })
})

t.test('--list names every entry and its checks', async (t) => {
  const text = listCatalogue('tap')
  for (const e of CATALOGUE) t.match(text, e.info.id)
  const json = JSON.parse(listCatalogue('json')) as Array<{ id: string; checks: string[] }>
  t.equal(json.length, CATALOGUE.length)
  t.ok(json.every((e) => e.checks.length > 0))
  t.equal(new Set(json.map((e) => e.id)).size, json.length, 'ids are unique')
  for (const e of json) t.equal(new Set(e.checks).size, e.checks.length, `${e.id}: check ids are unique`)
})

t.test('exit status follows the verdicts', async (t) => {
  const base = { summary: { pass: 3, fail: 0, skip: 1, error: 0 } } as ConformanceReport
  t.equal(reportExitCode(base), 0)
  t.equal(reportExitCode({ ...base, summary: { ...base.summary, fail: 1 } }), 1)
  t.equal(reportExitCode({ ...base, summary: { ...base.summary, error: 1 } }), 1)
})

t.test('a run as a process: TAP on stdout, the JSON report in a file, exit 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-conformance-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'report.json')
  const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    const p = spawn(process.execPath, [...cliArgs(), 'conformance', '--scenario', 'dnr-obeyed', '--seed', '5', '--json', file], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() })
    let out = ''
    let err = ''
    p.stdout.on('data', (b: Buffer) => (out += b.toString()))
    p.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const timer = setTimeout(() => {
      p.kill('SIGKILL')
      reject(new Error(`no exit within 300 s\n${err}`))
    }, 300_000)
    p.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    })
  })
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^TAP version 14\n1\.\.4\nok 1 - nvmf-fault dnr-obeyed dnr-obeyed: /)
  t.match(r.out, /# pass 4, fail 0, skip 0, error 0 \(seed 5\)/)
  const report = JSON.parse(readFileSync(file, 'utf8')) as ConformanceReport
  t.equal(report.format, 'nvmf-fault-conformance-1')
  t.equal(report.seed, 5)
  t.same(report.initiators.map((i) => i.id), ['nvmf-fault'])
  t.equal(report.runs[0]!.scenario, 'dnr-obeyed')
  t.ok(report.runs[0]!.timeline.io.length > 0)
})
