/**
 * Pure units of the initiator: the path and controller state machines (every legal and illegal move
 * of the tables), path selection policies, the write throttle, option validation.
 */
import t from 'tap'
import { AnaState } from '../../lib/ana.js'
import { ManualClock, seededRandom } from '../../lib/clock.js'
import { InvalidStateTransitionError } from '../../lib/errors.js'
import { CONTROLLER_TRANSITIONS, ControllerStateMachine, type ControllerStateValue } from '../../initiator/controller-state.js'
import { reconnectDelay, validateControllerOptions, DEFAULT_CONTROLLER_OPTIONS } from '../../initiator/controller-options.js'
import { emptyQosFlags, type HostIo, type IoOp } from '../../initiator/host-io.js'
import { NvmeHost } from '../../initiator/host.js'
import { PATH_TRANSITIONS, PathState, PathStateMachine, type PathStateValue } from '../../initiator/path-state.js'
import { selectPath, type SelectablePath } from '../../initiator/path-selector.js'
import { WriteThrottle } from '../../initiator/qos/write-throttle.js'
import { LatencyTracker } from '../../initiator/qos/latency-tracker.js'

/** An expected-error pattern for t.throws: an InvalidArgumentError naming `field`. */
const arg = (field: string): never => ({ name: 'InvalidArgumentError', field }) as never

t.test('path state machine: every pair of states is legal exactly when the table says so', async (t) => {
  const states = Object.values(PathState)
  for (const from of states) {
    for (const to of states) {
      if (from === to) continue
      const m = new PathStateMachine({ name: 'p', initial: from })
      if (PATH_TRANSITIONS[from].includes(to)) {
        t.equal(m.transition(to), true, `${from} -> ${to}`)
        t.equal(m.state, to)
      } else {
        t.throws(() => m.transition(to), InvalidStateTransitionError, `${from} -> ${to} refused`)
        t.equal(m.state, from)
      }
    }
  }
  const seen: string[] = []
  const m = new PathStateMachine({ name: 'p', onTransition: ({ from, to }) => seen.push(`${from}>${to}`) })
  for (const s of ['live', 'degraded', 'inaccessible', 'reconnecting', 'connecting', 'live', 'deleted'] as PathStateValue[]) m.transition(s)
  t.same(seen, ['connecting>live', 'live>degraded', 'degraded>inaccessible', 'inaccessible>reconnecting', 'reconnecting>connecting', 'connecting>live', 'live>deleted'])
  t.throws(() => m.transition('live'), InvalidStateTransitionError, 'deleted is final')
})

t.test('controller state machine table', async (t) => {
  const states = Object.keys(CONTROLLER_TRANSITIONS) as ControllerStateValue[]
  let legal = 0
  for (const from of states) {
    for (const to of states) {
      if (from === to) continue
      const m = new ControllerStateMachine({ name: 'c' })
      // Walk to `from` along a known path.
      const walk: Record<ControllerStateValue, ControllerStateValue[]> = {
        new: [],
        connecting: ['connecting'],
        live: ['connecting', 'live'],
        resetting: ['connecting', 'live', 'resetting'],
        reconnecting: ['connecting', 'reconnecting'],
        deleting: ['deleting'],
        deleted: ['deleting', 'deleted'],
      }
      for (const s of walk[from]) m.transition(s)
      if (CONTROLLER_TRANSITIONS[from].includes(to)) {
        m.transition(to)
        legal++
      } else t.throws(() => m.transition(to), InvalidStateTransitionError, `${from} -> ${to}`)
    }
  }
  t.equal(legal, Object.values(CONTROLLER_TRANSITIONS).reduce((n, l) => n + l.length, 0), 'every listed move works')
})

function p(id: string, anaState: number, extra: Partial<SelectablePath> = {}): SelectablePath {
  return { id, usable: true, anaState, distance: 1, queueDepth: 0, ...extra }
}

t.test('path selection: optimized first, non-optimized fallback, never inaccessible/persistent-loss/change', async (t) => {
  const O = AnaState.OPTIMIZED
  const N = AnaState.NON_OPTIMIZED
  for (const pol of ['numa', 'round-robin', 'queue-depth'] as const) {
    t.equal(selectPath(pol, [p('a', N), p('b', O)], undefined)?.id, 'b', `${pol}: optimized over non-optimized`)
    t.equal(selectPath(pol, [p('a', AnaState.INACCESSIBLE), p('b', N)], undefined)?.id, 'b', `${pol}: non-optimized fallback`)
    t.equal(selectPath(pol, [p('a', AnaState.INACCESSIBLE), p('b', AnaState.PERSISTENT_LOSS), p('c', AnaState.CHANGE)], undefined), undefined, `${pol}: nothing usable`)
    t.equal(selectPath(pol, [p('a', O, { usable: false }), p('b', N)], undefined)?.id, 'b', `${pol}: unusable optimized skipped`)
  }
  t.equal(selectPath('numa', [p('a', O, { distance: 3 }), p('b', O, { distance: 0 })], undefined)?.id, 'b', 'numa: smallest distance')
  t.equal(selectPath('numa', [p('a', O, { distance: 3 }), p('b', O, { distance: 0 })], 'a')?.id, 'a', 'numa: keeps the cached current path')
  const paths = [p('a', O), p('b', O), p('c', N), p('d', O)]
  const seq: string[] = []
  let cur: string | undefined
  for (let i = 0; i < 6; i++) {
    cur = selectPath('round-robin', paths, cur)?.id
    seq.push(cur ?? '-')
  }
  t.same(seq, ['a', 'b', 'd', 'a', 'b', 'd'], 'round-robin rotates over optimized paths only')
  t.equal(selectPath('round-robin', [p('a', O), p('b', N)], 'a')?.id, 'a', 'round-robin keeps current when nothing else qualifies')
  t.equal(selectPath('queue-depth', [p('a', O, { queueDepth: 5 }), p('b', O, { queueDepth: 2 }), p('c', N, { queueDepth: 0 })], undefined)?.id, 'b', 'queue-depth: least busy optimized')
})

function io(id: number, op: IoOp): HostIo {
  return { id, op, slba: 0n, nlb: 1, data: undefined, length: 512, submittedAt: 0, device: { id: 'h', kind: 'head', qos: undefined }, qos: emptyQosFlags(), retries: 0, failovers: 0, history: [], issuedAt: 0, settled: false, resolve() {}, reject() {} }
}

t.test('write throttle: limit, FIFO waiters, latency-driven scaling, cancel', async (t) => {
  const clock = new ManualClock()
  const w = new WriteThrottle({ clock, maxDepth: 4, targetLatencyMs: 2, windowMs: 100 })
  t.equal(w.throttle(io(1, 'read')), undefined, 'reads are not throttled')
  for (let i = 1; i <= 4; i++) t.equal(w.throttle(io(i, 'write')), undefined, `write ${i} admitted`)
  const order: number[] = []
  const waiting = [5, 6].map((id) => (w.throttle(io(id, 'write')) as Promise<void>).then(() => order.push(id)))
  t.equal(w.waiting, 2)
  w.doneIo(io(1, 'write'))
  w.doneIo(io(2, 'write'))
  await Promise.all(waiting)
  t.same(order, [5, 6], 'FIFO')
  t.equal(w.inflight, 4)
  // A slow window halves the limit; a fast one grows it back.
  w.done(io(3, 'write'), { latencyMs: 50, status: 0 })
  clock.advance(100)
  w.done(io(3, 'write'), { latencyMs: 50, status: 0 })
  t.equal(w.limit, 2, 'scaled down after a window above target')
  clock.advance(100)
  w.done(io(4, 'write'), { latencyMs: 0.5, status: 0 })
  t.equal(w.limit, 3, 'scaled up after a window below target')
  const stuck = w.throttle(io(9, 'write')) as Promise<void>
  w.cancel(new Error('path gone'))
  await t.rejects(stuck, /path gone/, 'waiters released on cancel')
  t.throws(() => new WriteThrottle({ clock, maxDepth: 0 }), arg('maxDepth'))
  t.throws(() => new WriteThrottle({ clock, targetLatencyMs: -1 }), arg('targetLatencyMs'))
})

t.test('latency tracker percentiles', async (t) => {
  const l = new LatencyTracker()
  for (let i = 1; i <= 1000; i++) l.done(io(i, i % 2 === 0 ? 'write' : 'read'), { latencyMs: i / 100, status: 0 })
  const s = l.summary()
  t.equal(s.all.count, 1000)
  t.ok(Math.abs(s.all.p50 - 5) < 0.1, `p50 ${s.all.p50}`)
  t.ok(Math.abs(s.all.p99 - 9.9) < 0.1, `p99 ${s.all.p99}`)
  t.ok(Math.abs(s.all.p999 - 9.99) < 0.1, `p99.9 ${s.all.p999}`)
  t.equal(s.read.count + s.write.count, 1000)
})

t.test('options are validated, errors name the option; Linux defaults', async (t) => {
  const base = { traddr: '127.0.0.1', trsvcid: 4420, subnqn: 'nqn.2026-01.io.x:y' }
  const r = validateControllerOptions(base)
  t.equal(r.reconnectDelayMs, 10_000)
  t.equal(r.ctrlLossTmoMs, 600_000)
  t.equal(r.fastIoFailTmoMs, -1)
  t.equal(r.kato, 5000)
  t.equal(r.queueSize, 128)
  t.same(DEFAULT_CONTROLLER_OPTIONS.reconnectBackoff, false)
  const bad: [Record<string, unknown>, string][] = [
    [{ trsvcid: 0 }, 'trsvcid'],
    [{ traddr: '' }, 'traddr'],
    [{ subnqn: '' }, 'subnqn'],
    [{ kato: -1 }, 'kato'],
    [{ queueSize: 8 }, 'queueSize'],
    [{ nrIoQueues: 0 }, 'nrIoQueues'],
    [{ hdgst: 'yes' }, 'hdgst'],
    [{ reconnectDelayMs: 1.5 }, 'reconnectDelayMs'],
    [{ ctrlLossTmoMs: -2 }, 'ctrlLossTmoMs'],
    [{ fastIoFailTmoMs: 700_000 }, 'fastIoFailTmoMs'],
    [{ reconnectBackoff: { multiplier: 0.5, maxDelayMs: 1, jitter: 0 } }, 'reconnectBackoff.multiplier'],
    [{ reconnectBackoff: { multiplier: 2, maxDelayMs: 1, jitter: 2 } }, 'reconnectBackoff.jitter'],
    [{ ioTimeoutMs: 0 }, 'ioTimeoutMs'],
  ]
  for (const [patch, field] of bad) t.throws(() => validateControllerOptions({ ...base, ...patch } as never), arg(field), field)
  const rnd = seededRandom(1)
  const o = { reconnectDelayMs: 100, reconnectBackoff: { multiplier: 2, maxDelayMs: 1000, jitter: 0 } }
  t.same([0, 1, 2, 3, 4, 5].map((a) => reconnectDelay(o, a, rnd)), [100, 200, 400, 800, 1000, 1000], 'exponential backoff, capped')
  t.equal(reconnectDelay({ reconnectDelayMs: 100, reconnectBackoff: false }, 7, rnd), 100, 'fixed delay without backoff')
  t.throws(() => new NvmeHost({ iopolicy: 'random' as never }), arg('iopolicy'))
  t.throws(() => new NvmeHost({ maxRetries: -1 }), arg('maxRetries'))
  t.throws(() => new NvmeHost({ delayedRemovalMs: 1.5 }), arg('delayedRemovalMs'))
  t.throws(() => new NvmeHost({ hostid: 'nope' }), arg('hostid'))
  t.throws(() => new NvmeHost({ qos: { writeThrottle: { maxDepth: 0 } } }), arg('maxDepth'))
  t.throws(() => new NvmeHost({ checkInvariants: 1 as never }), arg('checkInvariants'))
  t.throws(() => new NvmeHost({ qos: { latency: 'no' as never } }), arg('qos.latency'))
})
