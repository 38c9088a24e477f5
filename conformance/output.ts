/**
 * Rendering a ConformanceReport: TAP (one test point per initiator x scenario x check), JSON (the
 * report itself), and the self-contained HTML report (conformance/report-html.ts,
 * `renderHtmlReport`). All three come from the same document.
 */
import { writeFile } from 'node:fs/promises'
import { InvalidStateError } from '../lib/errors.js'
import type { ConformanceReport } from './report-types.js'

function yamlString(s: string): string {
  return JSON.stringify(s) // a JSON string is a valid YAML scalar
}

/** TAP version 14: `ok`/`not ok` per check; skips carry `# SKIP reason`; failures a YAML block. */
export function renderTap(report: ConformanceReport): string {
  const lines: string[] = ['TAP version 14']
  let n = 0
  const points: string[] = []
  for (const run of report.runs) {
    for (const c of run.checks) {
      n++
      const name = `${run.initiator} ${run.scenario} ${c.id}: ${c.title}`.replace(/#/g, '\\#')
      if (c.verdict === 'pass') points.push(`ok ${n} - ${name}`)
      else if (c.verdict === 'skip') points.push(`ok ${n} - ${name} # SKIP ${c.detail.replace(/\n/g, ' ')}`)
      else {
        points.push(`not ok ${n} - ${name}`)
        points.push('  ---', `  verdict: ${c.verdict}`, `  detail: ${yamlString(c.detail)}`, `  judgedFrom: ${c.judgedFrom}`, `  seed: ${run.seed}`, '  ...')
      }
    }
  }
  lines.push(`1..${n}`, ...points)
  const s = report.summary
  lines.push(`# pass ${s.pass}, fail ${s.fail}, skip ${s.skip}, error ${s.error} (seed ${report.seed})`)
  return lines.join('\n') + '\n'
}

export function renderJson(report: ConformanceReport): string {
  return JSON.stringify(report, null, 2) + '\n'
}

type HtmlRenderer = (report: ConformanceReport) => string

/**
 * The HTML renderer lives in conformance/report-html.ts (the report's own branch); loaded at run
 * time so this file builds without it. MERGE: once report-html.ts is on main this may become a
 * static `import { renderHtmlReport } from './report-html.js'`.
 */
export async function loadHtmlRenderer(): Promise<HtmlRenderer> {
  const specifier = './report-html.js'
  try {
    const mod = (await import(specifier)) as { renderHtmlReport?: HtmlRenderer }
    if (typeof mod.renderHtmlReport === 'function') return mod.renderHtmlReport
  } catch {
    // reported below
  }
  throw new InvalidStateError('the HTML report (conformance/report-html.ts) is not available in this build')
}

export async function writeHtmlReport(report: ConformanceReport, file: string): Promise<void> {
  const render = await loadHtmlRenderer()
  await writeFile(file, render(report))
}

/** Exit status of a run: 0 when no check failed or erred. */
export function reportExitCode(report: ConformanceReport): number {
  return report.summary.fail > 0 || report.summary.error > 0 ? 1 : 0
}
