/**
 * `npm run bench` (builds, then `node dist/bench/run.js`). Prints a table and a JSON document of
 * every section's rows. Options: `--json` (JSON only), `--only name[,name]`, `--budget ms` (per
 * measurement, default 250). To add a section, export a `BenchSection` and append it to SECTIONS.
 */
import { formatTable, makeContext, type BenchRow, type BenchSection } from './harness.js'
import { pduSections } from './codec.js'

export const SECTIONS: BenchSection[] = [...pduSections]

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

async function main(): Promise<void> {
  const jsonOnly = process.argv.includes('--json')
  const budget = Number(arg('--budget') ?? 250)
  if (!Number.isFinite(budget) || budget <= 0 || budget > 5000) throw new Error("'--budget' must be a number of ms in (0, 5000]")
  const only = arg('--only')?.split(',')
  const ctx = makeContext(budget)
  const rows: BenchRow[] = []
  const t0 = performance.now()
  for (const s of SECTIONS) {
    if (only !== undefined && !only.includes(s.name)) continue
    const r = await s.run(ctx)
    rows.push(...r)
    if (!jsonOnly) console.log(`${s.name}: ${r.length} rows`)
  }
  const doc = { node: process.version, platform: `${process.platform}-${process.arch}`, budgetMs: budget, elapsedMs: Math.round(performance.now() - t0), rows }
  if (jsonOnly) {
    console.log(JSON.stringify(doc, null, 2))
    return
  }
  console.log()
  console.log(formatTable(rows))
  console.log()
  console.log(JSON.stringify(doc))
}

main().catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
