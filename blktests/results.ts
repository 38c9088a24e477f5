/**
 * blktests results, read back from the guest: `./check` output (one status line per test and
 * condition, then indented detail lines: the skip reason, the runtime, or the diff of a failed
 * test's output) and the per-test result files (`status`, `reason` key/tab/value lines). Then the
 * side-by-side table test x {nvmet, nvmf-fault}.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

export type Verdict = 'pass' | 'fail' | 'skip'

export interface TestResult {
  /** `nvme/057`. */
  test: string
  /** The condition blktests ran it under, e.g. `tr=tcp bd=file` ('' when none). */
  condition: string
  verdict: Verdict
  /** Skip reason, or for a failure blktests' reason (output, exit, dmesg) and the first differing lines. */
  reason: string
  runtimeS: number | undefined
}

// "nvme/057 (tr=tcp) (test ANA failover during I/O)          [passed]" - the first parenthesis is the
// condition when it holds a key=value pair, else the description starts there.
const STATUS_LINE = /^(\w+\/\d+)(?: \(([a-z]+=[^)]*)\))?.*\[(passed|failed|not run)\]\s*$/
const VERDICT: Record<string, Verdict> = { passed: 'pass', failed: 'fail', 'not run': 'skip' }

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')

/** The tests of one `./check` output, in order; detail lines are folded into `reason`. */
export function parseCheckOutput(text: string): TestResult[] {
  const out: TestResult[] = []
  let cur: (TestResult & { detail: string[] }) | undefined
  const flush = (): void => {
    if (cur === undefined) return
    const { detail, ...r } = cur
    if (r.verdict === 'skip') r.reason = detail.filter((l) => !/^runtime/.test(l)).join('; ')
    else if (r.verdict === 'fail') {
      const diff = detail.filter((l) => /^[-+](?![-+]{2} )/.test(l) && !/^[-+]{3} /.test(l))
      r.reason = (diff.length > 0 ? diff : detail.filter((l) => !/^runtime/.test(l))).slice(0, 6).join(' | ')
    }
    out.push(r)
    cur = undefined
  }
  for (const raw of text.split('\n')) {
    const line = stripAnsi(raw).replace(/\r$/, '')
    const m = STATUS_LINE.exec(line)
    if (m !== null) {
      flush()
      cur = { test: m[1]!, condition: m[2] ?? '', verdict: VERDICT[m[3]!]!, reason: '', runtimeS: undefined, detail: [] }
      continue
    }
    if (cur === undefined || !/^\s+\S/.test(line)) continue
    const d = line.trim()
    const rt = /^runtime\s+(?:[\d.]+s\s+)?\.\.\.\s+([\d.]+)s$/.exec(d)
    if (rt !== null) cur.runtimeS = Number(rt[1])
    cur.detail.push(d)
  }
  flush()
  return out
}

/** blktests' own reason for a failure (output, exit, dmesg, kmemleak) from its result files. */
export function failureKinds(resultsDir: string): Map<string, string> {
  const kinds = new Map<string, string>()
  if (!existsSync(resultsDir)) return kinds
  for (const cfg of readdirSync(resultsDir)) {
    const d = join(resultsDir, cfg)
    if (!statSync(d).isDirectory()) continue
    const cond = cfg.replace(/^nodev_?/, '').replace(/_/g, ' ').replace(/\b(tr|bd) /g, '$1=')
    for (const group of readdirSync(d)) {
      const g = join(d, group)
      if (!statSync(g).isDirectory()) continue
      for (const f of readdirSync(g)) {
        if (!/^\d+$/.test(f)) continue
        const kv = new Map(readFileSync(join(g, f), 'utf8').split('\n').map((l) => l.split('\t') as [string, string]))
        if (kv.get('status') === 'fail') kinds.set(`${group}/${f} ${cond}`.trim(), kv.get('reason') ?? '')
      }
    }
  }
  return kinds
}

export interface SideBySideRow {
  test: string
  condition: string
  sides: Record<string, TestResult | undefined>
}

/** One row per test x condition, in test order; a side that did not run a test has `undefined`. */
export function sideBySide(sides: Record<string, TestResult[]>): SideBySideRow[] {
  const rows = new Map<string, SideBySideRow>()
  for (const [side, results] of Object.entries(sides))
    for (const r of results) {
      // The nvmf-fault side answers --show-blkdev-type with one type; match rows on the test and transport.
      const key = `${r.test} ${r.condition}`
      const row = rows.get(key) ?? { test: r.test, condition: r.condition, sides: {} }
      row.sides[side] = r
      rows.set(key, row)
    }
  return [...rows.values()].sort((a, b) => (a.test === b.test ? a.condition.localeCompare(b.condition) : a.test.localeCompare(b.test)))
}

/** Per side: counts of pass, fail and skip over test ids (a test passes only if every condition passed). */
export function countByTestId(results: TestResult[]): Record<Verdict, number> {
  const byId = new Map<string, Verdict>()
  for (const r of results) {
    const prev = byId.get(r.test)
    byId.set(r.test, prev === 'fail' || r.verdict === 'fail' ? 'fail' : prev === 'pass' || r.verdict === 'pass' ? 'pass' : 'skip')
  }
  const n: Record<Verdict, number> = { pass: 0, fail: 0, skip: 0 }
  for (const v of byId.values()) n[v]++
  return n
}

/** The table as Markdown (it reads as plain text too). */
export function formatTable(rows: SideBySideRow[], sideNames: readonly string[]): string {
  const cell = (r: TestResult | undefined): string => (r === undefined ? '-' : `${r.verdict}${r.runtimeS !== undefined && r.verdict !== 'skip' ? ` (${r.runtimeS}s)` : ''}`)
  const reasons = (row: SideBySideRow): string =>
    sideNames
      .map((s) => (row.sides[s] !== undefined && row.sides[s]!.verdict !== 'pass' && row.sides[s]!.reason !== '' ? `${s}: ${row.sides[s]!.reason}` : ''))
      .filter((x) => x !== '')
      .join('; ')
      .replace(/\|/g, '/')
  const lines = [`| test | condition | ${sideNames.join(' | ')} | reason |`, `| --- | --- | ${sideNames.map(() => '---').join(' | ')} | --- |`]
  for (const row of rows) lines.push(`| ${row.test} | ${row.condition} | ${sideNames.map((s) => cell(row.sides[s])).join(' | ')} | ${reasons(row)} |`)
  return lines.join('\n')
}
