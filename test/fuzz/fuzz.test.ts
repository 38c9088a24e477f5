/**
 * A short seeded fuzz run of each side (the long runs are `npm run fuzz`): the target in a child
 * process and the initiator against the hostile fake target keep every invariant (process up,
 * typed outcome, fresh connection works, RSS bound, no unhandled rejection, no warning flood).
 */
import t from 'tap'
import { fuzzTarget } from '../../fuzz/target-side.js'
import { fuzzInitiator } from '../../fuzz/initiator-side.js'
import { formatReport } from '../../fuzz/report.js'

t.test('target: a seeded run keeps every invariant', async (t) => {
  const r = await fuzzTarget({ seed: 'suite', count: 80 })
  t.comment(formatReport(r))
  t.same(r.violations, [], 'no invariant violation')
  t.equal(r.inputs, 80)
  const termReqs = Object.values(r.outcomes).reduce((a, o) => a + (o['termreq'] ?? 0), 0)
  t.ok(termReqs > 0, 'some inputs ended in a C2HTermReq')
  t.ok((r.outcomes.split['accepted'] ?? 0) > 0, 'valid PDUs split at odd places are accepted')
})

t.test('initiator: a seeded run keeps every invariant', async (t) => {
  const r = await fuzzInitiator({ seed: 'suite', count: 40 })
  t.comment(formatReport(r))
  t.same(r.violations, [], 'no invariant violation')
  t.equal(r.inputs, 40)
  const termReqs = Object.values(r.outcomes).reduce((a, o) => a + (o['termreq'] ?? 0), 0)
  t.ok(termReqs > 0, 'some inputs made the host send an H2CTermReq')
})
