/**
 * The conformance report as one self-contained HTML file: a verdict table (rows: scenario x check,
 * columns: initiators; details on hover and on click) with summary counts, and per scenario run a
 * timeline (I/O rate per path, ANA state per path, injected faults / failovers / errors as markers)
 * drawn by uPlot, whose built file is read from node_modules and inlined. The page loads nothing
 * from the network: a Content-Security-Policy forbids it, so even a hostile string that slipped
 * through could not fetch anything.
 *
 * Every string from the report is escaped: check details and log excerpts carry kernel console
 * lines and driver output. Run data for the charts travels as JSON in a script element of type
 * application/json with `<` escaped, so no text can close that element.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { NvmeofError } from '../lib/errors.js'
import { EVENT_COLORS, REPORT_CSS, REPORT_SCRIPT } from './report-html-assets.js'
import { REPORT_FORMAT, type CheckResult, type ConformanceReport, type ScenarioRun, type Verdict } from './report-types.js'

const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'skip', 'error']

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'))
}

/**
 * JSON that is safe inside a <script> element: `<` (so no `</script>` or `<!--`), `>` and `&`
 * escaped as JSON unicode escapes, and U+2028/U+2029 too. JSON.parse gives back the same value.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** uPlot's minified browser build and stylesheet, read from node_modules at render time. */
function loadUplot(): { js: string; css: string } {
  const require = createRequire(import.meta.url)
  const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8')
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8')
  // A library file must not be able to end its own element early.
  return { js: js.replace(/<\/(script)/gi, '<\\/$1'), css: css.replace(/<\/(style)/gi, '<\\/$1') }
}

function validate(report: ConformanceReport): void {
  const bad = (field: string, why: string): NvmeofError => new NvmeofError('ERR_NVMEOF_INVALID_ARG', `report.${field}: ${why}`)
  if (report === null || typeof report !== 'object') throw bad('', 'not an object')
  if (report.format !== REPORT_FORMAT) throw bad('format', `expected ${REPORT_FORMAT}, got ${String(report.format)}`)
  for (const f of ['initiators', 'scenarios', 'runs'] as const) if (!Array.isArray(report[f])) throw bad(f, 'not an array')
  report.runs.forEach((r, i) => {
    if (!Array.isArray(r.checks)) throw bad(`runs[${i}].checks`, 'not an array')
    const tl = r.timeline
    if (tl === null || typeof tl !== 'object') throw bad(`runs[${i}].timeline`, 'missing')
    for (const f of ['paths', 'ana', 'io', 'events'] as const) if (!Array.isArray(tl[f])) throw bad(`runs[${i}].timeline.${f}`, 'not an array')
    if (!(Number.isFinite(tl.bucketMs) && tl.bucketMs > 0)) throw bad(`runs[${i}].timeline.bucketMs`, 'must be a positive number')
    if (!(Number.isFinite(tl.endMs) && tl.endMs >= 0)) throw bad(`runs[${i}].timeline.endMs`, 'must be a number >= 0')
  })
}

function fmtMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`
}

function badge(v: Verdict): string {
  return `<span class="badge v-${v}">${v}</span>`
}

/** Row keys of the verdict table: every (scenario, check) pair any initiator reported, in report order. */
export function verdictRows(report: ConformanceReport): { scenario: string; checks: { id: string; title: string }[] }[] {
  const order = [...report.scenarios.map((s) => s.id), ...report.runs.map((r) => r.scenario)]
  const out: { scenario: string; checks: { id: string; title: string }[] }[] = []
  for (const scenario of new Set(order)) {
    const checks = new Map<string, string>()
    for (const r of report.runs) if (r.scenario === scenario) for (const c of r.checks) if (!checks.has(c.id)) checks.set(c.id, c.title)
    out.push({ scenario, checks: [...checks].map(([id, title]) => ({ id, title })) })
  }
  return out
}

function runKey(r: ScenarioRun): string {
  return `${r.scenario}\u0000${r.initiator}`
}

function verdictCell(c: CheckResult | undefined, run: ScenarioRun | undefined, anchor: string | undefined): string {
  if (c === undefined) {
    const why = run === undefined ? 'not run for this initiator' : 'not judged for this initiator'
    return `<td class="verdict v-none" data-verdict="none" title="${escapeHtml(why)}">—</td>`
  }
  const why = `${c.detail}\n(judged from ${c.judgedFrom})`
  const link = anchor === undefined ? '' : ` <a href="#${anchor}">timeline</a>`
  return (
    `<td class="verdict v-${c.verdict}" data-verdict="${c.verdict}" title="${escapeHtml(why)}">` +
    `<details><summary>${c.verdict}</summary><div class="why">${escapeHtml(why)}${link}</div></details></td>`
  )
}

function verdictTable(report: ConformanceReport, anchors: Map<string, string>): string {
  const runs = new Map(report.runs.map((r) => [runKey(r), r]))
  const titles = new Map(report.scenarios.map((s) => [s.id, s]))
  const head =
    `<tr><th>check</th>` +
    report.initiators.map((i) => `<th class="initiator" title="${escapeHtml(i.description)}">${escapeHtml(i.id)}</th>`).join('') +
    `</tr>`
  const body: string[] = []
  for (const row of verdictRows(report)) {
    const info = titles.get(row.scenario)
    const ref = info?.reference === undefined ? '' : ` <small>(${escapeHtml(info.reference)})</small>`
    body.push(
      `<tr class="scenario" data-scenario="${escapeHtml(row.scenario)}"><th>${escapeHtml(info?.title ?? row.scenario)}${ref}</th>` +
        report.initiators
          .map((i) => {
            const r = runs.get(`${row.scenario}\u0000${i.id}`)
            return `<th>${r === undefined ? '<span class="badge v-none">not run</span>' : badge(r.verdict)}</th>`
          })
          .join('') +
        `</tr>`,
    )
    for (const c of row.checks) {
      const cells = report.initiators.map((i) => {
        const r = runs.get(`${row.scenario}\u0000${i.id}`)
        return verdictCell(r?.checks.find((x) => x.id === c.id), r, r === undefined ? undefined : anchors.get(runKey(r)))
      })
      body.push(
        `<tr class="check" data-scenario="${escapeHtml(row.scenario)}" data-check="${escapeHtml(c.id)}">` +
          `<td title="${escapeHtml(c.id)}">${escapeHtml(c.title)}</td>${cells.join('')}</tr>`,
      )
    }
  }
  return `<table class="verdicts"><thead>${head}</thead><tbody>${body.join('\n')}</tbody></table>`
}

function summaryBlock(report: ConformanceReport): string {
  const counts = VERDICTS.map((v) => `<span class="count ${v}" data-count="${v}">${report.summary[v]} ${v}</span>`).join('')
  const perInit = report.initiators.map((i) => {
    const n = { pass: 0, fail: 0, skip: 0, error: 0 }
    for (const r of report.runs) if (r.initiator === i.id) for (const c of r.checks) n[c.verdict]++
    return `<li><b>${escapeHtml(i.id)}</b>: ${escapeHtml(i.description)} — ${VERDICTS.map((v) => `${n[v]} ${v}`).join(', ')}</li>`
  })
  return `<div class="counts">${counts}</div><ul class="initiators">${perInit.join('')}</ul>`
}

function legend(): string {
  return (
    `<div class="legend-marks">markers: ` +
    Object.entries(EVENT_COLORS)
      .map(([k, c]) => `<span><i style="background:${c}"></i>${escapeHtml(k)}</span>`)
      .join('') +
    `</div>`
  )
}

function runSection(report: ConformanceReport, r: ScenarioRun, anchor: string): string {
  const info = report.scenarios.find((s) => s.id === r.scenario)
  const title = `${info?.title ?? r.scenario} — ${r.initiator}`
  const events = r.timeline.events
    .map(
      (e) =>
        `<tr><td>${fmtMs(e.tMs)}</td><td><span class="badge" style="background:${EVENT_COLORS[e.kind] ?? '#6e7781'}">${escapeHtml(e.kind)}</span></td>` +
        `<td>${escapeHtml(e.path ?? '')}</td><td class="detail">${escapeHtml(e.detail)}</td></tr>`,
    )
    .join('')
  const failed = r.checks.filter((c) => c.verdict === 'fail' || c.verdict === 'error')
  const log =
    r.logExcerpt === undefined || r.logExcerpt.length === 0
      ? ''
      : `<details open><summary>log excerpt (${r.logExcerpt.length} lines)</summary><pre class="log">${escapeHtml(r.logExcerpt.join('\n'))}</pre></details>`
  return (
    `<section class="run" id="${anchor}" data-scenario="${escapeHtml(r.scenario)}" data-initiator="${escapeHtml(r.initiator)}">` +
    `<h3>${badge(r.verdict)} ${escapeHtml(title)}</h3>` +
    `<p class="meta">scenario <code>${escapeHtml(r.scenario)}</code>, seed ${r.seed}, ran ${fmtMs(r.durationMs)}, ` +
    `${r.timeline.paths.length} paths, ${r.timeline.events.length} events, bucket ${fmtMs(r.timeline.bucketMs)}</p>` +
    (failed.length === 0
      ? ''
      : `<ul class="failures">${failed.map((c) => `<li>${badge(c.verdict)} <b>${escapeHtml(c.title)}</b>: ${escapeHtml(c.detail)}</li>`).join('')}</ul>`) +
    `<div class="chart chart-io"></div><div class="chart chart-ana"></div>` +
    `<details><summary>events (${r.timeline.events.length})</summary><table class="events"><thead><tr><th>t</th><th>kind</th><th>path</th><th>detail</th></tr></thead><tbody>${events}</tbody></table></details>` +
    log +
    `</section>`
  )
}

/** Render the whole report as one HTML document (a string; the caller writes the file). */
export function renderHtmlReport(report: ConformanceReport): string {
  validate(report)
  const uplot = loadUplot()
  const anchors = new Map(report.runs.map((r, i) => [runKey(r), `run-${i}`]))
  const data = {
    eventColors: EVENT_COLORS,
    runs: report.runs.map((r, i) => ({ id: `run-${i}`, timeline: r.timeline })),
  }
  const title = `nvmf-fault conformance report — ${report.startedAt}`
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${uplot.css}</style>`,
    `<style>${REPORT_CSS}</style>`,
    '</head><body>',
    `<h1>nvmf-fault conformance report</h1>`,
    `<p class="meta">${escapeHtml(report.tool.name)} ${escapeHtml(report.tool.version)} · started ${escapeHtml(report.startedAt)} · seed ${report.seed} · ` +
      `${report.initiators.length} initiators × ${report.scenarios.length} scenarios, ${report.runs.length} runs · ${escapeHtml(report.format)}</p>`,
    summaryBlock(report),
    '<h2>Verdicts</h2>',
    '<p class="meta">Hover a verdict for its evidence, click it to expand; "timeline" jumps to the run.</p>',
    verdictTable(report, anchors),
    '<h2>Timelines</h2>',
    legend(),
    ...report.runs.map((r, i) => runSection(report, r, `run-${i}`)),
    `<script type="application/json" id="nvmf-report-data">${jsonForScript(data)}</script>`,
    `<script>${uplot.js}</script>`,
    `<script>${REPORT_SCRIPT}</script>`,
    '</body></html>',
    '',
  ].join('\n')
}
