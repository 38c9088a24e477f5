// Subsystem and host names as nvmet takes them (lib/nvme/nqn.ts nqnNameProblem): the one rule the
// target's config, API and CLI apply.
import t from 'tap'
import { DISCOVERY_NQN, assertNqnName, nqnNameProblem, validateNqn } from '../../../lib/nvme/nqn.js'

t.test('names nvmet accepts are accepted', async (t) => {
  const ok = [
    'blktests-subsystem-1', // blktests' subsystem
    'testnqn', // nvmetcli's examples
    'hostnqn',
    'x',
    'nqn.2014-08.org.nvmf-fault:default',
    'nqn.2014-08.org.nvmexpress:uuid:00112233-4455-6677-8899-aabbccddeeff',
    'with space, comma=and:colon',
    'ünïcödé',
    'y'.repeat(223),
  ]
  for (const n of ok) {
    t.equal(nqnNameProblem(n), undefined, `subsystem ${n.slice(0, 40)}`)
    t.equal(nqnNameProblem(n, 'host'), undefined, `host ${n.slice(0, 40)}`)
  }
  t.ok(validateNqn('blktests-subsystem-1') !== undefined, 'not of the NVMe Base form, accepted all the same')
  t.equal(assertNqnName('blktests-subsystem-1', 'subnqn'), 'blktests-subsystem-1')
})

t.test('names nvmet refuses are refused with the reason', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    ['', /empty/],
    ['a/b', /'\/'/],
    ['.', /not a directory name/],
    ['..', /not a directory name/],
    ['a\0b', /NUL/],
    ['z'.repeat(224), /224 bytes; nvmet keeps at most 223/],
    ['é'.repeat(112), /224 bytes/],
    [DISCOVERY_NQN, /discovery NQN/],
    [`${DISCOVERY_NQN}\n`, /discovery NQN/],
    [42, /string/],
  ]
  for (const [n, re] of bad) t.match(nqnNameProblem(n), re, JSON.stringify(n).slice(0, 40))
  t.equal(nqnNameProblem(DISCOVERY_NQN, 'host'), undefined, 'the discovery NQN is a valid name to refer to')
  t.throws(() => assertNqnName('a/b', 'subnqn'), { name: 'InvalidArgumentError', field: 'subnqn' })
})
