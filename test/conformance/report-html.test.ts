// The HTML report's structure without a browser: deterministic output, self-contained (no URL to
// fetch, a CSP that forbids fetching), every report string escaped (kernel log lines and driver
// output can hold anything), the chart data round-trips through its JSON block, one table row per
// scenario x check with a verdict cell per initiator, and a malformed report gets a typed error
// naming the field. test/conformance/report-html-chromium.test.ts renders it in a real browser.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import t from 'tap'
import { NvmeofError } from '../../lib/errors.js'
import { escapeHtml, jsonForScript, renderHtmlReport, verdictRows } from '../../conformance/report-html.js'
import type { ConformanceReport } from '../../conformance/report-types.js'
import { buildSampleReport, HOSTILE_TEXT } from './fixtures/sample-report.js'

const count = (s: string, re: RegExp): number => s.match(re)?.length ?? 0

t.test('same report, same bytes; the fixture is deterministic too', async (t) => {
  t.equal(renderHtmlReport(buildSampleReport(7)), renderHtmlReport(buildSampleReport(7)))
  t.not(JSON.stringify(buildSampleReport(7)), JSON.stringify(buildSampleReport(8)), 'the seed changes the I/O figures')
})

t.test('self-contained: uPlot inlined, nothing to fetch, a CSP that forbids fetching', async (t) => {
  const html = renderHtmlReport(buildSampleReport())
  const require = createRequire(import.meta.url)
  const lib = await readFile(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8')
  t.ok(html.includes(lib.trim().slice(0, 200)), 'the uPlot build is inlined')
  t.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/)
  t.equal(count(html, /\ssrc\s*=/gi), 0, 'no src attribute')
  t.equal(count(html, /<link\b/gi), 0, 'no link element')
  t.equal(count(html, /(href|url)\s*[=(]\s*["']?\s*(https?:)?\/\//gi), 0, 'no URL to another origin')
})

t.test('every string is escaped; exactly our three script elements exist', async (t) => {
  const report = buildSampleReport()
  const html = renderHtmlReport(report)
  t.notOk(html.includes(HOSTILE_TEXT), 'the hostile text never appears raw')
  t.notOk(html.includes('<script>window.pwned'), 'no injected script element')
  t.ok(html.includes(escapeHtml(HOSTILE_TEXT)), 'it appears escaped (check detail, log excerpt)')
  t.equal(count(html, /<script\b/gi), 3, 'data block, uPlot, the chart script')
  t.equal(count(html, /<\/script/gi), 3, 'and no extra closing tag')
  t.ok(html.includes(escapeHtml('Linux 6.1.0-41-amd64 (Debian bookworm) in QEMU/TCG, nvme-cli 2.4 <native multipath>')), 'initiator description escaped')
  t.ok(html.includes('port 4420 &lt;primary&gt;') || html.includes('port 4420 \\u003cprimary\\u003e'), 'path label escaped')

  const m = /<script type="application\/json" id="nvmf-report-data">([\s\S]*?)<\/script>/.exec(html)
  t.ok(m, 'the data block is there')
  const data = JSON.parse(m?.[1] ?? 'null') as { runs: { id: string; timeline: unknown }[] }
  t.same(
    data.runs.map((r) => r.timeline),
    report.runs.map((r) => r.timeline),
    'the chart data round-trips exactly',
  )
})

t.test('escapeHtml and jsonForScript', async (t) => {
  t.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
  const tricky = { s: '</script><!-- \u2028\u2029 & >' }
  const j = jsonForScript(tricky)
  t.notMatch(j, /[<>&\u2028\u2029]/, 'no character that could end or confuse a script element')
  t.same(JSON.parse(j), tricky)
})

t.test('verdict table: rows are scenario x check, one cell per initiator', async (t) => {
  const report = buildSampleReport()
  const html = renderHtmlReport(report)
  const rows = verdictRows(report)
  const checks = rows.reduce((n, r) => n + r.checks.length, 0)
  t.same(
    rows.map((r) => r.scenario),
    report.scenarios.map((s) => s.id),
    'scenario groups in catalogue order',
  )
  t.equal(count(html, /<tr class="check"/g), checks)
  t.equal(count(html, /<tr class="scenario"/g), rows.length)
  t.equal(count(html, /<td class="verdict /g), checks * report.initiators.length)
  // Checks only one initiator reported (the kernel-log check) leave a "not judged" cell for the other.
  t.equal(count(html, /data-verdict="none"/g), checks * report.initiators.length - report.runs.reduce((n, r) => n + r.checks.length, 0))
  for (const v of ['pass', 'fail', 'skip', 'error'] as const) {
    t.equal(count(html, new RegExp(`<td class="verdict v-${v}"`, 'g')), report.summary[v], `${v} cells`)
  }
  t.equal(count(html, /<section class="run"/g), report.runs.length, 'a timeline section per run')
})

t.test('a run missing for an initiator shows "not run"; an empty report renders', async (t) => {
  const report = buildSampleReport()
  const partial: ConformanceReport = { ...report, runs: report.runs.filter((r) => !(r.initiator.startsWith('linux') && r.scenario === 'dnr-obeyed')) }
  t.match(renderHtmlReport(partial), /not run/)
  const empty: ConformanceReport = { ...report, initiators: [], scenarios: [], runs: [], summary: { pass: 0, fail: 0, skip: 0, error: 0 } }
  t.match(renderHtmlReport(empty), /<table class="verdicts">/)
})

t.test('a malformed report: a typed error naming the field', async (t) => {
  const report = buildSampleReport()
  const bad = (mutate: (r: ConformanceReport) => void): ConformanceReport => {
    const r = structuredClone(report)
    mutate(r)
    return r
  }
  const expectField = (r: ConformanceReport, field: RegExp): void => {
    let err: unknown
    try {
      renderHtmlReport(r)
    } catch (e) {
      err = e
    }
    t.ok(err instanceof NvmeofError && err.code === 'ERR_NVMEOF_INVALID_ARG', `typed error (${String(err)})`)
    t.match((err as Error | undefined)?.message ?? '', field)
  }
  expectField(bad((r) => ((r as { format: string }).format = 'other')), /report\.format/)
  expectField(bad((r) => ((r.runs[1] as { timeline: { bucketMs: number } }).timeline.bucketMs = 0)), /runs\[1\]\.timeline\.bucketMs/)
  expectField(bad((r) => ((r.runs[0]?.timeline as { io: unknown }).io = null)), /runs\[0\]\.timeline\.io/)
})
