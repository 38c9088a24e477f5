// The conformance catalogue against the Linux kernel host (`--initiator linux:KERNELSPEC`): every
// entry, one guest at a time, plus the kernel-console check on each. Opt-in (a guest per kernel
// under TCG takes minutes): NVMF_FAULT_CONFORMANCE_LINUX=1 runs it;
// NVMF_FAULT_CONFORMANCE_KERNELS="default,bpo-latest" picks the kernels (default: default);
// NVMF_FAULT_CONFORMANCE_SCENARIOS="id,id" picks entries; NVMF_FAULT_CONFORMANCE_SESSION=0 boots
// a guest per scenario instead of one per kernel; NVMF_FAULT_CONFORMANCE_OUT=DIR saves the
// JSON and HTML reports there. A kernel failing a check is a finding, not a test failure: the
// test asserts that every run was judged (no check errored, the console check is there) and that
// the report renders.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CATALOGUE, selectEntries } from '../../conformance/catalogue.js'
import type { CatalogueEntry } from '../../conformance/catalogue-types.js'
import { kernelConsoleClean } from '../../conformance/checks-kernel.js'
import { createLinuxDriverFactory } from '../../conformance/drivers/linux-factory.js'
import { renderHtmlReport } from '../../conformance/report-html.js'
import { REPORT_FORMAT, type ConformanceReport, type ScenarioRun } from '../../conformance/report-types.js'
import { runScenario } from '../../conformance/runner.js'
import { interopAvailability } from '../../kernel/vm-image.js'

const env = process.env
const on = env.NVMF_FAULT_CONFORMANCE_LINUX === '1'
const avail = on ? await interopAvailability() : { ok: true as const }
const skip = !on ? 'opt-in: NVMF_FAULT_CONFORMANCE_LINUX=1 runs the catalogue against the Linux host' : avail.ok ? false : `skipped: ${avail.reason}`
const kernels = (env.NVMF_FAULT_CONFORMANCE_KERNELS ?? 'default').split(',').map((s) => s.trim()).filter((s) => s !== '')
const ids = (env.NVMF_FAULT_CONFORMANCE_SCENARIOS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
const session = env.NVMF_FAULT_CONFORMANCE_SESSION !== '0'
const SEED = 58

/** The entry with the kernel-console check added (it skips for initiators without a console). */
function withKernelChecks(e: CatalogueEntry): CatalogueEntry {
  return { ...e, checks: [...e.checks, kernelConsoleClean()] }
}

t.test('the catalogue against the Linux kernel host', { skip, timeout: 3_600_000 }, async (t) => {
  const entries = selectEntries(ids.length > 0 ? { ids } : {}, CATALOGUE).map(withKernelChecks)
  for (const spec of kernels) {
    const factory = await createLinuxDriverFactory(spec, { session, log: (l) => t.comment(l) })
    t.teardown(() => factory.close())
    const runs: ScenarioRun[] = []
    const startedAt = new Date().toISOString()
    for (const entry of entries) {
      const t0 = Date.now()
      const run = await runScenario({ entry, driver: factory.create(entry, SEED), seed: SEED, readyTimeoutMs: 600_000 })
      runs.push(run)
      t.comment(`${spec} ${entry.info.id}: ${run.verdict} in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
      for (const c of run.checks) t.comment(`  ${c.verdict.padEnd(5)} ${c.id}: ${c.detail}`)
      t.notOk(run.checks.some((c) => c.verdict === 'error'), `${entry.info.id}: every check judged`)
      t.ok(run.checks.some((c) => c.id === 'kernel-console-clean'), `${entry.info.id}: the kernel console was judged`)
    }
    await factory.close()
    const s = { pass: 0, fail: 0, skip: 0, error: 0 }
    for (const r of runs) for (const c of r.checks) s[c.verdict]++
    const report: ConformanceReport = {
      format: REPORT_FORMAT,
      tool: { name: 'nvmf-fault', version: 'dev' },
      startedAt,
      seed: SEED,
      initiators: [factory.info],
      scenarios: entries.map((e) => e.info),
      runs,
      summary: s,
    }
    const html = renderHtmlReport(report)
    t.match(html, /<html/i, `${spec}: the HTML report renders`)
    t.comment(`${spec} (${factory.info.description}): ${JSON.stringify(s)}`)
    const out = env.NVMF_FAULT_CONFORMANCE_OUT
    if (out !== undefined && out !== '') {
      mkdirSync(out, { recursive: true })
      const base = join(out, `conformance-${factory.info.id}`)
      writeFileSync(`${base}.json`, JSON.stringify(report, null, 2))
      writeFileSync(`${base}.html`, html)
      t.comment(`saved ${base}.json and .html`)
    }
  }
})
