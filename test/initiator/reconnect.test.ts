/**
 * Reconnect and timers against our target: ctrlLossTmo deletes a controller that cannot come back;
 * fastIoFailTmo fails parked I/O while reconnecting goes on, and a controller that comes back rejoins
 * its head; queue-if-no-path (delayedRemovalMs) keeps I/O queued until a path returns or the delay
 * ends; an I/O timeout sends Abort, then resets the controller; a group stuck in ANA change resets
 * the controller after 2 × ANATT.
 */
import t, { type Test } from 'tap'
import { createTarget, type TargetHandle, type TargetHooks } from '../../target/index.js'
import { NvmeHost, type HostOptions } from '../../initiator/host.js'
import { PduType } from '../../lib/pdu/common.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:initiator-reconnect'
const NS = { nsid: 1, size: '1MiB', blockSize: 512, uuid: '0f0e0d0c-0b0a-4908-8706-050403020100', nguid: 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf' }
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
// Positive waits only: a generous bound (loaded 2-core machines); it costs time only when a test fails.
async function waitFor(cond: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end && !cond()) await sleep(5)
  return cond()
}

async function target(ports: number[], hooks?: TargetHooks): Promise<TargetHandle> {
  return createTarget({
    ports: ports.map((port, i) => ({ id: i + 1, address: '127.0.0.1', port, anaStates: { '1': i === 0 ? 'optimized' : 'non-optimized' } })),
    subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [NS] }],
    ...(hooks !== undefined ? { hooks } : {}),
  })
}

async function hostFor(t: Test, tg: TargetHandle, opts: HostOptions, nPorts = 1): Promise<NvmeHost> {
  const host = new NvmeHost({ checkInvariants: true, ...opts })
  t.teardown(() => host.close())
  for (const p of tg.ports.slice(0, nPorts)) await host.connect({ traddr: '127.0.0.1', trsvcid: p.port, subnqn: SUBNQN })
  return host
}

t.test('ctrlLossTmo: a controller that cannot reconnect is deleted and its I/O fails', async (t) => {
  const tg = await target([0])
  // ctrlLossTmo 40x the reconnect delay: room for several attempts even when a loaded machine
  // stalls this process (at 300 ms a stalled run once saw a single attempt).
  const host = await hostFor(t, tg, { controllerDefaults: { reconnectDelayMs: 50, ctrlLossTmoMs: 2000 } })
  const ctrl = host.controllers()[0]!
  const dev = host.device(1)!
  await tg.close()
  t.ok(await waitFor(() => ctrl.state !== 'live'), 'connection loss noticed')
  const w = dev.write(0, Buffer.alloc(512, 1))
  await t.rejects(w, { code: 'ERR_NVMEOF_CONNECTION' }, 'parked write fails once the controller is deleted')
  t.ok(await waitFor(() => ctrl.state === 'deleted'), 'controller deleted after ctrlLossTmo')
  t.ok(ctrl.counters.reconnectAttempts >= 2, `${ctrl.counters.reconnectAttempts} reconnect attempts`)
  t.equal(host.devices().length, 0, 'device removed')
})

t.test('fastIoFailTmo fails parked I/O; the controller keeps reconnecting and rejoins its head', async (t) => {
  let tg = await target([0])
  const port = tg.ports[0]!.port
  t.teardown(() => tg.close())
  const host = await hostFor(t, tg, { controllerDefaults: { reconnectDelayMs: 50, ctrlLossTmoMs: 60_000, fastIoFailTmoMs: 150 } })
  const ctrl = host.controllers()[0]!
  const dev = host.device(1)!
  await tg.close()
  t.ok(await waitFor(() => ctrl.state !== 'live'))
  const w = dev.write(0, Buffer.alloc(512, 2))
  await t.rejects(w, /no available path/, 'parked write fails after fastIoFailTmo')
  t.ok(ctrl.failfastExpired, 'fast-fail flag set')
  t.not(ctrl.state, 'deleted', 'controller still reconnecting')
  tg = await target([port])
  t.ok(await waitFor(() => ctrl.state === 'live'), 'controller reconnected')
  t.equal(ctrl.failfastExpired, false, 'fast-fail cleared when live')
  t.equal(host.device(1), dev, 'same device (head rejoined)')
  await dev.write(0, Buffer.alloc(512, 3))
  t.same(await dev.read(0, 1), Buffer.alloc(512, 3))
  t.same(host.checkQuiescent(), [])
  t.same(host.checker?.violations ?? [], [])
})

t.test('queue-if-no-path: I/O stays queued after the last path left and completes on a new controller', async (t) => {
  let tg = await target([0])
  const port = tg.ports[0]!.port
  t.teardown(() => tg.close())
  const host = await hostFor(t, tg, { delayedRemovalMs: 3000, controllerDefaults: { reconnectDelayMs: 50, ctrlLossTmoMs: 100 } })
  const ctrl = host.controllers()[0]!
  const dev = host.device(1)!
  await tg.close()
  t.ok(await waitFor(() => ctrl.state === 'deleted'), 'controller deleted (ctrlLossTmo)')
  t.equal(dev.head.paths.length, 0, 'head has no path')
  t.notOk(dev.head.removed, 'head kept (queue-if-no-path)')
  const w = dev.write(4, Buffer.alloc(512, 4))
  await sleep(50)
  t.equal(dev.head.requeueLength, 1, 'write queued')
  tg = await target([port])
  await host.connect({ traddr: '127.0.0.1', trsvcid: port, subnqn: SUBNQN })
  await w
  t.equal(host.device(1), dev, 'the new controller joined the same head')
  t.same(await tg.readNamespace(SUBNQN, 1, 4 * 512, 512), Buffer.alloc(512, 4), 'queued write landed')
})

t.test('queue-if-no-path: the head is removed after the delay and queued I/O fails', async (t) => {
  const tg = await target([0])
  const host = await hostFor(t, tg, { delayedRemovalMs: 200, controllerDefaults: { reconnectDelayMs: 50, ctrlLossTmoMs: 50 } })
  const dev = host.device(1)!
  await tg.close()
  t.ok(await waitFor(() => dev.head.paths.length === 0))
  const w = dev.write(0, Buffer.alloc(512))
  await t.rejects(w, /removed/, 'fails when the head is removed')
  t.ok(dev.head.removed)
})

t.test('I/O timeout: Abort, then controller reset; the I/O completes through failover', async (t) => {
  let dropped = 0
  const tg = await target([0, 0], {
    onCommand(ctx, cmd) {
      if (ctx.portId === 1 && cmd.kind === 'io' && cmd.opc === 0x01 && dropped === 0) {
        dropped++
        return { action: 'drop' }
      }
      return { action: 'pass' }
    },
  })
  t.teardown(() => tg.close())
  const host = await hostFor(t, tg, { controllerDefaults: { reconnectDelayMs: 50, ioTimeoutMs: 200, abortGraceMs: 100 } }, 2)
  const c1 = host.controllers()[0]!
  const dev = host.device(1)!
  await dev.write(9, Buffer.alloc(512, 9))
  t.equal(dropped, 1, 'the target swallowed the first write')
  t.ok(c1.counters.timeouts >= 1 && c1.counters.aborts >= 1, 'timeout detected and Abort sent')
  t.ok(c1.counters.resets >= 1, 'controller reset after the Abort grace')
  t.same(await tg.readNamespace(SUBNQN, 1, 9 * 512, 512), Buffer.alloc(512, 9))
  t.ok(await waitFor(() => c1.state === 'live'), 'controller 1 back')
  t.same(host.checker?.violations ?? [], [])
})

t.test('ANATT: a group stuck in change resets the controller after 2 × ANATT', async (t) => {
  const tg = await target([0, 0], {
    // Shorten ANATT to 1 s in the Identify Controller data the host reads (offset 342).
    onPduSend(_ctx, tx) {
      const pdu = tx.pdu
      if (pdu.type === PduType.C2H_DATA && pdu.data.length === 4096 && pdu.data.subarray(768, 768 + SUBNQN.length).toString('latin1') === SUBNQN) {
        const data = Buffer.from(pdu.data)
        data[342] = 1
        return { action: 'mutate', parts: tx.parts.map((p) => (p.length === 4096 && p.equals(pdu.data) ? data : p)) }
      }
      return { action: 'pass' }
    },
  })
  t.teardown(() => tg.close())
  const host = await hostFor(t, tg, { controllerDefaults: { reconnectDelayMs: 50 } }, 2)
  const c1 = host.controllers()[0]!
  t.equal(c1.identify?.anatt, 1, 'ANATT 1 s as mutated')
  const dev = host.device(1)!
  tg.setAnaState({ portId: 1, grpid: 1, state: 'change' })
  const start = Date.now()
  let ios = 0
  while (c1.counters.resets === 0 && Date.now() - start < 30_000) {
    await dev.write(ios % 64, Buffer.alloc(512, ios & 0xff))
    ios++
    await sleep(10)
  }
  t.ok(c1.counters.resets >= 1, `controller reset after ${Date.now() - start} ms in change`)
  t.ok(Date.now() - start >= 1900, 'not before 2 × ANATT')
  t.ok(ios > 0, `${ios} writes completed meanwhile (non-optimized path)`)
  tg.setAnaState({ portId: 1, grpid: 1, state: 'optimized' })
  t.ok(await waitFor(() => c1.state === 'live' && dev.head.paths.some((p) => p.backend === c1 && p.state === 'live')), 'path 1 optimized again')
})
