/**
 * The seed regression (anchors 0.1, blktests nvme/058): a write that passed a path's QoS throttle
 * hits a path error while every other path is unusable, so the requeue finds no path and the write
 * completes with an error on the multipath head. The QoS accounting must stay balanced and the
 * invariant checker silent.
 *
 * The head, paths, QoS chain and device are the real initiator code; only the controller behind each
 * path is a scripted implementation of the `PathBackend` interface, so the test can place the path
 * error and the controller states exactly. The same scenarios run against our target over TCP in
 * test/initiator/failover-target.test.ts.
 *
 * `internal.clearQosFlagsOnFailover: false` removes the fix (failover no longer completes the charge
 * on the charging path nor clears the flags); the "without the fix" cases show the checker catching
 * exactly the kernel bug.
 */
import t from 'tap'
import fc from 'fast-check'
import { AnaState } from '../../lib/ana.js'
import { systemClock } from '../../lib/clock.js'
import { NvmeStatus } from '../../lib/status.js'
import type { ControllerStateValue } from '../../initiator/controller-state.js'
import { NvmeDevice } from '../../initiator/device.js'
import type { HostIo } from '../../initiator/host-io.js'
import { MultipathHead } from '../../initiator/multipath-head.js'
import { NsPath, type IoResult, type PathBackend } from '../../initiator/ns-path.js'
import { QosInvariantChecker } from '../../initiator/qos/invariant-checker.js'
import { LatencyTracker } from '../../initiator/qos/latency-tracker.js'
import { WriteThrottle } from '../../initiator/qos/write-throttle.js'

const BS = 512

/** A controller whose I/O outcome the test decides, with a tiny block store for verification. */
class ScriptedController implements PathBackend {
  readonly id: string
  state: ControllerStateValue = 'live'
  failfastExpired = false
  activeRequests = 0
  anaReads = 0
  readonly store: Map<bigint, Buffer>
  /** Return a status to fail the next I/Os; undefined = execute. */
  decide: (io: HostIo) => number | undefined | Promise<number | undefined> = () => undefined
  constructor(id: string, store: Map<bigint, Buffer>) {
    this.id = id
    this.store = store
  }
  async executeIo(_nsid: number, io: HostIo): Promise<IoResult> {
    this.activeRequests++
    try {
      await new Promise((r) => setImmediate(r))
      if (this.state !== 'live') return { status: NvmeStatus.HOST_PATH_ERROR }
      const st = await this.decide(io)
      if (st !== undefined) return { status: st }
      if (io.op === 'write' && io.data !== undefined) {
        for (let i = 0; i < io.nlb; i++) this.store.set(io.slba + BigInt(i), Buffer.from(io.data.subarray(i * BS, (i + 1) * BS)))
        return { status: 0 }
      }
      if (io.op === 'read') {
        const out = Buffer.alloc(io.nlb * BS)
        for (let i = 0; i < io.nlb; i++) this.store.get(io.slba + BigInt(i))?.copy(out, i * BS)
        return { status: 0, data: out }
      }
      return { status: 0 }
    } finally {
      this.activeRequests--
    }
  }
  crdDelayMs(): number {
    return 0
  }
  requestAnaRead(): void {
    this.anaReads++
  }
}

interface Rig {
  head: MultipathHead
  device: NvmeDevice
  checker: QosInvariantChecker
  a: ScriptedController
  b: ScriptedController
  pa: NsPath
  pb: NsPath
  setState(c: ScriptedController, s: ControllerStateValue): void
}

function rig(options: { clearQosFlagsOnFailover: boolean; bState: ControllerStateValue; maxDepth?: number }): Rig {
  const clock = systemClock
  const store = new Map<bigint, Buffer>()
  const checker = new QosInvariantChecker()
  let seq = 0
  const head = new MultipathHead({
    hostId: 'test',
    id: 'sub/n1',
    subnqn: 'nqn.2026-01.io.nvmf-fault:seed',
    nsid: 1,
    ids: { nguid: '00112233445566778899aabbccddeeff' },
    blockSize: BS,
    nsze: 1024n,
    policy: 'numa',
    clock,
    maxRetries: 5,
    checker,
    delayedRemovalMs: 0,
    internal: { clearQosFlagsOnFailover: options.clearQosFlagsOnFailover },
  })
  const a = new ScriptedController('A', store)
  const b = new ScriptedController('B', store)
  b.state = options.bState
  const mk = (c: ScriptedController, distance: number): NsPath =>
    new NsPath({
      hostId: 'test',
      headId: head.id,
      backend: c,
      nsid: 1,
      anagrpid: 1,
      anaState: AnaState.OPTIMIZED,
      clock,
      qosPolicies: [new WriteThrottle({ clock, maxDepth: options.maxDepth ?? 1 }), new LatencyTracker()],
      checker,
      distance,
    })
  const pa = mk(a, 0)
  const pb = mk(b, 1)
  head.addPath(pa)
  head.addPath(pb)
  const device = new NvmeDevice({ head, clock, nextIoId: () => ++seq })
  return {
    head,
    device,
    checker,
    a,
    b,
    pa,
    pb,
    setState(c, s) {
      c.state = s
      for (const p of [pa, pb]) p.refresh()
      head.pathsChanged()
    },
  }
}

function pattern(lba: number, tag: number): Buffer {
  const b = Buffer.alloc(BS)
  for (let i = 0; i < BS; i += 4) b.writeUInt32LE((lba * 0x9e3779b1 + tag * 7919 + i) >>> 0, i)
  return b
}

/** Path A fails every write with 0x371 (its controller is being torn down) and goes to `deleting`. */
function failAOnWrite(r: Rig): void {
  r.a.decide = (io) => {
    if (io.op !== 'write') return undefined
    r.setState(r.a, 'deleting')
    return NvmeStatus.HOST_ABORTED_CMD
  }
}

t.test('seed regression: throttled write, path error, no other usable path → fails, accounting balanced', async (t) => {
  const r = rig({ clearQosFlagsOnFailover: true, bState: 'deleting' })
  failAOnWrite(r)
  // Two writes with a throttle depth of 1: the second waits in WBT, then is admitted (throttled).
  const w1 = r.device.write(0, pattern(0, 1))
  const w2 = r.device.write(1, pattern(1, 1))
  // Bounded: a charge leaked by the first write would keep the second one waiting in WBT forever.
  let timer: NodeJS.Timeout | undefined
  const results = await Promise.race([
    Promise.allSettled([w1, w2]),
    new Promise<'stuck'>((res) => {
      timer = setTimeout(() => res('stuck'), 2000)
    }),
  ])
  clearTimeout(timer)
  if (results === 'stuck') {
    t.fail(`second write still waiting in path A's write throttle after 2 s (WBT in-flight ${r.pa.qos.policyInflight}, limit 1): a leaked charge`)
    t.same(r.checker.violations, [], 'invariant checker silent')
    return
  }
  for (const res of results) {
    t.equal(res.status, 'rejected', 'write fails: no available path')
    if (res.status === 'rejected') t.match((res.reason as Error).message, /no available path/)
  }
  t.ok(r.pa.qos.policy<WriteThrottle>('wbt')!.stats()['throttled'] as number >= 2, 'both writes went through the throttle hook')
  t.equal(r.pa.qos.chargedIos, 0, 'path A charge returned to zero')
  t.equal(r.pa.qos.inflightRequests, 0, 'path A in-flight requests zero')
  t.equal(r.pa.qos.policyInflight, 0, 'path A WBT in-flight zero')
  t.same(r.checker.checkQuiescent([r.pa.qos, r.pb.qos]), [], 'quiescent')
  t.same(r.checker.violations, [], 'invariant checker silent')
  t.equal(r.head.counters.noPathFailures, 2)
  t.equal(r.head.pending, 0)
})

t.test('seed regression: requeued while B connects, completes on B, data verified, accounting balanced', async (t) => {
  const r = rig({ clearQosFlagsOnFailover: true, bState: 'connecting' })
  failAOnWrite(r)
  const w = r.device.write(5, pattern(5, 2))
  // Wait until the write sits on the head's requeue list (B is connecting: "requeuing I/O").
  for (let i = 0; i < 200 && r.head.requeueLength === 0; i++) await new Promise((res) => setImmediate(res))
  t.equal(r.head.requeueLength, 1, 'write parked on the requeue list')
  r.setState(r.b, 'live')
  await w
  t.same(await r.device.read(5, 1), pattern(5, 2), 'data written through B reads back')
  t.same(r.checker.checkQuiescent([r.pa.qos, r.pb.qos]), [])
  t.same(r.checker.violations, [], 'invariant checker silent')
  t.equal(r.pa.counters.failovers, 1)
})

t.test('without the fix (clearQosFlagsOnFailover: false) the checker reports the nvme/058 bug', async (t) => {
  const r = rig({ clearQosFlagsOnFailover: false, bState: 'deleting' })
  failAOnWrite(r)
  const res = await Promise.allSettled([r.device.write(0, pattern(0, 3))])
  t.equal(res[0]?.status, 'rejected')
  const kinds = r.checker.violations.map((v) => v.kind)
  t.ok(kinds.includes('no-qos-completion'), 'flagged write completed on the head, which has no QoS')
  const leaks = r.checker.checkQuiescent([r.pa.qos, r.pb.qos])
  t.ok(leaks.length > 0, 'path A stays charged (WBT slot leaked)')
  t.equal(r.pa.qos.policyInflight, 1, "path A's WBT still counts the write in flight")
})

t.test('without the fix, a write that fails over to a live path is counted twice', async (t) => {
  const r = rig({ clearQosFlagsOnFailover: false, bState: 'connecting' })
  failAOnWrite(r)
  const w = r.device.write(7, pattern(7, 4))
  for (let i = 0; i < 200 && r.head.requeueLength === 0; i++) await new Promise((res) => setImmediate(res))
  r.setState(r.b, 'live')
  await w
  const kinds = r.checker.violations.map((v) => v.kind)
  t.ok(kinds.includes('double-charge'), 'charged by B while the charge by A is still open')
  t.ok(r.checker.checkQuiescent([r.pa.qos, r.pb.qos]).length > 0, 'A never returns to zero')
})

t.test('property: any mix of statuses and path states keeps the accounting balanced', async (t) => {
  const statuses = [0, NvmeStatus.ANA_INACCESSIBLE, NvmeStatus.ANA_TRANSITION, NvmeStatus.HOST_PATH_ERROR, NvmeStatus.HOST_ABORTED_CMD, NvmeStatus.INTERNAL, NvmeStatus.LBA_OUT_OF_RANGE | 0x4000]
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ lba: fc.integer({ min: 0, max: 31 }), st: fc.constantFrom(...statuses), on: fc.constantFrom('A', 'B') }), { minLength: 1, maxLength: 12 }),
      fc.constantFrom<ControllerStateValue>('live', 'connecting', 'deleting'),
      async (ops, bState) => {
        const r = rig({ clearQosFlagsOnFailover: true, bState, maxDepth: 2 })
        const plan = new Map<number, { st: number; on: string }>()
        for (const o of ops) plan.set(o.lba, { st: o.st, on: o.on })
        const once = new Set<number>()
        for (const c of [r.a, r.b]) {
          c.decide = (io) => {
            const p = plan.get(Number(io.slba))
            if (p === undefined || p.on !== c.id || once.has(io.id)) return undefined
            once.add(io.id)
            if (p.st === NvmeStatus.ANA_INACCESSIBLE || p.st === NvmeStatus.ANA_TRANSITION) {
              // The path comes back after its ANA log is re-read.
              setImmediate(() => {
                ;(c === r.a ? r.pa : r.pb).setAnaState(AnaState.OPTIMIZED)
                r.head.pathsChanged()
              })
            }
            return p.st === 0 ? undefined : p.st
          }
        }
        const writes = [...plan.keys()].map((lba) => r.device.write(lba, pattern(lba, 9)))
        // A connecting B comes up a little later so parked I/O drains.
        setTimeout(() => r.setState(r.b, 'live'), 5)
        let timer: NodeJS.Timeout | undefined
        const settled = await Promise.race([
          Promise.allSettled(writes).then(() => true),
          new Promise<boolean>((res) => {
            timer = setTimeout(() => res(false), 2000)
          }),
        ])
        clearTimeout(timer)
        if (!settled) return false // a write stuck behind a leaked throttle charge
        if (r.b.state !== 'live') r.setState(r.b, 'live')
        const leaks = r.checker.checkQuiescent([r.pa.qos, r.pb.qos])
        return leaks.length === 0 && r.checker.violations.length === 0 && r.head.pending === 0
      },
    ),
    { numRuns: 40 },
  )
  t.pass('balanced for every generated case')
})
