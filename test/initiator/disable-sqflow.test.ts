/**
 * `disableSqflow` (Linux `disable_sqflow`): the host asks for it in the Connect CATTR (bit 2) of the
 * admin and every I/O queue; the target then ends each successful read with a C2HData carrying
 * SUCCESS and no CapsuleResp (wire reference 10.2), and the host completes the read from that PDU.
 * Off by default, as on Linux: every read then gets its CapsuleResp.
 */
import t, { type Test } from 'tap'
import { createTarget } from '../../target/index.js'
import { PASS } from '../../target/seams/hooks.js'
import { NvmeHost } from '../../initiator/index.js'
import { PduType, type C2HData } from '../../lib/pdu/index.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:disable-sqflow'

/** Target and host on 127.0.0.1; counts the CapsuleResps and SUCCESS C2HData PDUs the target sends. */
async function rig(t: Test, disableSqflow: boolean | undefined) {
  const sent = { capsuleResp: 0, c2hSuccess: 0, c2h: 0 }
  const target = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '4MiB', blockSize: 512 }] }],
    hooks: {
      onPduSend: (_ctx, tx) => {
        if (tx.pdu.type === PduType.CAPSULE_RESP) sent.capsuleResp++
        if (tx.pdu.type === PduType.C2H_DATA) {
          sent.c2h++
          if ((tx.pdu as C2HData).success) sent.c2hSuccess++
        }
        return PASS
      },
    },
  })
  const host = new NvmeHost({ checkInvariants: true })
  t.teardown(async () => {
    await host.close()
    await target.close()
  })
  await host.connect({ traddr: '127.0.0.1', trsvcid: target.ports[0]!.port, subnqn: SUBNQN, kato: 0, ...(disableSqflow !== undefined ? { disableSqflow } : {}) })
  return { sent, dev: host.device(1, SUBNQN)! }
}

t.test('disableSqflow: reads complete from the C2HData SUCCESS flag, no CapsuleResp', async (t) => {
  const { sent, dev } = await rig(t, true)
  const data = Buffer.alloc(8192)
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff
  await dev.write(16, data)
  const before = { ...sent }
  for (let i = 0; i < 20; i++) t.same(await dev.read(16 + (i % 8), 8), data.subarray((i % 8) * 512, (i % 8) * 512 + 4096))
  t.equal(sent.c2hSuccess - before.c2hSuccess, 20, 'every read ended by its C2HData')
  t.equal(sent.capsuleResp - before.capsuleResp, 0, 'no CapsuleResp for a successful read')
  // Writes have no C2H data: they still get their CapsuleResp.
  await dev.write(0, data)
  t.equal(sent.capsuleResp - before.capsuleResp, 1)
})

t.test('default: SQ flow control stays on, every read gets its CapsuleResp', async (t) => {
  const { sent, dev } = await rig(t, undefined)
  const before = { ...sent }
  for (let i = 0; i < 5; i++) t.same(await dev.read(i, 1), Buffer.alloc(512))
  t.equal(sent.c2h - before.c2h, 5)
  t.equal(sent.c2hSuccess, 0)
  t.equal(sent.capsuleResp - before.capsuleResp, 5)
})

t.test('disableSqflow is validated', async (t) => {
  const host = new NvmeHost({})
  t.teardown(() => host.close())
  await t.rejects(host.connect({ traddr: '127.0.0.1', trsvcid: 4420, subnqn: SUBNQN, disableSqflow: 'yes' as unknown as boolean }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'disableSqflow' })
})
