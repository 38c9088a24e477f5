/**
 * Several conformance reports as one: the initiator columns side by side (one run per kernel, say,
 * made one after the other) so that one verdict table shows them all. Scenarios keep their first
 * order of appearance; runs and initiators are concatenated; the summary is recounted.
 */
import { InvalidArgumentError } from '../lib/errors.js'
import { REPORT_FORMAT, type ConformanceReport, type ScenarioInfo } from './report-types.js'
import { summarize } from './run-catalogue.js'

/** Throws InvalidArgumentError (field `reports`) for no report, another format or a repeated initiator id. */
export function mergeReports(reports: readonly ConformanceReport[]): ConformanceReport {
  const first = reports[0]
  if (first === undefined) throw new InvalidArgumentError('reports', 'at least one report is needed')
  const scenarios = new Map<string, ScenarioInfo>()
  const initiators = new Set<string>()
  for (const [i, r] of reports.entries()) {
    if (r.format !== REPORT_FORMAT) throw new InvalidArgumentError('reports', `report ${i} has format '${String(r.format)}', expected '${REPORT_FORMAT}'`)
    for (const s of r.scenarios) if (!scenarios.has(s.id)) scenarios.set(s.id, s)
    for (const init of r.initiators) {
      // The verdict table keys its columns by initiator id: a repeated id would merge two columns.
      if (initiators.has(init.id)) throw new InvalidArgumentError('reports', `initiator '${init.id}' is in more than one report`)
      initiators.add(init.id)
    }
  }
  const runs = reports.flatMap((r) => r.runs)
  return {
    format: REPORT_FORMAT,
    tool: first.tool,
    startedAt: reports.map((r) => r.startedAt).sort()[0] ?? first.startedAt,
    // Runs carry their own seed; the report's is the first report's.
    seed: first.seed,
    initiators: reports.flatMap((r) => r.initiators),
    scenarios: [...scenarios.values()],
    runs,
    summary: summarize(runs),
  }
}
