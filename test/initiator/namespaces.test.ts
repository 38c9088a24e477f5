/**
 * Namespace scan and rescan against our target: a namespace added at run time appears (after the
 * NS-changed AEN and the Changed Namespace List read) only once fully built; a removed one disappears;
 * an NSID remapped to different identifiers (the nvme/058 pattern) removes the old device and creates
 * a new one, and the I/O of the old and the new never mix.
 */
import t, { type Test } from 'tap'
import diagnosticsChannel from 'node:diagnostics_channel'
import { createTarget } from '../../target/index.js'
import { NvmeHost } from '../../initiator/host.js'
import { INITIATOR_CHANNELS, type DeviceEvent } from '../../initiator/index.js'
import { attachFaults } from '../../faults/index.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:initiator-ns'
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
// Positive waits only: a generous bound (loaded 2-core machines); it costs time only when a test fails.
async function waitFor(cond: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end && !cond()) await sleep(5)
  return cond()
}

async function rig(t: Test) {
  const target = await createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0 },
    ],
    subsystems: [
      {
        nqn: SUBNQN,
        allowAnyHost: true,
        namespaces: [{ nsid: 1, size: '1MiB', blockSize: 512, uuid: '11111111-2222-4333-8444-555555555555', nguid: '000102030405060708090a0b0c0d0e0f' }],
      },
    ],
  })
  const host = new NvmeHost({ checkInvariants: true, controllerDefaults: { reconnectDelayMs: 50 } })
  const events: DeviceEvent[] = []
  const onDevice = (m: unknown): void => {
    events.push(m as DeviceEvent)
  }
  diagnosticsChannel.subscribe(INITIATOR_CHANNELS.device, onDevice)
  t.teardown(async () => {
    diagnosticsChannel.unsubscribe(INITIATOR_CHANNELS.device, onDevice)
    await host.close()
    await target.close()
  })
  for (const p of target.ports) await host.connect({ traddr: '127.0.0.1', trsvcid: p.port, subnqn: SUBNQN })
  return { target, host, events: events.filter.bind(events) as never, all: events }
}

t.test('namespace added and removed at run time (NS-changed AEN)', async (t) => {
  const { target, host } = await rig(t)
  t.equal(host.devices().length, 1)
  await target.addNamespace(SUBNQN, { nsid: 2, size: '512KiB', blockSize: 4096 })
  t.ok(await waitFor(() => host.device(2) !== undefined), 'nsid 2 appeared after the AEN-driven rescan')
  const d2 = host.device(2)!
  t.equal(d2.blockSize, 4096)
  t.equal(d2.head.paths.length, 2, 'visible with both paths')
  await d2.write(3, Buffer.alloc(4096, 7))
  t.same(await d2.read(3, 1), Buffer.alloc(4096, 7))
  t.ok(host.controllers().every((c) => c.counters.aens >= 1), 'each controller got the AEN')
  await target.removeNamespace(SUBNQN, 2)
  t.ok(await waitFor(() => host.device(2) === undefined), 'nsid 2 removed')
  await t.rejects(d2.read(0, 1), { code: 'ERR_NVMEOF_CONNECTION' }, 'I/O to the removed device fails')
  t.same(host.checkQuiescent(), [])
})

t.test('remapped NSID: old device removed, new device created, I/O never mixes', async (t) => {
  const { target, host, all } = await rig(t)
  const old = host.device(1)!
  const oldId = old.id
  await old.write(0, Buffer.alloc(512, 0xaa))
  // Remap: same NSID, different identifiers (only while disabled, as nvmet requires).
  target.disableNamespace(SUBNQN, 1)
  target.setNamespaceUuid(SUBNQN, 1, '99999999-8888-4777-8666-555555555555')
  target.setNamespaceNguid(SUBNQN, 1, 'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff')
  target.enableNamespace(SUBNQN, 1)
  t.ok(await waitFor(() => host.device(1) !== undefined && host.device(1)!.id !== oldId), 'a new device for nsid 1')
  const fresh = host.device(1)!
  t.not(fresh.head, old.head, 'a different multipath head')
  t.equal(fresh.head.ids.uuid, '99999999-8888-4777-8666-555555555555')
  t.ok(old.head.removed, 'the old head is removed')
  await t.rejects(old.write(1, Buffer.alloc(512, 0xbb)), { code: 'ERR_NVMEOF_CONNECTION' }, 'old device I/O fails, never reaches the new namespace')
  t.equal(old.head.paths.length, 0, 'old head has no paths')
  t.ok(await waitFor(() => fresh.head.paths.length === 2), 'the new device gets both paths (the controller that saw mismatching IDs rescans)')
  await fresh.write(1, Buffer.alloc(512, 0xcc))
  t.same(await fresh.read(1, 1), Buffer.alloc(512, 0xcc))
  t.same(await target.readNamespace(SUBNQN, 1, 512, 512), Buffer.alloc(512, 0xcc), 'only the new device wrote LBA 1')
  const seq = all.map((e) => `${e.action}:${e.headId === oldId ? 'old' : e.headId === fresh.id ? 'new' : 'other'}`)
  t.ok(seq.indexOf('removed:old') >= 0 && seq.indexOf('added:new') > seq.indexOf('removed:old'), `old removed before new added (${seq.join(', ')})`)
  t.same(host.checkQuiescent(), [])
  t.same(host.checker?.violations ?? [], [])
})

t.test('rescan on demand sees a resize', async (t) => {
  const { target, host } = await rig(t)
  const d = host.device(1)!
  await target.resizeNamespace(SUBNQN, 1, 4096)
  for (const c of host.controllers()) await c.rescan()
  t.equal(d.head.nsze, 4096n, 'new size after rescan')
  await d.write(4000, Buffer.alloc(512, 1))
  t.same(await d.read(4000, 1), Buffer.alloc(512, 1))
})

t.test('a rescan whose Identify fails leaves the device as it is (Linux nvme_scan_ns returns early)', async (t) => {
  const { target, host, all } = await rig(t)
  const faults = await attachFaults(target, { seed: 'scan-identify' })
  t.teardown(() => faults.close())
  const dev = host.device(1)!
  const ctrl = host.controllers(SUBNQN)[0]!
  t.equal(dev.head.paths.length, 2, 'two paths to start with')
  // Each status a transient failure can bring: Internal Error, a data transfer error (what a data
  // digest error on the C2HData becomes), Namespace Not Ready, a path error.
  for (const status of ['INTERNAL', 'DATA_XFER_ERROR', 'NS_NOT_READY', 'INTERNAL_PATH_ERROR']) {
    // First the descriptor list fails (CNS 03h), then Identify Namespace (CNS 00h) after a good list.
    for (const skip of [0, 1]) {
      const id = faults.engine.add({ type: 'status', match: { commands: ['identify'], nsids: [1] }, schedule: { afterN: skip, times: 1 }, params: { status } })
      await ctrl.rescan()
      t.equal(faults.engine.list().find((x) => x.id === id)?.fired, 1, `${status} on Identify ${skip === 0 ? 'CNS 03h' : 'CNS 00h'}`)
      faults.engine.remove(id)
      t.equal(dev.head.paths.length, 2, `both paths kept (${status})`)
    }
  }
  t.same(all.filter((e) => e.action === 'removed'), [], 'no device removed')
  t.equal(host.device(1), dev, 'the same device')
  await dev.write(0, Buffer.alloc(512, 9))
  t.same(await dev.read(0, 1), Buffer.alloc(512, 9), 'I/O goes on')
  t.ok(host.controllers(SUBNQN).every((c) => c.state === 'live'), 'controllers stayed live')
})
