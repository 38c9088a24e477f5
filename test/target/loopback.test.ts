/**
 * The core through the loopback transport (no sockets): Connect, enable, Identify, write/read,
 * namespace swap atomic with respect to a command in flight, and fault hooks at the command seams.
 */
import t from 'tap'
import { createLoopbackTarget } from '../../target/index.js'
import { testOptions, SUBNQN } from './helpers/fixture.js'
import { HOSTID, HOSTNQN } from '../helpers/raw-host.js'
import { encodeConnectData, makeConnectSqe, makePropertyGetSqe, makePropertySetSqe, Property } from '../../lib/nvme/fabrics.js'
import { makeIdentifySqe } from '../../lib/nvme/commands.js'
import { makeSqe, rwDwords } from '../../lib/nvme/sqe.js'
import { sglInCapsule, sglTransportDataBlock } from '../../lib/nvme/sgl.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'
import { decodeIdentifyController } from '../../lib/nvme/identify-controller.js'
import { NvmeStatus } from '../../lib/status.js'

t.test('core over loopback', async (t) => {
  const lt = await createLoopbackTarget(testOptions())
  t.teardown(() => lt.close())
  const aq = lt.loopback.connect({ portId: 1 })
  const data = encodeConnectData({ hostid: HOSTID, cntlid: 0xffff, subnqn: SUBNQN, hostnqn: HOSTNQN })
  const con = await aq.submit(makeConnectSqe({ cid: 1, qid: 0, sqsize: 31, kato: 0 }), data, { inCapsule: true })
  t.equal(con.cqe.status, 0, 'Connect')
  const cntlid = con.cqe.dw0 & 0xffff
  t.equal((await aq.submit(makePropertySetSqe({ cid: 2, ofst: Property.CC, size: 4, value: 0x460001n }))).cqe.status, 0)
  t.equal((await aq.submit(makePropertyGetSqe({ cid: 3, ofst: Property.CSTS, size: 4 }))).cqe.dw0, 1, 'ready')
  const id = await aq.submit(makeIdentifySqe({ cid: 4, cns: 1 }))
  t.equal(decodeIdentifyController(id.data!).cntlid, cntlid)

  const iq = lt.loopback.connect({ portId: 1 })
  t.equal((await iq.submit(makeConnectSqe({ cid: 1, qid: 1, sqsize: 15 }), encodeConnectData({ hostid: HOSTID, cntlid, subnqn: SUBNQN, hostnqn: HOSTNQN }), { inCapsule: true })).cqe.status, 0)
  const payload = Buffer.alloc(2048, 0xab)
  const w = await iq.submit(makeSqe({ opc: IoOpcode.WRITE, cid: 2, nsid: 1, ...rwDwords({ slba: 4n, nlb: 3 }), sgl: sglTransportDataBlock(2048) }), payload)
  t.equal(w.cqe.status, 0, 'write (data fetched like an R2T)')
  const r = await iq.submit(makeSqe({ opc: IoOpcode.READ, cid: 3, nsid: 1, ...rwDwords({ slba: 4n, nlb: 3 }), sgl: sglTransportDataBlock(2048) }))
  t.same(r.data, payload, 'read back')

  // Hooks at the command seams: replace a status, then impose one.
  lt.core.hooks.hooks = {
    onCompletion: (_ctx, cmd, c) => (cmd.opc === IoOpcode.READ && c.status === 0 ? { action: 'complete', status: NvmeStatus.ANA_TRANSITION } : { action: 'pass' }),
  }
  const r2 = await iq.submit(makeSqe({ opc: IoOpcode.READ, cid: 4, nsid: 1, ...rwDwords({ slba: 4n, nlb: 0 }), sgl: sglTransportDataBlock(512) }))
  t.equal(r2.cqe.status, NvmeStatus.ANA_TRANSITION, 'onCompletion replaced the status')
  lt.core.hooks.hooks = { onCommand: (_ctx, cmd) => (cmd.nlb === 7 ? { action: 'complete', status: NvmeStatus.LBA_RANGE, dw0: 5 } : { action: 'pass' }) }
  const w2 = await iq.submit(makeSqe({ opc: IoOpcode.WRITE, cid: 5, nsid: 1, ...rwDwords({ slba: 0n, nlb: 7 }), sgl: sglInCapsule(4096) }), Buffer.alloc(4096), { inCapsule: true })
  t.equal(w2.cqe.status, NvmeStatus.LBA_RANGE, 'onCommand completed it')
  t.equal(w2.cqe.dw0, 5)
  t.same((await lt.core.subsystems.get(SUBNQN)!.get(1)!.store.read(0, 4)), Buffer.alloc(4), 'never executed')
  lt.core.hooks.hooks = undefined

  // Atomicity: a command holding the namespace finishes against the snapshot it took.
  const ns = lt.core.subsystems.get(SUBNQN)!
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  lt.core.hooks.hooks = {
    onCommand: async (_ctx, cmd) => {
      if (cmd.opc === IoOpcode.READ) await gate
      return { action: 'pass' }
    },
  }
  const held = iq.submit(makeSqe({ opc: IoOpcode.READ, cid: 6, nsid: 1, ...rwDwords({ slba: 4n, nlb: 3 }), sgl: sglTransportDataBlock(2048) }))
  await new Promise((r) => setTimeout(r, 10))
  t.equal(ns.inflight(1), 1, 'reference taken at parse')
  const removal = ns.removeNamespace(1)
  t.equal(ns.get(1), undefined, 'unpublished at once')
  let removed = false
  void removal.then(() => (removed = true))
  await new Promise((r) => setTimeout(r, 10))
  t.equal(removed, false, 'removal waits for the in-flight command')
  release()
  const hr = await held
  t.equal(hr.cqe.status, 0, 'in-flight read completes against the old namespace')
  t.same(hr.data, payload)
  await removal
  lt.core.hooks.hooks = undefined
  t.equal((await iq.submit(makeSqe({ opc: IoOpcode.READ, cid: 7, nsid: 1, ...rwDwords({ slba: 4n, nlb: 0 }), sgl: sglTransportDataBlock(512) }))).cqe.status & 0xff, 0x0b, 'then Invalid Namespace')
})
