/**
 * In-capsule write data is a view of the received PDU, valid only while the capsule is delivered
 * (the framer's contract). A Write into the memory store copies it into the store before that call
 * returns, without an intermediate copy; every other path (an onCommand hook that defers the
 * command, the file store's asynchronous write) keeps its own copy first. Here the "receive buffer"
 * is overwritten as soon as the submit call returns: the stored data must be what the host sent.
 */
import t from 'tap'
import type { Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLoopbackTarget, type TargetOptions } from '../../target/index.js'
import type { LoopbackQueue } from '../../target/transport/loopback.js'
import { testOptions, SUBNQN } from './helpers/fixture.js'
import { HOSTID, HOSTNQN } from '../helpers/raw-host.js'
import { encodeConnectData, makeConnectSqe, makePropertySetSqe, Property } from '../../lib/nvme/fabrics.js'
import { makeSqe, rwDwords } from '../../lib/nvme/sqe.js'
import { sglInCapsule, sglTransportDataBlock } from '../../lib/nvme/sgl.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'

async function ioQueue(t: Test, extra: Partial<TargetOptions> = {}): Promise<LoopbackQueue> {
  const lt = await createLoopbackTarget(testOptions(extra))
  t.teardown(() => lt.close())
  const aq = lt.loopback.connect({ portId: 1 })
  const con = await aq.submit(makeConnectSqe({ cid: 1, qid: 0, sqsize: 31, kato: 0 }), encodeConnectData({ hostid: HOSTID, cntlid: 0xffff, subnqn: SUBNQN, hostnqn: HOSTNQN }), { inCapsule: true })
  t.equal(con.cqe.status, 0, 'Connect')
  t.equal((await aq.submit(makePropertySetSqe({ cid: 2, ofst: Property.CC, size: 4, value: 0x460001n }))).cqe.status, 0, 'enabled')
  const iq = lt.loopback.connect({ portId: 1 })
  const ic = await iq.submit(makeConnectSqe({ cid: 1, qid: 1, sqsize: 15 }), encodeConnectData({ hostid: HOSTID, cntlid: con.cqe.dw0 & 0xffff, subnqn: SUBNQN, hostnqn: HOSTNQN }), { inCapsule: true })
  t.equal(ic.cqe.status, 0, 'I/O queue connected')
  if (extra.hooks !== undefined) lt.core.hooks.hooks = extra.hooks
  return iq
}

/** Write 4 KiB in-capsule at LBA 8, scribble over the sent buffer once submit returned, read back. */
async function writeThenScribble(t: Test, iq: LoopbackQueue, fill: number): Promise<void> {
  const sent = Buffer.alloc(4096, fill)
  const done = iq.submit(makeSqe({ opc: IoOpcode.WRITE, cid: 2, nsid: 1, ...rwDwords({ slba: 8n, nlb: 7 }), sgl: sglInCapsule(4096) }), sent, { inCapsule: true })
  sent.fill(0xee) // the receive buffer is reused after delivery
  t.equal((await done).cqe.status, 0, 'write completed')
  const r = await iq.submit(makeSqe({ opc: IoOpcode.READ, cid: 3, nsid: 1, ...rwDwords({ slba: 8n, nlb: 7 }), sgl: sglTransportDataBlock(4096) }))
  t.equal(r.cqe.status, 0, 'read completed')
  t.same(r.data, Buffer.alloc(4096, fill), 'the store holds what the host sent, not what the buffer held later')
}

t.test('memory store, no hook: the store copies straight from the capsule', async (t) => {
  await writeThenScribble(t, await ioQueue(t), 0x5a)
})

t.test('memory store, an onCommand hook defers the write: the request keeps a copy', async (t) => {
  await writeThenScribble(t, await ioQueue(t, { hooks: { onCommand: async () => ({ action: 'delay', ms: 5 }) } }), 0x3c)
})

t.test('file store: the asynchronous write gets a copy', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nvmf-incapsule-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const iq = await ioQueue(t, { subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '1MiB', store: { type: 'file', path: join(dir, 'ns1.img') } }] }] })
  await writeThenScribble(t, iq, 0xa7)
})
