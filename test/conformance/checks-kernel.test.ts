// The kernel-host pieces of the catalogue that need no guest: the console check's three verdicts
// and the hostOptions -> `nvme connect` options mapping of `--initiator linux:SPEC`.
import t from 'tap'
import type { DriverSummary, JudgeContext } from '../../conformance/catalogue-types.js'
import { CATALOGUE } from '../../conformance/catalogue.js'
import { kernelConsoleClean } from '../../conformance/checks-kernel.js'
import { connectOptionsFor } from '../../conformance/drivers/linux-factory.js'
import type { InitiatorInfo } from '../../conformance/report-types.js'

const linux: InitiatorInfo = { id: 'linux-6.1.0-57-amd64', kind: 'linux', description: 'Linux 6.1', kernelRelease: '6.1.0-57-amd64' }
const ours: InitiatorInfo = { id: 'nvmf-fault', kind: 'nvmf-fault', description: 'ours' }

function summary(logs: string[]): DriverSummary {
  return { ops: 10, errors: 0, errorDetails: [], failovers: 0, logs, ioEvents: 3, done: { ok: true, detail: '' } }
}

// The check reads only the initiator and the driver's summary; the rest of the context is the runner's.
function judge(initiator: InitiatorInfo, logs: string[]): ReturnType<ReturnType<typeof kernelConsoleClean>['judge']> {
  return kernelConsoleClean().judge({ initiator, driver: summary(logs) } as unknown as JudgeContext)
}

t.test('kernel-console-clean: fail with the excerpt, pass, skip without a console', async (t) => {
  const splat = ['error: WARNING: CPU: 1 PID: 77 at drivers/nvme/host/multipath.c:123 nvme_mpath_x+0x1/0x2', 'error: Call Trace:', 'warn: nvme nvme0: I/O 12 QID 1 timeout']
  const f = judge(linux, splat)
  t.equal(f.verdict, 'fail')
  t.match(f.detail, /2 kernel error line\(s\).*WARNING: CPU: 1 PID: 77 at drivers\/nvme\/host\/multipath\.c:123.*\| Call Trace:/)
  t.equal(f.judgedFrom, 'kernel-log')
  const p = judge(linux, ['warn: nvme nvme0: Reconnecting in 1 seconds...'])
  t.equal(p.verdict, 'pass')
  t.match(p.detail, /1 nvme\/block warning line/)
  const s = judge(ours, splat)
  t.equal(s.verdict, 'skip')
  t.match(s.detail, /no kernel console/)
})

t.test('connectOptionsFor: the entry host options nvme-cli takes, the rest named', async (t) => {
  const entry = CATALOGUE[0]!
  t.same(connectOptionsFor(entry), { options: '--ctrl-loss-tmo=60 --reconnect-delay=1', ignored: [] })
  const e2 = { ...entry, hostOptions: { kato: 1500, reconnectDelayMs: 200, ctrlLossTmoMs: 4000, hdgst: true, ddgst: true, maxRetries: 2, delayedRemovalMs: 500 } }
  t.same(connectOptionsFor(e2), { options: '--ctrl-loss-tmo=4 --reconnect-delay=1 --keep-alive-tmo=2 --hdr-digest --data-digest', ignored: ['maxRetries', 'delayedRemovalMs'] })
  t.equal(connectOptionsFor(e2, '--ctrl-loss-tmo=9').options, '--ctrl-loss-tmo=9 --keep-alive-tmo=2 --hdr-digest --data-digest')
})
