/**
 * The whole conformance run: every selected entry against every initiator, one after the other,
 * into one ConformanceReport (report-types.ts) that TAP, JSON and HTML are rendered from.
 */
import type { Logger } from 'pino'
import { systemClock, type Clock } from '../lib/clock.js'
import type { CatalogueEntry } from './catalogue-types.js'
import type { DriverFactory } from './driver-factory.js'
import { REPORT_FORMAT, type ConformanceReport, type ScenarioRun } from './report-types.js'
import { runScenario } from './runner.js'

export interface RunCatalogueOptions {
  entries: readonly CatalogueEntry[]
  initiators: readonly DriverFactory[]
  seed: number
  version: string
  clock?: Clock
  logger?: Logger
  /** Before each run (index from 0 of `total`), and after it with its result. */
  onProgress?: (p: { done: number; total: number; scenario: string; initiator: string; phase: string; run?: ScenarioRun }) => void
}

export function summarize(runs: readonly ScenarioRun[]): ConformanceReport['summary'] {
  const s = { pass: 0, fail: 0, skip: 0, error: 0 }
  for (const r of runs) for (const c of r.checks) s[c.verdict]++
  return s
}

export async function runCatalogue(o: RunCatalogueOptions): Promise<ConformanceReport> {
  const clock = o.clock ?? systemClock
  const runs: ScenarioRun[] = []
  const total = o.entries.length * o.initiators.length
  const startedAt = new Date().toISOString()
  for (const f of o.initiators) {
    try {
      await runInitiator(f)
    } finally {
      await f.close?.()
    }
  }
  async function runInitiator(f: DriverFactory): Promise<void> {
    for (const entry of o.entries) {
      const base = { done: runs.length, total, scenario: entry.info.id, initiator: f.info.id }
      o.onProgress?.({ ...base, phase: 'starting' })
      const run = await runScenario({
        entry,
        driver: f.create(entry, o.seed),
        seed: o.seed,
        clock,
        ...(o.logger !== undefined ? { logger: o.logger } : {}),
        onPhase: (phase) => o.onProgress?.({ ...base, phase }),
      })
      run.initiator = f.info.id // the factory's id (numbered when two initiators share one)
      runs.push(run)
      o.onProgress?.({ ...base, done: runs.length, phase: run.verdict, run })
    }
  }
  return {
    format: REPORT_FORMAT,
    tool: { name: 'nvmf-fault', version: o.version },
    startedAt,
    seed: o.seed,
    initiators: o.initiators.map((f) => f.info),
    scenarios: o.entries.map((e) => e.info),
    runs,
    summary: summarize(runs),
  }
}
