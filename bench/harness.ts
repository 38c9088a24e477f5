/**
 * Tiny benchmark harness: named sections, each returning rows. Sections are plain objects so other
 * parts of the project can add theirs to the list in bench/run.ts. Bench code may read the real
 * clock (it measures wall time); library code never does.
 */
import { loadavg } from 'node:os'

export interface BenchRow {
  section: string
  name: string
  /** Main figure. */
  value: number
  unit: string
  /** Optional secondary figure (e.g. GB/s next to PDUs/s). */
  value2?: number
  unit2?: string
  note?: string
  /** `value` divided by the same-run baseline's figure (`baseline` names that row). */
  ratio?: number
  baseline?: string
  /** 1-minute load average when the row was measured (the machine may be shared). */
  load?: number
  /** Further figures for `--json` (latency percentiles, CPU per I/O, RSS...). */
  metrics?: Record<string, number | string | boolean>
}

export interface BenchContext {
  /** Wall-time budget per measurement, ms. */
  budgetMs: number
  /** Ops per second of `fn`, which performs `batch` operations per call (calibrated; best of 5 slices of the budget). */
  rate(fn: (batch: number) => void): number
  /** `--quick`: shorter runs, smaller scale. */
  quick: boolean
  /** Wall time of one process-level measurement (ms). */
  caseMs: number
  /** Repetitions of each process-level comparison (alternating baseline and measured runs). */
  rounds: number
  /** Write V8 CPU profiles of the bench child processes here (`node --cpu-prof`). */
  profileDir: string | undefined
  /** `--cases a,b`: only these I/O cases (names as in the table). */
  cases: string[] | undefined
  /** Report progress: one step done (`detail` says which). */
  step(detail: string): void
  /** `--disable-sqflow`: the I/O rows' initiator connects with `disableSqflow` (docs/performance.md, round 4). */
  disableSqflow: boolean
}

export interface ContextOptions {
  budgetMs: number
  quick?: boolean
  caseMs?: number
  rounds?: number
  profileDir?: string
  cases?: string[]
  step?: (detail: string) => void
  disableSqflow?: boolean
}

export interface BenchSection {
  name: string
  /** Progress steps this section reports through `ctx.step` (for the progress bar; default 1). */
  steps?(ctx: BenchContext): number
  run(ctx: BenchContext): BenchRow[] | Promise<BenchRow[]>
}

export function makeContext(o: ContextOptions): BenchContext {
  const budgetMs = o.budgetMs
  return {
    budgetMs,
    quick: o.quick ?? false,
    caseMs: o.caseMs ?? 3000,
    rounds: o.rounds ?? 1,
    profileDir: o.profileDir,
    cases: o.cases,
    step: o.step ?? (() => undefined),
    disableSqflow: o.disableSqflow ?? false,
    rate(fn) {
      // Warm up and calibrate a batch that takes ~5 ms, then run batches until the budget is spent.
      let batch = 1
      for (;;) {
        const t0 = performance.now()
        fn(batch)
        const dt = performance.now() - t0
        if (dt >= 5 || batch >= 1 << 24) break
        batch *= dt < 0.5 ? 8 : 2
      }
      // Warm up (JIT, caches) for a fifth of the budget before measuring.
      const warmEnd = performance.now() + budgetMs / 5
      while (performance.now() < warmEnd) fn(batch)
      // Measure in five slices and keep the fastest: other processes on a shared machine only ever
      // slow a slice down, so the best slice is the least disturbed estimate.
      let best = 0
      for (let slice = 0; slice < 5; slice++) {
        let ops = 0
        const start = performance.now()
        let now = start
        while (now - start < budgetMs / 5) {
          fn(batch)
          ops += batch
          now = performance.now()
        }
        best = Math.max(best, ops / ((now - start) / 1000))
      }
      return best
    },
  }
}

export function fmt(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k`
  if (v >= 100) return v.toFixed(0)
  return v.toFixed(2)
}

/** The 1-minute load average (what `uptime` shows first). */
export function loadNow(): number {
  return Math.round(loadavg()[0]! * 100) / 100
}

export function formatTable(rows: BenchRow[]): string {
  const lines = rows.map((r) => [
    r.section,
    r.name,
    `${fmt(r.value)}${r.unit}`,
    r.value2 !== undefined ? `${fmt(r.value2)}${r.unit2 ?? ''}` : '',
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : '',
    r.load !== undefined ? r.load.toFixed(2) : '',
    r.note ?? '',
  ])
  const head = ['section', 'benchmark', 'rate', 'throughput', 'ratio', 'load', 'note']
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const row = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return [row(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(row)].join('\n')
}
