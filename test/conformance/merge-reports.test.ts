// Reports of separate runs (one per kernel) merged into one: initiator columns side by side, the
// summary recounted, the verdict table with one cell per initiator in each row; bad input refused.
import t from 'tap'
import { NvmeofError } from '../../lib/errors.js'
import { mergeReports } from '../../conformance/merge-reports.js'
import { renderHtmlReport, verdictRows } from '../../conformance/report-html.js'
import type { ConformanceReport } from '../../conformance/report-types.js'
import { buildSampleReport } from './fixtures/sample-report.js'

/** The sample report with only one initiator's runs, renamed to `id` (a run of one kernel). */
function oneInitiator(report: ConformanceReport, index: number, id: string): ConformanceReport {
  const info = report.initiators[index]
  if (info === undefined) throw new Error(`no initiator ${index}`)
  const runs = report.runs.filter((r) => r.initiator === info.id).map((r) => ({ ...r, initiator: id }))
  const summary = { pass: 0, fail: 0, skip: 0, error: 0 }
  for (const r of runs) for (const c of r.checks) summary[c.verdict]++
  return { ...report, initiators: [{ ...info, id }], runs, summary }
}

t.test('two one-kernel reports become one report with two columns', async (t) => {
  const sample = buildSampleReport(1)
  const a = oneInitiator(sample, 1, 'linux-6.1')
  const b = { ...oneInitiator(sample, 1, 'linux-6.12'), startedAt: '2000-01-01T00:00:00.000Z', scenarios: [...sample.scenarios].reverse() }
  const m = mergeReports([a, b])
  t.same(m.initiators.map((i) => i.id), ['linux-6.1', 'linux-6.12'])
  t.equal(m.runs.length, a.runs.length + b.runs.length)
  t.same(m.scenarios.map((s) => s.id), sample.scenarios.map((s) => s.id), 'scenarios in their first order, each once')
  t.same(m.summary, { pass: a.summary.pass * 2, fail: a.summary.fail * 2, skip: a.summary.skip * 2, error: a.summary.error * 2 })
  t.equal(m.startedAt, '2000-01-01T00:00:00.000Z', 'the earliest start')
  const html = renderHtmlReport(m)
  const rows = verdictRows(m).reduce((n, s) => n + s.checks.length, 0)
  t.equal([...html.matchAll(/<tr class="check"/g)].length, rows, 'one row per scenario x check')
  t.equal([...html.matchAll(/<td class="verdict/g)].length, rows * 2, 'two verdict cells in each row')
})

t.test('bad input is refused with the field named', async (t) => {
  const sample = buildSampleReport(1)
  const a = oneInitiator(sample, 1, 'linux-6.1')
  t.throws(() => mergeReports([]), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'reports' })
  t.throws(() => mergeReports([a, a]), { code: 'ERR_NVMEOF_INVALID_ARG', message: /initiator 'linux-6.1' is in more than one report/ })
  const other = { ...a, format: 'other' } as unknown as ConformanceReport
  t.throws(() => mergeReports([a, other]), { code: 'ERR_NVMEOF_INVALID_ARG', message: /report 1 has format 'other'/ })
  try {
    mergeReports([])
  } catch (e) {
    t.ok(e instanceof NvmeofError, 'a typed error')
  }
})
