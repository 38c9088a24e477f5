/**
 * The target's DH-HMAC-CHAP state machine driven by a raw host (test/helpers/raw-host.ts): AUTHREQ in
 * Connect responses, what a queue may do before it is authenticated, the Authentication Send/Receive
 * field checks, malformed and out-of-order messages (each answered by AUTH_Failure1 with its reason),
 * and the transaction expiry on the injected clock.
 */
import t, { type Test } from 'tap'
import { createTarget, type TargetHandle } from '../../target/index.js'
import { HOSTNQN, RawHost, withTimeout, type Completion } from '../helpers/raw-host.js'
import { ManualClock } from '../../lib/clock.js'
import { generateDhchapSecret } from '../../lib/nvme/auth-secret.js'
import { AuthFailure } from '../../lib/nvme/auth-ids.js'
import { encodeAuthNegotiate } from '../../lib/nvme/auth-negotiate.js'
import { encodeAuthReply } from '../../lib/nvme/auth-reply.js'
import { encodeAuthSuccess2 } from '../../lib/nvme/auth-success.js'
import { decodeAuthFailure } from '../../lib/nvme/auth-failure.js'
import { decodeAuthChallenge } from '../../lib/nvme/auth-challenge.js'
import { AUTH_SECP_NVME, CONNECT_AUTHREQ_ATR, makeAuthSqe, Property } from '../../lib/nvme/fabrics.js'
import { Cns } from '../../lib/nvme/opcodes.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { authenticateQueue, resolveDhchapOptions, type AuthenticateQueueOptions } from '../../initiator/auth.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:auth-raw'
const KEY = generateDhchapSecret({ hash: 'sha256' })
const OTHER = 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-555555555555'

async function target(t: Test, clock?: ManualClock): Promise<TargetHandle> {
  const tg = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '1MiB' }] }],
    hosts: [{ nqn: HOSTNQN, dhchapKey: KEY }],
    ...(clock !== undefined ? { clock } : {}),
  })
  t.teardown(() => tg.close())
  return tg
}

async function raw(t: Test, tg: TargetHandle): Promise<RawHost> {
  const h = await RawHost.connect({ port: tg.ports[0]!.port })
  t.teardown(() => h.destroy())
  return h
}

function send(h: RawHost, data: Buffer, f: { secp?: number; spsp0?: number; spsp1?: number; length?: number } = {}): Promise<Completion> {
  const sqe = makeAuthSqe('send', { cid: h.nextCid(), length: f.length ?? data.length, secp: f.secp ?? AUTH_SECP_NVME, spsp0: f.spsp0 ?? 1, spsp1: f.spsp1 ?? 1 })
  return h.command(sqe, { data, inCapsule: true })
}
function receive(h: RawHost, al = 4096): Promise<Completion> {
  return h.command(makeAuthSqe('receive', { cid: h.nextCid(), length: al, spsp0: 1, spsp1: 1 }), { readLength: al })
}
const negotiate = (tid = 1): Buffer => encodeAuthNegotiate({ tid, scC: 0, hashIds: [1, 2, 3], dhgroupIds: [0, 1] })

t.test('Connect reports AUTHREQ.ATR for a host with a key, on admin and I/O queues; not for others', async (t) => {
  const tg = await target(t)
  const h = await raw(t, tg)
  const c = await h.connectCmd({ qid: 0, subnqn: SUBNQN })
  t.equal(c.cqe.status, 0)
  t.equal((c.cqe.dw0 >>> 0) & CONNECT_AUTHREQ_ATR, CONNECT_AUTHREQ_ATR, 'admin Connect: ATR (bit 17)')
  const io = await raw(t, tg)
  const ci = await io.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid: c.cqe.dw0 & 0xffff })
  t.equal((ci.cqe.dw0 >>> 0) & CONNECT_AUTHREQ_ATR, CONNECT_AUTHREQ_ATR, 'I/O Connect: ATR')
  const o = await raw(t, tg)
  const co = await o.connectCmd({ qid: 0, subnqn: SUBNQN, hostnqn: OTHER })
  t.equal(co.cqe.dw0 >>> 16, 0, 'a host without a key: AUTHREQ 0')
})

t.test('before authentication: Fabrics commands run, admin and I/O commands get Authentication Required', async (t) => {
  const tg = await target(t)
  const h = await raw(t, tg)
  const cntlid = await h.connectAdmin({ subnqn: SUBNQN })
  t.equal(await h.propertyGet(Property.VS), 0x20000n, 'Property Get works')
  const id = await h.identify(Cns.CONTROLLER)
  t.equal(id.cqe.status, NvmeStatus.AUTH_REQUIRED | STATUS_DNR, 'Identify: SCT 1h SC 91h DNR')
  const io = await raw(t, tg)
  await io.connectIo({ subnqn: SUBNQN, cntlid })
  const r = await io.read(1, 0n, 1)
  t.equal(r.cqe.status, NvmeStatus.AUTH_REQUIRED | STATUS_DNR, 'Read on an unauthenticated I/O queue')
  t.equal(tg.authCounters().refusedCommands, 2)
})

t.test('a raw host authenticates with the initiator state machine; then Identify works', async (t) => {
  const tg = await target(t)
  const h = await raw(t, tg)
  await h.connectAdmin({ subnqn: SUBNQN })
  const opts: AuthenticateQueueOptions = {
    qid: 0,
    tid: 9,
    hostnqn: HOSTNQN,
    subnqn: SUBNQN,
    settings: resolveDhchapOptions({ dhchapSecret: KEY, dhchapDhgroups: ['ffdhe2048'] })!,
    timeoutMs: 10_000,
    submit: async (cmd) => {
      const c = await h.command({ ...cmd.sqe, cid: h.nextCid() }, { ...(cmd.data !== undefined ? { data: cmd.data, inCapsule: true } : {}), ...(cmd.readLength !== undefined ? { readLength: cmd.readLength } : {}) })
      return { cqe: c.cqe, data: c.data }
    },
  }
  const r = await authenticateQueue(opts)
  t.same(r, { hash: 'sha256', dhgroup: 'ffdhe2048', bidirectional: false })
  t.equal((await h.identify(Cns.CONTROLLER)).cqe.status, 0, 'Identify after authentication')
  t.equal(tg.requestReauthentication({ hostnqn: HOSTNQN }), 1, 're-authentication requested on the one queue')
  t.equal((await h.identify(Cns.CONTROLLER)).cqe.status, NvmeStatus.AUTH_REQUIRED, 'then: Authentication Required without DNR (retryable)')
  await authenticateQueue({ ...opts, tid: 10 })
  t.equal((await h.identify(Cns.CONTROLLER)).cqe.status, 0, 'Identify after re-authentication')
})

t.test('Authentication Send/Receive field checks (nvmet order)', async (t) => {
  const tg = await target(t)
  const h = await raw(t, tg)
  await h.connectAdmin({ subnqn: SUBNQN, enable: false })
  const bad = NvmeStatus.INVALID_FIELD | STATUS_DNR
  t.equal((await send(h, negotiate(), { secp: 0xea })).cqe.status, bad, 'SECP not E9h')
  t.equal((await send(h, negotiate(), { spsp0: 0 })).cqe.status, bad, 'SPSP0 not 01h')
  t.equal((await send(h, negotiate(), { spsp1: 2 })).cqe.status, bad, 'SPSP1 not 01h')
  t.equal((await h.command(makeAuthSqe('send', { cid: h.nextCid(), length: 0, spsp0: 1, spsp1: 1 }))).cqe.status, bad, 'TL 0')
  t.equal((await h.command(makeAuthSqe('receive', { cid: h.nextCid(), length: 1 << 20, spsp0: 1, spsp1: 1 }), { readLength: 1 << 20 })).cqe.status, bad, 'AL above the 16 KiB bound')
  const mismatch = makeAuthSqe('send', { cid: h.nextCid(), length: 100, spsp0: 1, spsp1: 1 })
  t.equal((await h.command(mismatch, { data: negotiate(), inCapsule: true })).cqe.status, NvmeStatus.SGL_INVALID_DATA | STATUS_DNR, 'TL differs from the SGL length')
  t.equal((await receive(h, 20)).cqe.status, 0, 'nothing went wrong so far: Receive answers (a Failure1 for a Receive out of turn)')
})

async function failure1(t: Test, h: RawHost): Promise<number> {
  const c = await receive(h)
  t.equal(c.cqe.status, 0, 'Authentication Receive completes successfully')
  const f = decodeAuthFailure(1, c.data)
  t.equal(f.rescode, 1, 'REASON CODE 01h')
  return f.rescodeExp
}

t.test('malformed and out-of-order messages: AUTH_Failure1 with the precise reason, then the controller is deleted', async (t) => {
  const tg = await target(t)
  const cases: [string, (h: RawHost) => Promise<void>, number][] = [
    ['NAPD 2', async (h) => void (await send(h, Object.assign(negotiate(), { 7: 2 }))), AuthFailure.INCORRECT_PAYLOAD],
    ['truncated Negotiate', async (h) => void (await send(h, negotiate().subarray(0, 20))), AuthFailure.INCORRECT_PAYLOAD],
    ['SC_C set', async (h) => void (await send(h, Object.assign(negotiate(), { 6: 1 }))), AuthFailure.CONCAT_MISMATCH],
    ['unknown AUTH_TYPE', async (h) => void (await send(h, Object.assign(negotiate(), { 0: 7 }))), AuthFailure.INCORRECT_MESSAGE],
    ['Receive before Negotiate', async () => undefined, AuthFailure.INCORRECT_MESSAGE],
    ['Success2 instead of Reply', async (h) => {
      await send(h, negotiate(4))
      await receive(h)
      await send(h, encodeAuthSuccess2({ tid: 4 }))
    }, AuthFailure.INCORRECT_MESSAGE],
    ['Reply with another T_ID', async (h) => {
      await send(h, negotiate(4))
      const ch = decodeAuthChallenge((await receive(h)).data)
      await send(h, encodeAuthReply({ tid: 5, response: Buffer.alloc(ch.challenge.length), challenge: undefined, seqnum: 0, dhValue: Buffer.alloc(0) }))
    }, AuthFailure.INCORRECT_PAYLOAD],
    ['Reply with a DH value out of range', async (h) => {
      await send(h, encodeAuthNegotiate({ tid: 4, scC: 0, hashIds: [1], dhgroupIds: [1] }))
      const ch = decodeAuthChallenge((await receive(h)).data)
      await send(h, encodeAuthReply({ tid: 4, response: Buffer.alloc(32), challenge: undefined, seqnum: 0, dhValue: Buffer.alloc(ch.dhValue.length, 0xff) }))
    }, AuthFailure.DHGROUP_UNUSABLE],
    ['Reply with a wrong response', async (h) => {
      await send(h, negotiate(4))
      await receive(h)
      await send(h, encodeAuthReply({ tid: 4, response: Buffer.alloc(32, 1), challenge: undefined, seqnum: 0, dhValue: Buffer.alloc(0) }))
    }, AuthFailure.FAILED],
  ]
  for (const [name, step, reason] of cases) {
    const h = await raw(t, tg)
    await h.connectAdmin({ subnqn: SUBNQN, enable: false })
    await step(h)
    t.equal(await failure1(t, h), reason, `${name}: reason 0x${reason.toString(16)}`)
    // The target deletes the controller and closes the connection (the host never ends it here).
    const closed = await withTimeout(h.closed, 10_000, `${name}: target closes the connection`)
    t.ok(closed.how === 'fin' || closed.how === 'reset', `${name}: connection closed by the target (${closed.how})`)
  }
  t.equal(tg.authCounters().failures, cases.length, 'every failure counted')
})

t.test('an unfinished transaction expires after KATO (120 s without): the next Negotiate starts over', async (t) => {
  const clock = new ManualClock()
  const tg = await target(t, clock)
  const h = await raw(t, tg)
  await h.connectAdmin({ subnqn: SUBNQN, enable: false })
  await send(h, negotiate(3))
  clock.advance(120_000)
  // The challenge step was dropped: a Receive is now out of turn.
  t.equal(await failure1(t, h), AuthFailure.INCORRECT_MESSAGE)
})
