/**
 * The external-command driver (docs/conformance-driver.md): our own driver script (examples/
 * conformance-driver.ts, our initiator behind the JSON-lines contract) passes; a deliberately
 * broken one (test/conformance/fixtures/broken-driver.ts: ignores ANA, retries DNR errors) gets
 * `fail` with a precise detail. Driver processes start slowly on a loaded machine (TypeScript
 * loader): generous ready limits.
 */
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { CATALOGUE } from '../../conformance/catalogue.js'
import { ExternalCommandDriver, parseDriverEvent, splitCommand } from '../../conformance/drivers/external-command.js'
import { runScenario } from '../../conformance/runner.js'
import { childEnv, scriptArgs } from '../helpers/cli-process.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const env = childEnv()
const entry = (id: string) => CATALOGUE.find((e) => e.info.id === id)!
const driver = (script: string) => new ExternalCommandDriver({ command: [process.execPath, ...scriptArgs(script)], env, cwd: root, graceMs: 30_000 })

t.test('DriverEvent lines are validated, naming what is wrong', async (t) => {
  t.same(parseDriverEvent('{"kind":"ready"}'), { kind: 'ready' })
  t.same(parseDriverEvent('{"kind":"io","nsid":1,"ops":3,"bytes":12288,"errors":0}'), { kind: 'io', nsid: 1, ops: 3, bytes: 12288, errors: 0 })
  t.equal(parseDriverEvent('nope'), 'not JSON')
  t.match(parseDriverEvent('{"kind":"io","nsid":1}'), /'io' needs numbers/)
  t.match(parseDriverEvent('{"kind":"log","level":"info","detail":"x"}'), /level 'warn' or 'error'/)
  t.match(parseDriverEvent('{"kind":"boom"}'), /unknown kind "boom"/)
  t.same(splitCommand(' ./d.sh  --x 1 '), ['./d.sh', '--x', '1'])
  t.throws(() => splitCommand('  '), { code: 'ERR_NVMEOF_INVALID_ARG' })
  t.throws(() => new ExternalCommandDriver({ command: [] }), { code: 'ERR_NVMEOF_INVALID_ARG' })
})

t.test('a driver that exits before ready is an error naming its exit and stderr', async (t) => {
  const d = new ExternalCommandDriver({ command: [process.execPath, '-e', 'console.error("cannot reach the target"); process.exit(3)', '--'] })
  const run = await runScenario({ entry: entry('dnr-obeyed'), driver: d, seed: 1 })
  t.equal(run.verdict, 'error')
  t.match(run.checks[0]!.detail, /ended before it was ready \(exit status 3\): cannot reach the target/)
})

t.test('our initiator behind the driver contract passes ANA failover/failback', async (t) => {
  const d = driver('examples/conformance-driver.ts')
  t.match(d.info.id, /^driver:conformance-driver\.(ts|js)$/, 'named after the command (source or built)')
  const run = await runScenario({ entry: entry('ana-failover-failback'), driver: d, seed: 3 })
  for (const c of run.checks) t.not(c.verdict, 'fail', `${c.id}: ${c.detail}`)
  t.equal(run.verdict, 'pass', run.checks.map((c) => `${c.id} ${c.verdict} ${c.detail}`).join('\n'))
  t.equal(run.checks.find((c) => c.id === 'no-app-errors')?.verdict, 'pass', 'the driver reported its I/O')
})

t.test('a broken driver fails: I/O to an inaccessible path, and DNR retried', async (t) => {
  const ana = await runScenario({ entry: entry('ana-failover-failback'), driver: driver('test/conformance/fixtures/broken-driver.ts'), seed: 3 })
  const inacc = ana.checks.find((c) => c.id === 'no-io-to-inaccessible')!
  t.equal(inacc.verdict, 'fail')
  t.match(inacc.detail, /I\/O command\(s\) sent to an inaccessible path; first at \d+ ms: nsid 1 on port \d+ \(controller \d+\), ANA group 1 inaccessible, host told by answered with ANA status 0x302/)
  t.equal(ana.verdict, 'fail')

  const dnr = await runScenario({ entry: entry('dnr-obeyed'), driver: driver('test/conformance/fixtures/broken-driver.ts'), seed: 3 })
  const c = dnr.checks.find((x) => x.id === 'dnr-obeyed')!
  t.equal(c.verdict, 'fail')
  t.match(c.detail, /write #\d+ \(nsid 1, byte offset \d+, 4096 bytes\) on port \d+ was answered Internal Error.*\(0x4006\) with DNR at \d+ ms, and the same data was sent again at \d+ ms/)
})
