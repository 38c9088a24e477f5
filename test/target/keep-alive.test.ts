/**
 * Keep-alive expiry judged as Linux nvmet judges it (target/core/controller.ts): one check per KATO
 * period, expiry after a whole period without a command (CTRATT.TBKAS: any command counts), so never
 * sooner than KATO after the last command and at most 2 x KATO after it (plus the one-tick second
 * look). Every time here is on the injected ManualClock, stepped 1 ms at a time.
 */
import t, { type Test } from 'tap'
import { RawHost, withTimeout } from '../helpers/raw-host.js'
import { ManualClock } from '../../lib/clock.js'
import { AdminOpcode, Cns } from '../../lib/nvme/opcodes.js'
import { Property } from '../../lib/nvme/fabrics.js'
import { CTRATT_TBKAS } from '../../lib/nvme/identify-controller.js'
import type { TargetHandle } from '../../target/index.js'
import { startTarget, portOf, SUBNQN } from './helpers/fixture.js'

const KATO = 1000
/** The second look runs one timer tick after the check that found the period idle. */
const SECOND_LOOK = 1

interface Setup {
  clock: ManualClock
  target: TargetHandle
}

async function setup(t: Test): Promise<Setup> {
  const clock = new ManualClock()
  return { clock, target: await startTarget(t, { clock }) }
}

async function host(t: Test, s: Setup, o: { enable?: boolean } = {}): Promise<{ h: RawHost; cntlid: number }> {
  const h = await RawHost.connect({ port: portOf(s.target) })
  t.teardown(() => h.destroy())
  const cntlid = await h.connectAdmin({ subnqn: SUBNQN, kato: KATO, ...o })
  return { h, cntlid }
}

const alive = (s: Setup, cntlid: number): boolean => s.target.status().controllers.some((c) => c.cntlid === cntlid)

/** Steps the clock 1 ms at a time until the controller is gone; returns the clock then (or -1). */
function stepUntilDeleted(s: Setup, cntlid: number, limitMs: number): number {
  for (let i = 0; i < limitMs; i++) {
    s.clock.advance(1)
    if (!alive(s, cntlid)) return s.clock.now()
  }
  return -1
}

t.test('Identify reports CTRATT.TBKAS, which is what makes every command keep-alive traffic', async (t) => {
  const s = await setup(t)
  const { h } = await host(t, s)
  const id = await h.identify(Cns.CONTROLLER)
  t.equal(id.cqe.status, 0)
  t.equal(id.data.readUInt32LE(96) & CTRATT_TBKAS, CTRATT_TBKAS, 'CTRATT bit 6 (TBKAS)')
})

t.test('no command after the admin Connect: deleted one KATO after it (the Connect is no traffic, as in nvmet)', async (t) => {
  const s = await setup(t)
  const t0 = s.clock.now()
  const { h, cntlid } = await host(t, s, { enable: false })
  const at = stepUntilDeleted(s, cntlid, 3 * KATO)
  t.equal(at - t0, KATO + SECOND_LOOK, 'expired at the first check (and its second look)')
  await withTimeout(h.closed, 30_000, 'the target closes the connection')
})

t.test('the last command anywhere in a period: expiry not before KATO after it, by 2 x KATO at the latest', async (t) => {
  const s = await setup(t)
  for (const offset of [1, KATO / 2, KATO - 1]) {
    // Enabling (CC.EN 0 -> 1) starts a period now; the period boundaries are then t0 + n x KATO.
    const t0 = s.clock.now()
    const { h, cntlid } = await host(t, s)
    s.clock.advance(KATO + offset)
    t.equal(await h.propertyGet(Property.VS), 0x20000n, `Property Get ${offset} ms into the second period`)
    const last = s.clock.now()
    const at = stepUntilDeleted(s, cntlid, 3 * KATO)
    t.not(at, -1, `offset ${offset}: deleted`)
    t.ok(at - last >= KATO, `offset ${offset}: not before KATO after the last command (${at - last} ms)`)
    t.ok(at - last <= 2 * KATO + SECOND_LOOK, `offset ${offset}: within 2 x KATO of it (${at - last} ms)`)
    t.equal(at - t0, 3 * KATO + SECOND_LOOK, `offset ${offset}: at the end of the first whole idle period`)
    await withTimeout(h.closed, 30_000, 'the target closes the connection')
  }
})

t.test('a Keep Alive restarts the period: deleted exactly 2 x KATO after the last one', async (t) => {
  const s = await setup(t)
  const { h, cntlid } = await host(t, s)
  s.clock.advance(KATO / 4)
  t.equal((await h.admin(AdminOpcode.KEEP_ALIVE)).cqe.status, 0)
  const last = s.clock.now()
  const at = stepUntilDeleted(s, cntlid, 3 * KATO)
  t.equal(at - last, 2 * KATO + SECOND_LOOK, 'nvmet: mod_delayed_work(KATO), then one period with reset_tbkas set')
})

t.test('traffic resets it: any command (no Keep Alive) just under every KATO keeps the controller for 20 periods', async (t) => {
  const s = await setup(t)
  const { h, cntlid } = await host(t, s)
  for (let i = 0; i < 20; i++) {
    s.clock.advance(KATO - 1)
    t.equal((await h.identify(Cns.CONTROLLER)).cqe.status, 0, `Identify ${i}`)
    if (!alive(s, cntlid)) break
  }
  t.ok(alive(s, cntlid), `still there after ${20 * (KATO - 1)} ms with commands only`)
  s.clock.advance(KATO - 1)
  t.ok(alive(s, cntlid), 'idle for just under KATO after the last command: kept')
  t.equal(await h.propertyGet(Property.VS), 0x20000n)
  t.not(stepUntilDeleted(s, cntlid, 2 * KATO + SECOND_LOOK), -1, 'silent afterwards: deleted within 2 x KATO')
})

t.test('an idle controller goes, its neighbour sending Keep Alive every KATO/2 stays', async (t) => {
  const s = await setup(t)
  const busy = await host(t, s)
  const idle = await host(t, s)
  for (let i = 0; i < 8; i++) {
    s.clock.advance(KATO / 2)
    t.equal((await busy.h.admin(AdminOpcode.KEEP_ALIVE)).cqe.status, 0)
  }
  t.notOk(alive(s, idle.cntlid), 'idle controller deleted within 4 x KATO')
  t.ok(alive(s, busy.cntlid), 'the one sending Keep Alive kept')
})
