/**
 * The transport fault seams through real sockets: onConnection (reset), onPduReceived (drop,
 * termReq), onPduSend (mutate, segment, drop), onCommand (drop, delay) — and that removing the
 * hooks restores the plain path.
 */
import t from 'tap'
import { RawHost, waitFor } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN } from './helpers/fixture.js'
import { PduType } from '../../lib/pdu/index.js'
import { AdminOpcode, Cns } from '../../lib/nvme/opcodes.js'
import { makeSqe } from '../../lib/nvme/sqe.js'
import type { HookContext } from '../../target/index.js'

t.test('PDU and connection seams', async (t) => {
  const target = await startTarget(t)
  const port = portOf(target)
  const seen: HookContext[] = []

  // onConnection: reset → the client sees the connection die before ICResp.
  target.setHooks({ onConnection: () => ({ action: 'reset' }) })
  await t.rejects(RawHost.connect({ port }), 'ICReq never answered after a reset')

  // onPduSend: split every PDU into 3-byte segments — the host still parses everything.
  target.setHooks({
    onPduSend: (ctx) => {
      seen.push({ ...ctx })
      return { action: 'segment', sizes: Array(400).fill(3) }
    },
  })
  const c = await RawHost.connect({ port })
  t.teardown(() => c.destroy())
  const cntlid = await c.connectAdmin({ subnqn: SUBNQN })
  t.equal((await c.identify(Cns.CONTROLLER)).data.readUInt16LE(78), cntlid, 'segmented Identify data intact')
  t.ok(seen.some((s) => s.cntlid === cntlid && s.qid === 0 && s.subnqn === SUBNQN), 'context carries qid/cntlid/subnqn after Connect')

  // onPduSend mutate: corrupt the CQE status of Keep Alive responses.
  target.setHooks({
    onPduSend: (_ctx, tx) => {
      if (tx.pdu.type !== PduType.CAPSULE_RESP) return { action: 'pass' }
      const b = Buffer.concat(tx.parts)
      b.writeUInt16LE(0x0004, 8 + 14)
      return { action: 'mutate', parts: [b] }
    },
  })
  t.equal((await c.admin(AdminOpcode.KEEP_ALIVE)).cqe.status, 0x0002, 'mutated status arrives (Invalid Field)')

  // onCommand drop: the command never completes; status shows it in flight.
  target.setHooks({ onCommand: (_ctx, cmd) => (cmd.opc === AdminOpcode.KEEP_ALIVE ? { action: 'drop' } : { action: 'pass' }) })
  const cid = c.nextCid()
  c.post(makeSqe({ opc: AdminOpcode.KEEP_ALIVE, cid }))
  // Wait for the command to arrive (a fixed 30 ms sleep raced with a loaded machine).
  await waitFor(() => target.status().controllers[0]?.queues[0]?.inflight === 1, 'dropped command in flight', 30_000)
  t.equal(target.status().controllers[0]?.queues[0]?.inflight, 1, 'dropped command stays in flight')
  // onCommand delay.
  target.setHooks({ onCommand: () => ({ action: 'delay', ms: 40 }) })
  const t0 = Date.now()
  await c.identify(Cns.CONTROLLER)
  t.ok(Date.now() - t0 >= 30, 'delayed')

  // onPduReceived drop then termReq.
  target.setHooks({ onPduReceived: (_ctx, rx) => (rx.pdu.type === PduType.CAPSULE_CMD && rx.raw[8] === AdminOpcode.ABORT ? { action: 'drop' } : { action: 'pass' }) })
  const acid = c.nextCid()
  c.post(makeSqe({ opc: AdminOpcode.ABORT, cid: acid }))
  t.equal((await c.admin(AdminOpcode.IDENTIFY, { cdw10: 1 }, { readLength: 4096 })).cqe.status, 0, 'later PDUs still processed after a dropped one')
  target.setHooks({ onPduReceived: () => ({ action: 'termReq', fes: 2, fei: 0 }) })
  c.post(makeSqe({ opc: AdminOpcode.KEEP_ALIVE, cid: c.nextCid() }))
  await c.closed
  t.same(c.termReqs.map((x) => x.fes), [2], 'C2HTermReq from a decision')
  target.setHooks(undefined)
  await waitFor(() => target.status().controllers.length === 0, 'controller gone')

  // No hooks: the plain path.
  const p = await RawHost.connect({ port })
  t.teardown(() => p.destroy())
  t.ok((await p.connectAdmin({ subnqn: SUBNQN })) > 0, 'works without hooks')
})

t.test('stall and delay decisions', async (t) => {
  const target = await startTarget(t)
  const c = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => c.destroy())
  await c.connectAdmin({ subnqn: SUBNQN })
  let once = true
  target.setHooks({
    onCommand: () => {
      if (!once) return { action: 'pass' }
      once = false
      return { action: 'stall', ms: 60 }
    },
    onPduSend: (_ctx, tx) => (tx.pdu.type === PduType.C2H_DATA ? { action: 'delay', ms: 30 } : { action: 'pass' }),
  })
  const t0 = Date.now()
  const [a, b] = await Promise.all([c.identify(Cns.CONTROLLER), c.identify(Cns.ACTIVE_NS_LIST)])
  t.equal(a.cqe.status, 0)
  t.equal(b.cqe.status, 0)
  t.equal(a.data.length, 4096, 'data delayed, not lost, and still before its response')
  t.ok(Date.now() - t0 >= 50, 'stalled queue resumed after the stall')
})
