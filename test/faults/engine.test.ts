import t from 'tap'
import { ManualClock, seededRandom } from '../../lib/clock.js'
import { ConfigError, InvalidArgumentError } from '../../lib/errors.js'
import { makeSqe } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import type { Decision, HookCommand, HookContext } from '../../target/core/hooks.js'
import { FaultEngine } from '../../faults/engine.js'
import { FaultRegistry } from '../../faults/registry.js'
import { compileDelay } from '../../faults/distribution.js'
import { corruptPdu } from '../../faults/builtin/pdu-faults.js'
import { crc32c } from '../../lib/crc32c.js'

const ctx: HookContext = { portId: 1, connectionId: 7, qid: 1, cntlid: 3, hostnqn: 'nqn.h', subnqn: 'nqn.s' }
function read(cid: number, slba = 0n, nsid = 1): HookCommand {
  return { sqe: makeSqe({ opc: 0x02, cid, nsid }), opc: 0x02, kind: 'io', nsid, slba, nlb: 7 }
}
async function onCommand(engine: FaultEngine, cmd: HookCommand, c: HookContext = ctx): Promise<Decision> {
  const hooks = engine.hooks()
  return (await hooks.onCommand?.(c, cmd)) ?? { action: 'pass' }
}

t.test('registry: per instance, duplicate names refused', async (t) => {
  const a = new FaultEngine({ clock: new ManualClock() })
  const b = new FaultEngine({ clock: new ManualClock() })
  a.registry.register('mine', { parseConfig: () => null, create: () => ({ decide: () => ({ action: 'drop' }) }) })
  t.ok(a.registry.has('mine'))
  t.notOk(b.registry.has('mine'), 'another engine does not see it')
  t.throws(() => a.registry.register('mine', { parseConfig: () => null, create: () => ({}) }), { code: 'ERR_NVMEOF_INVALID_ARG' })
  t.throws(() => a.registry.register('status', { parseConfig: () => null, create: () => ({}) }), InvalidArgumentError, 'built-in names are taken')
  t.throws(() => new FaultRegistry().register('Bad Name', { parseConfig: () => null, create: () => ({}) }), { code: 'ERR_NVMEOF_INVALID_ARG', message: /'name'/ })
})

t.test('status fault: names, DNR/More/CRD, matcher and schedule', async (t) => {
  const engine = new FaultEngine({ clock: new ManualClock(), seed: 1 })
  engine.add({ type: 'status', match: { nsids: [1], commands: ['read'], lba: { start: 100, end: 199 } }, params: { status: 'ANA_INACCESSIBLE' } })
  engine.add({ type: 'status', match: { nsids: [2] }, params: { sct: 3, sc: 0, dnr: true, more: true, crd: 2 } })
  t.same(await onCommand(engine, read(1, 0n)), { action: 'pass' }, 'LBA outside the range')
  t.same(await onCommand(engine, read(2, 96n)), { action: 'complete', status: NvmeStatus.ANA_INACCESSIBLE }, 'LBA range overlap')
  t.same(await onCommand(engine, read(3, 0n, 2)), { action: 'complete', status: 0x300 | STATUS_DNR | 0x2000 | (2 << 11) })
  const events = engine.trace.events.filter((e) => e.kind === 'fault' && e.action === 'complete')
  t.equal(events.length, 2)
  t.match(events[0], { port: 1, connectionId: 7, cntlid: 3, qid: 1, cid: 2, nsid: 1, opc: 2, seam: 'command', detail: 'status 0x302' })
})

t.test('schedules: afterN, everyNth, firstN, times, oneShot, window, probability', async (t) => {
  const clock = new ManualClock()
  const run = async (schedule: Record<string, number | boolean>, n = 12): Promise<number[]> => {
    const engine = new FaultEngine({ clock, seed: 'x' })
    engine.add({ type: 'drop', schedule })
    const fired: number[] = []
    for (let i = 1; i <= n; i++) if ((await onCommand(engine, read(i))).action === 'drop') fired.push(i)
    return fired
  }
  t.same(await run({ afterN: 3, everyNth: 2 }), [5, 7, 9, 11])
  t.same(await run({ firstN: 3 }), [1, 2, 3])
  t.same(await run({ times: 2, everyNth: 3 }), [3, 6])
  t.same(await run({ oneShot: true, afterN: 4 }), [5])
  const p1 = await run({ probability: 0.5 }, 200)
  const p2 = await run({ probability: 0.5 }, 200)
  t.same(p1, p2, 'same seed, same firings')
  t.ok(p1.length > 60 && p1.length < 140, `about half fire (${p1.length})`)
  const engine = new FaultEngine({ clock, seed: 'x' })
  engine.add({ type: 'drop', schedule: { startMs: 100, durationMs: 50 } })
  t.equal((await onCommand(engine, read(1))).action, 'pass', 'before the window')
  clock.advance(120)
  t.equal((await onCommand(engine, read(2))).action, 'drop', 'inside the window')
  clock.advance(50)
  t.equal((await onCommand(engine, read(3))).action, 'pass', 'after the window')
})

t.test('composition: first non-pass in order wins; remove and clear', async (t) => {
  const engine = new FaultEngine({ clock: new ManualClock() })
  const a = engine.add({ id: 'a', type: 'delay', match: { qids: [2] }, params: { delay: { ms: 5 } } })
  engine.add({ id: 'b', type: 'drop' })
  t.equal((await onCommand(engine, read(1))).action, 'drop', 'a does not match qid 1, b decides')
  t.same(await onCommand(engine, read(2), { ...ctx, qid: 2 }), { action: 'delay', ms: 5 })
  t.ok(engine.remove(a))
  t.equal((await onCommand(engine, read(3), { ...ctx, qid: 2 })).action, 'drop')
  t.equal(engine.clear(), 1)
  t.equal(engine.hooks().onCommand, undefined, 'no fault at the seam: no hook')
  t.throws(() => engine.add({ id: 'b', type: 'drop', at: 'connection' }), { code: 'ERR_NVMEOF_CONFIG', message: /^fault\.at:/ })
})

t.test('validation errors name the field', async (t) => {
  const engine = new FaultEngine({ clock: new ManualClock() })
  const bad: Array<[unknown, string]> = [
    [{ type: 'nope' }, 'fault.type'],
    [{ type: 'status', params: { status: 'NOT_A_STATUS' } }, 'fault.params.status'],
    [{ type: 'status', params: { sct: 3 } }, 'fault.params.sc'],
    [{ type: 'status', params: { status: 'ANA_INACCESSIBLE', crd: 4 } }, 'fault.params.crd'],
    [{ type: 'drop', schedule: { probability: 2 } }, 'fault.schedule.probability'],
    [{ type: 'drop', schedule: { everyNth: -1 } }, 'fault.schedule.everyNth'],
    [{ type: 'drop', match: { kinds: ['disk'] } }, 'fault.match.kinds[0]'],
    [{ type: 'drop', match: { pduTypes: ['capsule-cmd', 'bogus'] } }, 'fault.match.pduTypes[1]'],
    [{ type: 'drop', mtach: {} }, 'fault.mtach'],
    [{ type: 'delay', params: { delay: { minMs: 5 } } }, 'fault.params.delay.maxMs'],
    [{ type: 'delay', params: { delay: { ms: 1, p99Ms: 3 } } }, 'fault.params.delay'],
    [{ type: 'term-req', params: {} }, 'fault.params.fes'],
    [{ type: 'ns-remap-storm', params: { nsids: [] } }, 'fault.params.nsids'],
    [{ type: 'ana-flap', params: { ports: [1], periodMs: 10, stateA: 'sleepy' } }, 'fault.params.stateA'],
    [{ type: 'refuse-connect', params: { reason: 'grumpy' } }, 'fault.params.reason'],
    [{ type: 'drop', params: { x: 1 } }, 'fault.params.x'],
  ]
  for (const [json, path] of bad) {
    let caught: unknown
    try {
      engine.parseFault(json)
    } catch (err) {
      caught = err
    }
    t.ok(caught instanceof ConfigError, `${path}: a ConfigError`)
    t.equal((caught as ConfigError).path, path, String((caught as Error | undefined)?.message))
  }
})

t.test('delay distributions', async (t) => {
  const r = seededRandom(5)
  t.equal(compileDelay({ ms: 3 }, 'd')(r), 3)
  const u = compileDelay({ minMs: 2, maxMs: 4 }, 'd')
  for (let i = 0; i < 100; i++) {
    const v = u(r)
    if (v < 2 || v > 4) t.fail(`uniform out of range: ${v}`)
  }
  const ln = compileDelay({ p50Ms: 1, p99Ms: 20 }, 'd')
  const xs = Array.from({ length: 20000 }, () => ln(r)).sort((a, b) => a - b)
  const p50 = xs[10000]!
  const p99 = xs[19800]!
  t.ok(p50 > 0.9 && p50 < 1.1, `p50 ${p50}`)
  t.ok(p99 > 16 && p99 < 25, `p99 ${p99}`)
})

t.test('corruptPdu', async (t) => {
  // A C2HData PDU with HDGST and DDGST: CH(8)+PSH(16)=24, HDGST 4, data 8 at pdo 28, DDGST 4.
  const data = Buffer.from('abcdefgh')
  const wire = Buffer.alloc(44)
  wire.writeUInt8(0x07, 0); wire.writeUInt8(0x03, 1); wire.writeUInt8(24, 2); wire.writeUInt8(28, 3); wire.writeUInt32LE(44, 4)
  wire.writeUInt32LE(crc32c(wire.subarray(0, 24)) >>> 0, 24)
  data.copy(wire, 28)
  wire.writeUInt32LE(crc32c(data) >>> 0, 36)
  const h = corruptPdu(wire, { what: 'hdgst', offset: 0, xor: 0xff, fixDigest: false })!
  t.not(h.readUInt32LE(24), wire.readUInt32LE(24))
  const d = corruptPdu(wire, { what: 'data', offset: 2, xor: 0x01, fixDigest: true })!
  t.equal(d[30], 'c'.charCodeAt(0) ^ 1)
  t.equal(d.readUInt32LE(40), crc32c(d.subarray(28, 40)) >>> 0, 'digest recomputed')
  const dd = corruptPdu(wire, { what: 'ddgst', offset: 0, xor: 0xff, fixDigest: false })!
  t.not(dd.readUInt32LE(40), wire.readUInt32LE(40))
  wire.writeUInt8(0x00, 1)
  t.equal(corruptPdu(wire, { what: 'hdgst', offset: 0, xor: 0xff, fixDigest: false }), undefined, 'no HDGST negotiated')
})
