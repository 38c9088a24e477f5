import t from 'tap'
import fc from 'fast-check'
import { decideDisposition, DEFAULT_MAX_RETRIES, type DispositionInput, type DispositionAction } from '../../lib/disposition.js'
import { NvmeStatus, makeStatus, STATUS_DNR, withDnr } from '../../lib/status.js'
import { InvalidArgumentError } from '../../lib/errors.js'

type Row = [name: string, input: DispositionInput, action: DispositionAction, rule: number, delayMs?: number]
const base = { retries: 0, multipath: true }
const crdt = [1, 5, 30] as const

// One or more rows for every row of wire reference 8.2 (rules evaluated in order).
const ROWS: Row[] = [
  ['1: success', { ...base, status: 0 }, 'complete', 1],
  ['1: success ignores DNR/More bits', { ...base, status: STATUS_DNR }, 'complete', 1],
  ['2: no-retry request', { ...base, status: NvmeStatus.INTERNAL, noRetry: true }, 'complete', 2],
  ['2: no-retry beats a path error', { ...base, status: NvmeStatus.ANA_INACCESSIBLE, noRetry: true }, 'complete', 2],
  ['2: DNR set', { ...base, status: withDnr(NvmeStatus.INTERNAL) }, 'complete', 2],
  ['2: DNR beats a path error', { ...base, status: withDnr(NvmeStatus.ANA_INACCESSIBLE) }, 'complete', 2],
  ['2: DNR beats auth required', { ...base, status: withDnr(NvmeStatus.AUTH_REQUIRED) }, 'complete', 2],
  ['2: retries exhausted (5)', { ...base, status: NvmeStatus.INTERNAL, retries: 5 }, 'complete', 2],
  ['2: retries exhausted beats failover', { ...base, status: NvmeStatus.ANA_TRANSITION, retries: 5 }, 'complete', 2],
  ['2: custom maxRetries', { ...base, status: NvmeStatus.INTERNAL, retries: 1, maxRetries: 1 }, 'complete', 2],
  ['3: auth required (multipath)', { ...base, status: NvmeStatus.AUTH_REQUIRED }, 'authenticate', 3],
  ['3: auth required (not multipath)', { ...base, multipath: false, status: NvmeStatus.AUTH_REQUIRED }, 'authenticate', 3],
  ['3: auth required with queue dying', { ...base, queueDying: true, status: NvmeStatus.AUTH_REQUIRED }, 'authenticate', 3],
  ['4: ANA inaccessible', { ...base, status: NvmeStatus.ANA_INACCESSIBLE }, 'failover', 4],
  ['4: ANA persistent loss', { ...base, status: NvmeStatus.ANA_PERSISTENT_LOSS }, 'failover', 4],
  ['4: ANA transition', { ...base, status: NvmeStatus.ANA_TRANSITION }, 'failover', 4],
  ['4: internal path error', { ...base, status: NvmeStatus.INTERNAL_PATH_ERROR }, 'failover', 4],
  ['4: controller pathing error', { ...base, status: NvmeStatus.CTRL_PATH_ERROR }, 'failover', 4],
  ['4: host pathing error', { ...base, status: NvmeStatus.HOST_PATH_ERROR }, 'failover', 4],
  ['4: command aborted by host', { ...base, status: NvmeStatus.HOST_ABORTED_CMD }, 'failover', 4],
  ['4: any SCT 3 code', { ...base, status: makeStatus({ sct: 3, sc: 0x42 }) }, 'failover', 4],
  ['4: path error with CRD still fails over at once', { ...base, crdt, status: makeStatus({ sct: 3, sc: 2, crd: 2 }) }, 'failover', 4, 0],
  ['4: queue dying, generic error', { ...base, queueDying: true, status: NvmeStatus.INTERNAL }, 'failover', 4],
  ['5: not multipath, queue dying', { ...base, multipath: false, queueDying: true, status: NvmeStatus.INTERNAL }, 'complete', 5],
  ['5: not multipath, queue dying, path error', { ...base, multipath: false, queueDying: true, status: NvmeStatus.ANA_INACCESSIBLE }, 'complete', 5],
  ['6: not multipath, path error retried on the same path', { ...base, multipath: false, status: NvmeStatus.ANA_INACCESSIBLE }, 'retry', 6],
  ['6: internal error', { ...base, status: NvmeStatus.INTERNAL }, 'retry', 6, 0],
  ['6: transient transport error', { ...base, status: NvmeStatus.TRANSIENT_TR_ERR }, 'retry', 6],
  ['6: namespace not ready', { ...base, status: NvmeStatus.NS_NOT_READY }, 'retry', 6],
  ['6: media error without DNR', { ...base, status: NvmeStatus.READ_ERROR }, 'retry', 6],
  ['6: retries below the limit', { ...base, status: NvmeStatus.INTERNAL, retries: 4 }, 'retry', 6],
  ['6: CRD 1 → CRDT1 × 100 ms', { ...base, crdt, status: makeStatus({ sct: 0, sc: 0x82, crd: 1 }) }, 'retry', 6, 100],
  ['6: CRD 2 → CRDT2 × 100 ms', { ...base, crdt, status: makeStatus({ sct: 0, sc: 0x82, crd: 2 }) }, 'retry', 6, 500],
  ['6: CRD 3 → CRDT3 × 100 ms', { ...base, crdt, status: makeStatus({ sct: 0, sc: 0x82, crd: 3 }) }, 'retry', 6, 3000],
  ['6: CRD without CRDT values → 0', { ...base, status: makeStatus({ sct: 0, sc: 0x82, crd: 3 }) }, 'retry', 6, 0],
  ['6: crdDelaysMs take precedence', { ...base, crdt, crdDelaysMs: [0, 7, 8, 9], status: makeStatus({ sct: 0, sc: 0x82, crd: 2 }) }, 'retry', 6, 8],
]

t.test('spec 8.2 table', async (t) => {
  for (const [name, input, action, rule, delay] of ROWS) {
    const d = decideDisposition(input)
    t.equal(d.action, action, `${name}: action`)
    t.equal(d.rule, rule, `${name}: rule`)
    if (delay !== undefined) t.equal(d.delayMs, delay, `${name}: delay`)
    if (action !== 'retry') t.equal(d.delayMs, 0, `${name}: no delay unless retrying`)
  }
  t.equal(DEFAULT_MAX_RETRIES, 5)
})

t.test('bad input', async (t) => {
  t.throws(() => decideDisposition({ status: 0x8000, retries: 0, multipath: false }), InvalidArgumentError)
  t.throws(() => decideDisposition({ status: 1, retries: -1, multipath: false }), InvalidArgumentError)
})

t.test('property: invariants over random inputs', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0x7fff }), fc.integer({ min: 0, max: 8 }), fc.boolean(), fc.boolean(), fc.boolean(),
      (status, retries, multipath, noRetry, queueDying) => {
        const d = decideDisposition({ status, retries, multipath, noRetry, queueDying, crdt })
        if ((status & 0x7ff) === 0) return d.action === 'complete'
        if (noRetry || (status & STATUS_DNR) !== 0 || retries >= 5) return d.action === 'complete'
        if (d.action === 'failover') return multipath
        if (d.action === 'retry') return d.delayMs >= 0 && !(multipath && (status & 0x700) === 0x300)
        return true
      },
    ),
    { numRuns: 2000 },
  )
  t.pass('invariants held')
})
