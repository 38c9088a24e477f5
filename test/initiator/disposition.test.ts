/**
 * Error disposition against our target (lib/disposition.ts, wire reference 8.2): a retryable status
 * is retried on the same path; DNR completes at once with the error; retries stop after maxRetries;
 * a CRD asks for the CRDT delay; in-capsule writes stay in the capsule, larger ones use R2T within
 * MAXH2CDATA; a clean disconnect sets CC.SHN.
 */
import t, { type Test } from 'tap'
import { createTarget, type TargetHooks } from '../../target/index.js'
import { NvmeHost } from '../../initiator/host.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { PduType } from '../../lib/pdu/common.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:initiator-disp'

async function rig(t: Test, hooks: TargetHooks, maxRetries = 5) {
  const target = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '1MiB', blockSize: 512 }] }],
    hooks,
  })
  const host = new NvmeHost({ checkInvariants: true, maxRetries })
  t.teardown(async () => {
    await host.close()
    await target.close()
  })
  const ctrl = await host.connect({ traddr: '127.0.0.1', trsvcid: target.ports[0]!.port, subnqn: SUBNQN })
  return { target, host, ctrl, dev: host.device(1)! }
}

/** Fail the first `n` writes to LBA `lba` with `status`. */
function failWrites(lba: number, n: number, status: number, seen: { count: number }): TargetHooks {
  return {
    onCommand(_ctx, cmd) {
      if (cmd.kind === 'io' && cmd.opc === 0x01 && cmd.slba === BigInt(lba) && seen.count < n) {
        seen.count++
        return { action: 'complete', status }
      }
      return { action: 'pass' }
    },
  }
}

t.test('retryable status: retried on the same path, then succeeds', async (t) => {
  const seen = { count: 0 }
  const { dev, target } = await rig(t, failWrites(3, 3, NvmeStatus.INTERNAL, seen))
  await dev.write(3, Buffer.alloc(512, 3))
  t.equal(seen.count, 3, 'failed three times')
  t.equal(dev.head.counters.retries, 3, 'three same-path retries')
  t.equal(dev.head.counters.failovers, 0, 'no failover for a non-path status')
  t.same(await target.readNamespace(SUBNQN, 1, 3 * 512, 512), Buffer.alloc(512, 3))
})

t.test('DNR completes with the error at once', async (t) => {
  const seen = { count: 0 }
  const { dev } = await rig(t, failWrites(4, 10, NvmeStatus.INTERNAL | STATUS_DNR, seen))
  const err = await dev.write(4, Buffer.alloc(512)).then(
    () => undefined,
    (e: unknown) => e as { code: string; status: number; dnr: boolean; qid: number },
  )
  t.equal(err?.code, 'ERR_NVMEOF_STATUS')
  t.equal(err?.dnr, true)
  t.equal((err?.status ?? 0) & 0x7ff, NvmeStatus.INTERNAL)
  t.ok((err?.qid ?? 0) >= 1, 'error names the I/O queue')
  t.equal(seen.count, 1, 'not retried')
})

t.test('retries stop after maxRetries', async (t) => {
  const seen = { count: 0 }
  const { dev } = await rig(t, failWrites(5, 100, NvmeStatus.INTERNAL, seen), 2)
  await t.rejects(dev.write(5, Buffer.alloc(512)), { code: 'ERR_NVMEOF_STATUS' })
  t.equal(seen.count, 3, 'first try + 2 retries')
})

t.test('CRD: the retry waits CRDT × 100 ms', async (t) => {
  const seen = { count: 0 }
  const hooks: TargetHooks = {
    ...failWrites(6, 1, NvmeStatus.INTERNAL | (1 << 11), seen),
    // CRDT1 = 3 (300 ms) in the Identify Controller data (offset 128).
    onPduSend(_ctx, tx) {
      const pdu = tx.pdu
      if (pdu.type === PduType.C2H_DATA && pdu.data.length === 4096 && pdu.data.subarray(768, 768 + SUBNQN.length).toString('latin1') === SUBNQN) {
        const data = Buffer.from(pdu.data)
        data.writeUInt16LE(3, 128)
        return { action: 'mutate', parts: tx.parts.map((p) => (p.length === 4096 && p.equals(pdu.data) ? data : p)) }
      }
      return { action: 'pass' }
    },
  }
  const { dev, ctrl } = await rig(t, hooks)
  t.equal(ctrl.identify?.crdt1, 3)
  const t0 = performance.now()
  await dev.write(6, Buffer.alloc(512, 6))
  const ms = performance.now() - t0
  t.equal(seen.count, 1)
  t.ok(ms >= 290, `retried after ${ms.toFixed(0)} ms (CRD 1 → CRDT1 300 ms)`)
})

t.test('in-capsule vs R2T, MAXH2CDATA honoured, CC.SHN on disconnect', async (t) => {
  let maxh2cdata = 0
  let h2c = 0
  let largest = 0
  let shutdown = false
  const { dev, host, ctrl } = await rig(t, {
    onPduSend(_ctx, tx) {
      if (tx.pdu.type === PduType.IC_RESP) maxh2cdata = tx.pdu.maxh2cdata
      return { action: 'pass' }
    },
    onPduReceived(_ctx, rx) {
      if (rx.pdu.type === PduType.H2C_DATA) {
        h2c++
        largest = Math.max(largest, rx.pdu.data.length)
      }
      return { action: 'pass' }
    },
    onCommand(_ctx, cmd) {
      // Property Set (fabrics 0x7F, FCTYPE 0) of CC (0x14) with SHN = 01b.
      if (cmd.kind === 'fabrics' && cmd.sqe.nsid === 0x00 && cmd.sqe.cdw11 === 0x14 && ((cmd.sqe.cdw12 >>> 14) & 3) === 1) shutdown = true
      return { action: 'pass' }
    },
  })
  await dev.write(0, Buffer.alloc(1024, 1))
  t.equal(h2c, 0, 'a 1 KiB write travels in the capsule')
  await dev.write(0, Buffer.alloc(512 * 1024, 2))
  t.ok(h2c >= 1, `a 512 KiB write went by R2T/H2CData (${h2c} PDUs)`)
  t.ok(largest <= maxh2cdata && maxh2cdata > 0, `largest H2CData ${largest} <= MAXH2CDATA ${maxh2cdata}`)
  await host.disconnect(ctrl)
  t.ok(shutdown, 'Property Set CC.SHN = normal sent')
  t.equal(ctrl.state, 'deleted')
})
