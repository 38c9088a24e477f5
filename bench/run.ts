/**
 * `npm run bench` (builds, then `node dist/bench/run.js`): one run, one table with each measured row's
 * ratio to a baseline taken in the same run, then the JSON document. Options:
 *
 *   --json            the JSON document only (for tracking)
 *   --quick           short runs and a smaller scale (about a minute)
 *   --only a,b        only these sections (pdu-codec, crc32c, framer, io, failover, remap, scale)
 *   --cases a,b       only these I/O cases (e.g. 4k-randread-qd32)
 *   --seconds S       wall time of each process-level measurement (default 3; --quick 0.5)
 *   --rounds N        alternate baseline and measured runs N times per case (default 1)
 *   --budget ms       per in-process micro-measurement (default 250; --quick 60)
 *   --profile DIR     write a V8 CPU profile of every child process into DIR (node --cpu-prof)
 *   --kernel SPEC     add the Linux host in QEMU against our target and the guest's nvmet (opt-in)
 *   --disable-sqflow  our initiator's I/O rows connect with disableSqflow (reads end with C2HData SUCCESS)
 *
 * A progress bar is drawn on stderr when both stdout and stderr are terminals and --json is off.
 * To add a section, export a `BenchSection` and append it to SECTIONS.
 */
import { formatTable, loadNow, makeContext, type BenchRow, type BenchSection } from './harness.js'
import { pduSections } from './codec.js'
import { ioSection } from './io-matrix.js'
import { failoverSection } from './failover.js'
import { remapSection } from './remap-storm.js'
import { scaleSection } from './scale.js'
import { kernelSection } from './kernel-host.js'
import { createProgressBar, showProgressHere } from '../bin/progress.js'

export const SECTIONS: BenchSection[] = [...pduSections, ioSection, failoverSection, remapSection, scaleSection]

const VALUE_OPTIONS = ['--only', '--cases', '--seconds', '--rounds', '--budget', '--profile', '--kernel']
const FLAGS = ['--json', '--quick', '--disable-sqflow']

function parseArgs(argv: string[]): Map<string, string> {
  const m = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (FLAGS.includes(a)) m.set(a, 'true')
    else if (VALUE_OPTIONS.includes(a)) {
      const v = argv[++i]
      if (v === undefined) throw new Error(`'${a}' needs a value`)
      m.set(a, v)
    } else throw new Error(`unknown option '${a}' (options: ${[...FLAGS, ...VALUE_OPTIONS].join(', ')})`)
  }
  return m
}

function num(v: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt
  const n = Number(v)
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`'${name}' must be a number in [${min}, ${max}], got '${v}'`)
  return n
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2))
  const jsonOnly = a.has('--json')
  const quick = a.has('--quick')
  const only = a.get('--only')?.split(',')
  const kernel = a.get('--kernel')
  const sections = kernel !== undefined ? [...SECTIONS, kernelSection(kernel)] : SECTIONS
  const known = sections.map((s) => s.name)
  for (const n of only ?? []) if (!known.includes(n)) throw new Error(`'--only': no section '${n}' (sections: ${known.join(', ')})`)
  const bar = createProgressBar({ show: !jsonOnly && showProgressHere('normal'), unit: 'steps' })
  let done = 0
  let total = 1
  const ctx = makeContext({
    budgetMs: num(a.get('--budget'), '--budget', quick ? 60 : 250, 1, 5000),
    quick,
    caseMs: num(a.get('--seconds'), '--seconds', quick ? 0.5 : 3, 0.05, 600) * 1000,
    rounds: num(a.get('--rounds'), '--rounds', 1, 1, 20),
    ...(a.get('--profile') !== undefined ? { profileDir: a.get('--profile')! } : {}),
    ...(a.get('--cases') !== undefined ? { cases: a.get('--cases')!.split(',') } : {}),
    step: (detail) => bar.update(done++, total, detail),
    disableSqflow: a.has('--disable-sqflow'),
  })
  const chosen = sections.filter((s) => only === undefined || only.includes(s.name))
  total = chosen.reduce((n, s) => n + (s.steps?.(ctx) ?? 1), 0)
  const rows: BenchRow[] = []
  const t0 = performance.now()
  const loadStart = loadNow()
  try {
    for (const s of chosen) {
      if (s.steps === undefined) ctx.step(s.name)
      const r = await s.run(ctx)
      rows.push(...r)
    }
  } finally {
    bar.stop()
  }
  const doc = {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    quick,
    budgetMs: ctx.budgetMs,
    caseMs: ctx.caseMs,
    rounds: ctx.rounds,
    ...(ctx.disableSqflow ? { disableSqflow: true } : {}),
    load: { start: loadStart, end: loadNow() },
    elapsedMs: Math.round(performance.now() - t0),
    rows,
  }
  if (jsonOnly) {
    console.log(JSON.stringify(doc, null, 2))
    return
  }
  console.log(`node ${doc.node} ${doc.platform}; load average ${doc.load.start} at start, ${doc.load.end} at end; ${(doc.elapsedMs / 1000).toFixed(1)} s`)
  console.log()
  console.log(formatTable(rows))
  console.log()
  console.log(JSON.stringify(doc))
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e)
  process.exitCode = 1
})
