/**
 * Our initiator through the catalogue: every check passes (or is skipped with a reason where it
 * does not apply). The default suite runs a representative subset (one entry per category, a few
 * seconds of I/O each); `npm run test:conformance` (NVMF_FAULT_CONFORMANCE_ALL=1) runs all of it.
 */
import t from 'tap'
import { CATALOGUE } from '../../conformance/catalogue.js'
import { createDriverFactory } from '../../conformance/driver-factory.js'
import { renderTap } from '../../conformance/output.js'
import { runCatalogue } from '../../conformance/run-catalogue.js'

const SUBSET = ['ana-failover-failback', 'ns-remap', 'path-status-ana-inaccessible', 'dnr-obeyed', 'controller-fatal', 'reset-mid-h2cdata', 'ana-change-after-log-read', 'keep-alive-expiry']
const all = process.env.NVMF_FAULT_CONFORMANCE_ALL === '1'
const entries = all ? [...CATALOGUE] : CATALOGUE.filter((e) => SUBSET.includes(e.info.id))

t.test(`our initiator passes every check (${all ? 'whole catalogue' : 'default subset'})`, async (t) => {
  const report = await runCatalogue({ entries, initiators: [await createDriverFactory('nvmf-fault')], seed: 7, version: 'test' })
  t.equal(report.runs.length, entries.length)
  for (const run of report.runs) {
    for (const c of run.checks) {
      t.not(c.verdict, 'fail', `${run.scenario} ${c.id}: ${c.detail}`)
      t.not(c.verdict, 'error', `${run.scenario} ${c.id}: ${c.detail}`)
      if (c.verdict === 'skip') t.ok(c.detail.length > 0, `${run.scenario} ${c.id} skipped with a reason: ${c.detail}`)
    }
    t.ok(run.checks.some((c) => c.verdict === 'pass'), `${run.scenario}: at least one check passed`)
    // The timeline carries the paths and the I/O the HTML report draws.
    t.ok(run.timeline.paths.length >= 1, `${run.scenario}: paths`)
    t.ok(run.timeline.io.some((b) => b.ops > 0), `${run.scenario}: I/O in the timeline`)
    // The runner's steps are marked, so a reader sees where the stop (and what it waited for) begins.
    const notes = run.timeline.events.filter((e) => e.kind === 'note').map((e) => e.detail)
    t.ok(notes.some((d) => /scenario starts/.test(d)) && notes.some((d) => /runner stops the driver/.test(d)), `${run.scenario}: scenario start and stop marked`)
  }
  t.equal(report.summary.fail, 0)
  t.equal(report.summary.error, 0)
  const tap = renderTap(report)
  t.match(tap, /^TAP version 14\n1\.\.\d+\n/)
  t.notMatch(tap, /^not ok/m)
})
