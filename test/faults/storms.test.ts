/**
 * Timer-driven built-in faults against a real target, seen by a raw host: ANA timed sequences and
 * flapping, rescan storms (bursts of AENs), namespace attach/detach flapping, discovery log changes.
 * Timed ones run on a ManualClock so the test moves time itself (no wall-clock assertions).
 */
import t from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { makeSqe } from '../../lib/nvme/sqe.js'
import { decodeAnaLog } from '../../lib/nvme/log-ana.js'
import { DISCOVERY_NQN } from '../../lib/nvme/nqn.js'
import { NvmeStatus } from '../../lib/status.js'
import { fixture } from './helpers/fixture.js'
import { orUndefined, RawHost } from '../helpers/raw-host.js'

async function setAec(h: RawHost, bits: number): Promise<void> {
  await h.command(makeSqe({ opc: 0x09, cid: h.nextCid(), cdw10: 0x0b, cdw11: bits >>> 0 }))
}
const AEC = (1 << 8) | (1 << 11)
async function anaState(h: RawHost, grpid = 1): Promise<number | undefined> {
  const r = await orUndefined(h.getLogPage(0x0c, 4096, { nsid: 0 }))
  return r === undefined ? undefined : decodeAnaLog(r.data).groups.find((g) => g.grpid === grpid)?.state
}
/** Let promise chains started by a timer run to completion. */
const settle = () => new Promise((r) => setImmediate(r))

t.test('ana-sequence: timed ANA changes, each announced by an AEN', async (t) => {
  const clock = new ManualClock()
  const f = await fixture(t, { clock })
  const { host } = await f.admin()
  await setAec(host, AEC)
  const aer1 = host.aer()
  f.faults.engine.add({ id: 'seq', type: 'ana-sequence', params: { sequence: [{ atMs: 0, port: 1, group: 1, state: 'change' }, { atMs: 1000, port: 1, group: 1, state: 'persistent-loss' }] } })
  t.equal((await aer1)?.cqe.dw0, 0x000c0302)
  t.equal(await anaState(host), 0x0f, 'change state')
  const aer2 = host.aer()
  clock.advance(999)
  await settle()
  t.equal(await anaState(host), 0x0f, 'still change before 1000 ms')
  clock.advance(1)
  await f.faults.engine.settled('seq')
  t.equal((await aer2)?.cqe.dw0, 0x000c0302)
  t.equal(await anaState(host), 0x04, 'persistent loss at 1000 ms')
})

t.test('ana-flap: flips between two states a given number of times', async (t) => {
  const clock = new ManualClock()
  const f = await fixture(t, { clock })
  const { host } = await f.admin()
  f.faults.engine.add({ id: 'flap', type: 'ana-flap', params: { ports: [1], groups: [1], stateA: 'inaccessible', stateB: 'non-optimized', periodMs: 100, count: 3 } })
  await settle()
  t.equal(await anaState(host), 0x03, 'flip 0: inaccessible')
  clock.advance(100)
  await settle()
  t.equal(await anaState(host), 0x02, 'flip 1: non-optimized')
  clock.advance(100)
  await f.faults.engine.settled('flap')
  t.equal(await anaState(host), 0x03, 'flip 2: inaccessible, then done')
  t.equal(f.faults.engine.trace.events.filter((e) => e.action === 'ana-flap').length, 3)
})

t.test('rescan-storm: a burst of namespace-changed AENs reaches the host', async (t) => {
  const f = await fixture(t)
  const { host } = await f.admin()
  await setAec(host, AEC)
  f.faults.engine.add({ id: 'storm', type: 'rescan-storm', params: { event: 'ns-changed', burst: 3, bursts: 1, nsids: [1] } })
  await f.faults.engine.settled('storm')
  const dw0s: number[] = []
  for (let i = 0; i < 3; i++) dw0s.push((await host.aer(2000))?.cqe.dw0 ?? -1)
  t.same(dw0s, [0x00040002, 0x00040002, 0x00040002], 'three AENs, one per AER')
  const log = await host.getLogPage(0x04, 4096, { nsid: 0xffffffff })
  t.equal(log?.data.readUInt32LE(0), 1, 'Changed Namespace List holds NSID 1')
  t.equal(f.faults.engine.trace.events.filter((e) => e.action === 'aen').length, 3)
})

t.test('ns-flap: a detached namespace answers Internal Path Error until re-attached', async (t) => {
  const clock = new ManualClock()
  const f = await fixture(t, { clock })
  const { host } = await f.io()
  f.faults.engine.add({ id: 'flap', type: 'ns-flap', params: { nsids: [1], downMs: 500, upMs: 0, count: 1 } })
  await settle()
  t.equal((await host.read(1, 0n, 1))?.cqe.status, NvmeStatus.INTERNAL_PATH_ERROR, 'disabled: Internal Path Error (as nvmet)')
  clock.advance(500)
  await f.faults.engine.settled('flap')
  t.equal((await host.read(1, 0n, 1))?.cqe.status, 0, 'enabled again')
})

t.test('discovery-change: referrals added, discovery-change AEN, log grows', async (t) => {
  const f = await fixture(t)
  const h = await RawHost.connect({ port: f.port })
  t.teardown(() => h.destroy())
  const c = await h.connectCmd({ qid: 0, subnqn: DISCOVERY_NQN, kato: 0 })
  t.equal(c.cqe.status, 0)
  await h.enable()
  await setAec(h, 1 << 31)
  const before = await h.getLogPage(0x70, 4096, { nsid: 0 })
  const recs = (b: Buffer | undefined) => Number(b?.readBigUInt64LE(8) ?? -1n)
  const aer = h.aer()
  f.faults.engine.add({ id: 'disc', type: 'discovery-change', params: { count: 2, address: '127.0.0.2', trsvcid: 4430 } })
  await f.faults.engine.settled('disc')
  t.equal((await aer)?.cqe.dw0, 0x0070f002, 'discovery change AEN')
  const after = await h.getLogPage(0x70, 4096, { nsid: 0 })
  t.equal(recs(after?.data), recs(before?.data) + 2, 'two more discovery log records')
  t.ok(Number(after?.data.readBigUInt64LE(0)) > Number(before?.data.readBigUInt64LE(0)), 'GENCTR advanced')
})
