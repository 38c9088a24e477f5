/**
 * A host slower than KATO between Challenge and Reply (Linux computing ffdhe6144/8192 on an emulated
 * CPU, blktests nvme/043): the transaction's own limit (KATO, as nvmet's auth_expired_work) decides,
 * not the keep-alive. The late Reply is answered with AUTH_Failure1 (reason 01h, explanation 01h
 * Failed, what a Linux host reads from nvmet then), so the host's connect fails at once instead of
 * waiting on a deleted controller; an expired transaction keeps the controller up to 120 s more for
 * that late message. All time is on the injected ManualClock.
 */
import t, { type Test } from 'tap'
import { createTarget, type TargetHandle } from '../../target/index.js'
import { HOSTNQN, RawHost, withTimeout } from '../helpers/raw-host.js'
import { ManualClock } from '../../lib/clock.js'
import { generateDhchapSecret } from '../../lib/nvme/auth-secret.js'
import { AuthFailure, AuthId, AuthType } from '../../lib/nvme/auth-ids.js'
import { AuthenticationError } from '../../lib/errors.js'
import { authenticateQueue, resolveDhchapOptions } from '../../initiator/auth.js'
import { encodeAuthNegotiate } from '../../lib/nvme/auth-negotiate.js'
import { makeAuthSqe } from '../../lib/nvme/fabrics.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:auth-late'
const KEY = generateDhchapSecret({ hash: 'sha256' })
const KATO = 5000
/** How long an expired transaction waits for the host's late message (target/cmd/auth.ts AUTH_EXPIRY_MS). */
const AUTH_GRACE_MS = 120_000

async function setup(t: Test): Promise<{ clock: ManualClock; tg: TargetHandle; h: RawHost; cntlid: number }> {
  const clock = new ManualClock()
  const tg = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '1MiB' }] }],
    hosts: [{ nqn: HOSTNQN, dhchapKey: KEY }],
    clock,
  })
  t.teardown(() => tg.close())
  const h = await RawHost.connect({ port: tg.ports[0]!.port })
  t.teardown(() => h.destroy())
  // As Linux: the admin Connect carries KATO, then authentication, before anything else.
  const cntlid = await h.connectAdmin({ subnqn: SUBNQN, kato: KATO, enable: false })
  return { clock, tg, h, cntlid }
}

/** Our initiator's DH-HMAC-CHAP over the raw host; `beforeReply` runs when the Reply is about to go. */
function authenticate(h: RawHost, beforeReply: () => void): Promise<unknown> {
  return authenticateQueue({
    qid: 0,
    tid: 3,
    hostnqn: HOSTNQN,
    subnqn: SUBNQN,
    settings: resolveDhchapOptions({ dhchapSecret: KEY, dhchapDhgroups: ['ffdhe2048'] })!,
    timeoutMs: 30_000,
    submit: async (cmd) => {
      if (cmd.data !== undefined && cmd.data[0] === AuthType.DHCHAP && cmd.data[1] === AuthId.REPLY) beforeReply()
      const c = await h.command({ ...cmd.sqe, cid: h.nextCid() }, { ...(cmd.data !== undefined ? { data: cmd.data, inCapsule: true } : {}), ...(cmd.readLength !== undefined ? { readLength: cmd.readLength } : {}) })
      return { cqe: c.cqe, data: c.data }
    },
  })
}

const alive = (tg: TargetHandle, cntlid: number): boolean => tg.status().controllers.some((c) => c.cntlid === cntlid)

t.test('a Reply within KATO authenticates (the keep-alive period passing meanwhile changes nothing)', async (t) => {
  const { clock, tg, h, cntlid } = await setup(t)
  const r = await authenticate(h, () => clock.advance(KATO - 1))
  t.same(r, { hash: 'sha256', dhgroup: 'ffdhe2048', bidirectional: false })
  t.ok(alive(tg, cntlid))
})

for (const lateMs of [9000, 30_000]) {
  t.test(`a Reply ${lateMs / 1000} s after the Challenge (KATO 5 s): AUTH_Failure1 (Failed), then the controller is deleted`, async (t) => {
    const { clock, tg, h, cntlid } = await setup(t)
    let aliveAtReply = false
    const err = await authenticate(h, () => {
      // Past the 5 s transaction limit and past the keep-alive's 2 x KATO (the old target deleted
      // the controller at 5 s and Linux then waited 2 x 60 s; blktests nvme/043 saw ~20 s).
      clock.advance(lateMs)
      aliveAtReply = alive(tg, cntlid)
    }).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(aliveAtReply, 'the controller is still there when the late Reply arrives')
    t.ok(err instanceof AuthenticationError, `the host's authentication fails at once: ${String(err)}`)
    const ae = err as AuthenticationError
    t.equal(ae.reason, AuthFailure.FAILED, 'explanation 01h Failed (nvmet: FAILURE2 step, then "unhandled step" in auth_receive)')
    t.equal(ae.by, 'controller', 'sent by the controller in AUTH_Failure1')
    t.equal(tg.authCounters().failures, 1)
    await withTimeout(h.closed, 30_000, 'the target closes the connection after the AUTH_Failure1')
    t.notOk(alive(tg, cntlid), 'controller deleted after answering')
  })
}

t.test('a host that never sends its Reply: deleted 2 x KATO at most after the transaction limit and its 120 s grace', async (t) => {
  const { clock, tg, h, cntlid } = await setup(t)
  const negotiate = encodeAuthNegotiate({ tid: 3, scC: 0, hashIds: [1], dhgroupIds: [3] })
  const send = await h.command(makeAuthSqe('send', { cid: h.nextCid(), length: negotiate.length, spsp0: 1, spsp1: 1 }), { data: negotiate, inCapsule: true })
  t.equal(send.cqe.status, 0, 'AUTH_Negotiate')
  const challenge = await h.command(makeAuthSqe('receive', { cid: h.nextCid(), length: 4096, spsp0: 1, spsp1: 1 }), { readLength: 4096 })
  t.equal(challenge.data[1], AuthId.CHALLENGE, 'AUTH_Challenge received; the host now goes silent')
  const t0 = clock.now()
  let at = -1
  for (let i = 0; i < KATO + AUTH_GRACE_MS + 4 * KATO; i++) {
    clock.advance(1)
    if (!alive(tg, cntlid)) {
      at = clock.now()
      break
    }
  }
  // Connect and Challenge at t0: the transaction expires at t0 + KATO, the controller then waits
  // AUTH_GRACE_MS for a late message, and after that the keep-alive judges it as usual.
  t.ok(at - t0 >= KATO + AUTH_GRACE_MS + KATO, `kept through the expiry, the grace and one KATO (${at - t0} ms)`)
  t.ok(at - t0 <= KATO + AUTH_GRACE_MS + 2 * KATO + 1, `deleted within 2 x KATO after the grace (${at - t0} ms)`)
  await withTimeout(h.closed, 30_000, 'the target closes the connection')
})
