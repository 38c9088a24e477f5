/**
 * Scenarios: validation errors that name the field; blktests nvme/058's remapping loop
 * (examples/scenarios/nvme-058.yaml on the nvme-058.target.yaml topology) run against a real
 * target with a connected raw host on each of the 6 ports; determinism (the same seed gives an
 * identical trace, another seed a different one).
 */
import { readFile } from 'node:fs/promises'
import t, { type Test } from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { ConfigError } from '../../lib/errors.js'
import { makeSqe } from '../../lib/nvme/sqe.js'
import { createTarget } from '../../target/index.js'
import { readTargetConfigFile } from '../../target/config.js'
import { attachFaults } from '../../faults/attach.js'
import { FaultEngine } from '../../faults/engine.js'
import { parseScenario } from '../../faults/scenario.js'
import type { TraceEvent } from '../../faults/trace.js'
import { orUndefined, RawHost } from '../helpers/raw-host.js'

const EX = new URL('../../examples/scenarios/', import.meta.url)

t.test('scenario validation names the bad field', async (t) => {
  const engine = new FaultEngine({ clock: new ManualClock() })
  const cases: Array<[string, string]> = [
    ['steps:\n  - atMs: 5\n    ana: { port: 1, group: 1, state: sleepy }\n', 'steps[0].ana.state'],
    ['steps:\n  - { atMs: 5 }\n', 'steps[0]'],
    ['steps:\n  - ana: { port: 1, group: 1, state: optimized }\n    ns: { op: enable, nsid: 1 }\n', 'steps[0].ns'],
    ['setup:\n  - ns: { op: resize, nsid: 1 }\n', 'setup[0].ns.sizeBytes'],
    ['faults:\n  - { type: drop }\n  - { type: status, params: { status: BOGUS } }\n', 'faults[1].params.status'],
    ['faults:\n  - { id: a, type: drop }\n  - { id: a, type: drop }\n', 'faults[1].id'],
    ['seed: -1\n', 'seed'],
    ['nmae: x\n', 'nmae'],
    ['faults:\n  - type: drop\n    schedule: { probability: "often" }\n', 'faults[0].schedule.probability'],
    ['steps: [ { atMs: 1, aen: { event: bang } } ]\n', 'steps[0].aen.event'],
  ]
  for (const [text, path] of cases) {
    let err: unknown
    try {
      parseScenario(engine, text, 'x.yaml')
    } catch (e) {
      err = e
    }
    t.ok(err instanceof ConfigError, `${path}: ConfigError`)
    t.equal((err as ConfigError).path, path, (err as Error | undefined)?.message ?? 'no error')
  }
  t.throws(() => parseScenario(engine, 'faults: [\n  - {', 'broken.yaml'), { code: 'ERR_NVMEOF_CONFIG', message: /broken\.yaml: invalid YAML at line/ })
  const ok = parseScenario(engine, await readFile(new URL('nvme-058.yaml', EX), 'utf8'), 'nvme-058.yaml')
  t.equal(ok.faults[0]?.type, 'ns-remap-storm')
  t.equal(ok.seed, 58)
  const flip = parseScenario(engine, await readFile(new URL('ana-flip.yaml', EX), 'utf8'), 'ana-flip.yaml')
  t.equal(flip.faults[0]?.type, 'ana-sequence')
})

/** The nvme/058 topology on free ports, 6 connected admin queues with AERs outstanding, then the scenario. */
async function runNvme058(t: Test, seed: number | undefined): Promise<{ trace: readonly TraceEvent[]; aens: number[]; uuids: string[]; initialUuids: string[] }> {
  const config = await readTargetConfigFile(new URL('nvme-058.target.yaml', EX).pathname)
  for (const p of config.ports) p.port = 0
  const sub = config.subsystems![0]!
  config.subsystems![0]!.namespaces = sub.namespaces!.map((n) => ({ ...n, size: '16MiB' }))
  const target = await createTarget(config)
  const faults = await attachFaults(target, { clock: new ManualClock() })
  const hosts: RawHost[] = []
  t.teardown(async () => {
    for (const h of hosts) h.destroy()
    await faults.close()
    await target.close()
  })
  const uuidsOf = () => target.status().subsystems[0]!.namespaces.map((n) => n.uuid)
  const initialUuids = uuidsOf()
  const aers: Array<Promise<number>> = []
  for (const bp of target.ports) {
    const h = await RawHost.connect({ port: bp.port })
    hosts.push(h)
    const c = await h.connectCmd({ qid: 0, subnqn: sub.nqn })
    if (c.cqe.status !== 0) throw new Error(`connect to port ${bp.id}: 0x${c.cqe.status.toString(16)}`)
    await h.enable()
    // Async Event Configuration: namespace attribute and ANA change notices (Base 2.0 5.27.1.7).
    await h.command(makeSqe({ opc: 0x09, cid: h.nextCid(), cdw10: 0x0b, cdw11: (1 << 8) | (1 << 11) }))
    aers.push(h.aer(10_000).then((r) => r?.cqe.dw0 ?? -1))
  }
  const text = await readFile(new URL('nvme-058.yaml', EX), 'utf8')
  const run = await faults.controller.runScenario(text, { source: 'nvme-058.yaml', ...(seed !== undefined ? { seed } : {}) })
  await run.done
  await faults.engine.settled('remap')
  const aens = await Promise.all(aers)
  return { trace: faults.engine.trace.events, aens, uuids: uuidsOf(), initialUuids }
}

/** The trace without what differs between runs by nature (client TCP ports in connection events). */
function canonical(events: readonly TraceEvent[]): string {
  return events.filter((e) => e.kind !== 'connection').map((e) => JSON.stringify({ ...e, pdu: undefined })).join('\n')
}

t.test('nvme/058: 11 rounds of random-order disable, new UUID, enable over 6 connected controllers', async (t) => {
  const r = await runNvme058(t, undefined)
  const rounds = r.trace.filter((e) => e.action === 'remap-round')
  t.same(rounds.map((e) => e.detail), Array.from({ length: 11 }, (_, i) => `Remap namespace #${i}`), '11 rounds, as blktests prints them')
  const ops = r.trace.filter((e) => e.kind === 'state' && e.action?.startsWith('ns-') === true)
  t.equal(ops.filter((e) => e.action === 'ns-disable').length, 33)
  t.equal(ops.filter((e) => e.action === 'ns-uuid').length, 33)
  t.equal(ops.filter((e) => e.action === 'ns-enable').length, 33)
  // Per round: all three disabled before any is re-enabled; each gets a UUID while disabled.
  const perRound = Array.from({ length: 11 }, (_, i) => ops.slice(i * 9, i * 9 + 9))
  for (const [i, round] of perRound.entries()) {
    t.same(round.slice(0, 3).map((e) => e.action), ['ns-disable', 'ns-disable', 'ns-disable'], `round ${i}: disables first`)
    t.same(round.slice(0, 3).map((e) => e.nsid).sort(), [1, 2, 3])
    for (let k = 3; k < 9; k += 2) t.same([round[k]!.action, round[k + 1]!.action, round[k]!.nsid === round[k + 1]!.nsid], ['ns-uuid', 'ns-enable', true])
  }
  const orders = new Set(perRound.map((round) => round.slice(0, 3).map((e) => e.nsid).join('')))
  t.ok(orders.size > 1, `disable order varies between rounds (${[...orders].join(' ')})`)
  t.equal(r.uuids.length, 3)
  for (let i = 0; i < 3; i++) t.not(r.uuids[i], r.initialUuids[i], `namespace ${i + 1} came back as a different namespace (new UUID)`)
  t.same(r.aens, [0x00040002, 0x00040002, 0x00040002, 0x00040002, 0x00040002, 0x00040002], 'every controller got the namespace-changed AEN')
})

t.test('determinism: the same seed gives an identical trace, another seed a different one', async (t) => {
  const a = await runNvme058(t, 7)
  const b = await runNvme058(t, 7)
  const c = await runNvme058(t, 8)
  t.equal(canonical(a.trace), canonical(b.trace), 'seed 7 twice: identical traces (times from the injected clock)')
  t.same(a.uuids, b.uuids, 'same UUIDs')
  t.not(canonical(a.trace), canonical(c.trace), 'seed 8 differs')
})

t.test('determinism of seam faults: probabilistic status on a fixed command sequence', async (t) => {
  const runOnce = async (seed: number): Promise<string> => {
    const target = await createTarget({ ports: [{ id: 1, address: '127.0.0.1', port: 0 }], subsystems: [{ nqn: 'nqn.2026-01.io.nvmf-fault:det', namespaces: [{ nsid: 1, size: '1MiB' }] }] })
    const faults = await attachFaults(target, { seed, clock: new ManualClock() })
    t.teardown(async () => {
      await faults.close()
      await target.close()
    })
    await faults.controller.runScenario(
      'faults:\n  - { id: flaky, type: status, match: { commands: [read] }, schedule: { probability: 0.3 }, params: { status: ANA_INACCESSIBLE } }\n  - { id: slow, type: delay, match: { commands: [read] }, schedule: { probability: 0.2 }, params: { delay: { p50Ms: 1, p99Ms: 5 } } }\n',
      { source: 'inline' },
    )
    const h = await RawHost.connect({ port: target.ports[0]!.port })
    t.teardown(() => h.destroy())
    const c = await h.connectCmd({ qid: 0, subnqn: 'nqn.2026-01.io.nvmf-fault:det' })
    await h.enable()
    const io = await RawHost.connect({ port: target.ports[0]!.port })
    t.teardown(() => io.destroy())
    await io.connectIo({ subnqn: 'nqn.2026-01.io.nvmf-fault:det', cntlid: c.cqe.dw0 & 0xffff, qid: 1 })
    const statuses: number[] = []
    for (let i = 0; i < 40; i++) statuses.push((await orUndefined(io.read(1, BigInt(i), 1)))?.cqe.status ?? -1)
    t.ok(statuses.some((s) => s === 0x302) && statuses.some((s) => s === 0), 'some reads failed, some passed')
    return canonical(faults.engine.trace.events)
  }
  const x = await runOnce(3)
  const y = await runOnce(3)
  const z = await runOnce(4)
  t.equal(x, y, 'same seed, same fault sequence and trace')
  t.not(x, z, 'different seed, different sequence')
})
