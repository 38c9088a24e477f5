/**
 * Reading blktests results back: `./check` status lines with their detail lines (skip reason,
 * runtime, output diff), blktests' result files (reason of a failure), and the side-by-side table.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { countByTestId, failureKinds, formatTable, parseCheckOutput, sideBySide } from '../../blktests/results.js'
import { expandTests, nvmfSize } from '../../blktests/runner.js'

// The shape of ./check output (status line, then indented details), written for this test.
const NVMET = [
  'nvme/030 (tr=tcp) (a discovery test)                        [passed]',
  '    runtime  1.2s  ...  1.100s',
  'nvme/048 (tr=tcp) (queue count test)                        [failed]',
  '    runtime  4.0s  ...  9.500s',
  '    --- tests/nvme/048.out\t2026-12-04',
  '    +++ /tmp/out/nodev_tr_tcp/nvme/048.out.bad\t2026-12-04',
  '    @@ -1,2 +1,3 @@',
  '     Running nvme/048',
  '    +expected queue count 2 not set',
  '    +FAIL',
  'nvme/057 (tr=tcp) (multipath failover during I/O)            [passed]',
  '    runtime    ...  30.4s',
  'nvme/012 (tr=tcp bd=file) (run mkfs and data verification fio) [passed]',
  '    runtime    ...  60.0s',
].join('\n')
const OURS = [
  '\x1b[1mnvme/030 (tr=tcp) (a discovery test)                  [not run]\x1b[0m',
  '    Linux kernel soft target not available',
  'nvme/057 (tr=tcp) (multipath failover during I/O)         [passed]',
  '    runtime  30.4s  ...  31.2s',
  'nvme/012 (tr=tcp bd=file) (run mkfs and data verification fio) [passed]',
  '    runtime  60.0s  ...  58.0s',
].join('\n')

t.test('check output: verdicts, conditions, runtimes and reasons', async (t) => {
  const r = parseCheckOutput(NVMET)
  t.same(
    r.map((x) => [x.test, x.condition, x.verdict]),
    [
      ['nvme/030', 'tr=tcp', 'pass'],
      ['nvme/048', 'tr=tcp', 'fail'],
      ['nvme/057', 'tr=tcp', 'pass'],
      ['nvme/012', 'tr=tcp bd=file', 'pass'],
    ],
  )
  t.equal(r[2]!.runtimeS, 30.4)
  t.equal(r[1]!.reason, '+expected queue count 2 not set | +FAIL', 'a failure keeps the lines its output gained or lost')
  const o = parseCheckOutput(OURS)
  t.equal(o[0]!.verdict, 'skip')
  t.equal(o[0]!.reason, 'Linux kernel soft target not available', 'a skip keeps its reason (escape codes stripped)')
  t.equal(o[1]!.runtimeS, 31.2)
})

t.test('result files: the reason blktests recorded for a failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'blktests-results-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'nodev_tr_tcp', 'nvme'), { recursive: true })
  writeFileSync(join(dir, 'nodev_tr_tcp', 'nvme', '048'), 'status\tfail\nreason\toutput\nruntime\t9.5s\n')
  writeFileSync(join(dir, 'nodev_tr_tcp', 'nvme', '057'), 'status\tpass\n')
  writeFileSync(join(dir, 'nodev_tr_tcp', 'nvme', '048.full'), 'noise\n')
  t.same([...failureKinds(dir)], [['nvme/048 tr=tcp', 'output']])
})

t.test('side-by-side table and per-id counts', async (t) => {
  const rows = sideBySide({ nvmet: parseCheckOutput(NVMET), 'nvmf-fault': parseCheckOutput(OURS) })
  t.same(
    rows.map((r) => `${r.test} ${r.condition}`),
    ['nvme/012 tr=tcp bd=file', 'nvme/030 tr=tcp', 'nvme/048 tr=tcp', 'nvme/057 tr=tcp'],
  )
  const table = formatTable(rows, ['nvmet', 'nvmf-fault'])
  t.match(table, /\| nvme\/057 \| tr=tcp \| pass \(30\.4s\) \| pass \(31\.2s\) \|/)
  t.match(table, /\| nvme\/048 \| tr=tcp \| fail \(9\.5s\) \| - \| nvmet: \+expected queue count 2 not set \/ \+FAIL \|/)
  t.match(table, /nvmf-fault: Linux kernel soft target not available/)
  t.same(countByTestId(parseCheckOutput(NVMET)), { pass: 3, fail: 1, skip: 0 })
})

t.test('image size: blktests units to the target config', async (t) => {
  t.equal(nvmfSize('350m'), '350MiB')
  t.equal(nvmfSize('1G'), '1GiB')
  t.equal(nvmfSize('4096'), '4096')
  t.throws(() => nvmfSize('big'), /--img-size/)
})

t.test('test list: a group becomes its tests in order, a test name stays', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'blktests-checkout-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'tests', 'nvme'), { recursive: true })
  for (const f of ['010', '002', '002.out', 'rc', '031']) writeFileSync(join(dir, 'tests', 'nvme', f), '')
  t.same(expandTests(dir, ['nvme']), ['nvme/002', 'nvme/010', 'nvme/031'])
  t.same(expandTests(dir, ['nvme/057', 'nvme/058', 'nvme/057']), ['nvme/057', 'nvme/058'], 'named tests keep their order, once each')
  t.same(expandTests(dir, ['nvme/031', 'nvme']), ['nvme/031', 'nvme/002', 'nvme/010'])
})
