/**
 * The initiator against our own target (in-process createTarget, real sockets on 127.0.0.1, listen
 * port 0) with faults injected through the target's hooks and handle methods: ANA flip under I/O,
 * each path-related status, a connection reset mid-transfer, keep-alive loss and a target restart.
 * In every case I/O keeps completing with a verified data pattern, the host-side journal matches
 * the namespace content (no lost or stale-duplicated writes), and the QoS invariant checker stays
 * silent.
 */
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTarget, type TargetHandle, type TargetHooks } from '../../target/index.js'
import { NvmeHost } from '../../initiator/host.js'
import type { NvmeDevice } from '../../initiator/device.js'
import type { HostController } from '../../initiator/controller.js'
import { NvmeStatus } from '../../lib/status.js'
import { PduType } from '../../lib/pdu/common.js'
import { runWorkload, verifyAgainst, type WorkloadResult } from './helpers/workload.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:initiator-failover'
const BS = 512
// Fixed identifiers: a restarted target must present the same namespace, not a remapped one.
const NS_UUID = '6a0c6a8e-5d0b-4c36-9d7f-0c1f2e3d4b5a'
const NS_NGUID = '0123456789abcdef0123456789abcdef'

interface Rig {
  target: TargetHandle
  host: NvmeHost
  device: NvmeDevice
  c1: HostController
  c2: HostController
  ports: [number, number]
}

async function startTarget(opts: { hooks?: TargetHooks; file?: string; ports?: [number, number] }): Promise<TargetHandle> {
  return createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: opts.ports?.[0] ?? 0, anaStates: { '1': 'optimized' } },
      { id: 2, address: '127.0.0.1', port: opts.ports?.[1] ?? 0, anaStates: { '1': 'non-optimized' } },
    ],
    subsystems: [
      {
        nqn: SUBNQN,
        allowAnyHost: true,
        namespaces: [{ nsid: 1, size: '1MiB', blockSize: BS, uuid: NS_UUID, nguid: NS_NGUID, ...(opts.file !== undefined ? { store: { type: 'file' as const, path: opts.file } } : {}) }],
      },
    ],
    ...(opts.hooks !== undefined ? { hooks: opts.hooks } : {}),
  })
}

async function setup(t: Test, opts: { hooks?: TargetHooks; file?: string; kato?: number } = {}): Promise<Rig> {
  const target = await startTarget(opts)
  const host = new NvmeHost({
    checkInvariants: true,
    qos: { writeThrottle: { maxDepth: 4, targetLatencyMs: 50 } },
    controllerDefaults: { reconnectDelayMs: 50, kato: opts.kato ?? 2000, ioTimeoutMs: 3000, abortGraceMs: 300, ctrlLossTmoMs: 60_000, nrIoQueues: 2 },
  })
  const ports = target.ports.map((p) => p.port) as [number, number]
  const c1 = await host.connect({ traddr: '127.0.0.1', trsvcid: ports[0], subnqn: SUBNQN, distance: 0 })
  const c2 = await host.connect({ traddr: '127.0.0.1', trsvcid: ports[1], subnqn: SUBNQN })
  const device = host.devices()[0]
  if (device === undefined) throw new Error('no device')
  const rig: Rig = { target, host, device, c1, c2, ports }
  t.teardown(async () => {
    await host.close()
    await rig.target.close()
  })
  return rig
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// Positive waits only: a generous bound (loaded 2-core machines); it costs time only when a test fails.
async function waitFor(cond: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (cond()) return true
    await sleep(5)
  }
  return cond()
}

async function check(t: Test, rig: Rig, res: WorkloadResult): Promise<void> {
  t.same(res.errors.map((e) => e.message), [], 'no I/O failed')
  t.ok(res.writes > 0, `${res.writes} writes acknowledged`)
  t.equal(res.readMismatches, 0, `${res.reads} read-backs matched`)
  const bad = await verifyAgainst((off, len) => rig.target.readNamespace(SUBNQN, 1, off, len), res.journal, BS)
  t.same(bad, [], 'target content equals the host journal (no lost or stale duplicated writes)')
  t.same(rig.host.checkQuiescent(), [], 'QoS counters back to zero')
  t.same(rig.host.checker?.violations ?? [], [], 'invariant checker silent')
}

function pathOf(rig: Rig, c: HostController) {
  return rig.device.head.paths.find((p) => p.backend === c)
}

t.test('ANA flip under I/O: traffic follows the optimized path, no I/O fails', async (t) => {
  const rig = await setup(t)
  const p1 = pathOf(rig, rig.c1)!
  const p2 = pathOf(rig, rig.c2)!
  t.equal(p1.state, 'live')
  t.equal(p2.state, 'degraded')
  let moved = { p1: 0, p2: 0 }
  let back = { p1: 0, p2: 0 }
  const fault = (async () => {
    await sleep(80)
    rig.target.setAnaState({ portId: 1, grpid: 1, state: 'inaccessible' })
    rig.target.setAnaState({ portId: 2, grpid: 1, state: 'optimized' })
    t.ok(await waitFor(() => p1.state === 'inaccessible' && p2.state === 'live'), 'host followed the ANA AEN')
    await sleep(20)
    const s1 = p1.counters.issued
    const s2 = p2.counters.issued
    await sleep(80)
    moved = { p1: p1.counters.issued - s1, p2: p2.counters.issued - s2 }
    rig.target.setAnaState({ portId: 2, grpid: 1, state: 'non-optimized' })
    rig.target.setAnaState({ portId: 1, grpid: 1, state: 'optimized' })
    t.ok(await waitFor(() => p1.state === 'live' && p2.state === 'degraded'), 'host followed the flip back')
    await sleep(20)
    const b1 = p1.counters.issued
    const b2 = p2.counters.issued
    await sleep(80)
    back = { p1: p1.counters.issued - b1, p2: p2.counters.issued - b2 }
  })()
  const res = await runWorkload({ device: rig.device, writers: 4, span: 64, until: fault })
  await fault
  t.ok(moved.p2 > 0 && moved.p1 === 0, `after the flip every new I/O issued on port 2 (p1 +${moved.p1}, p2 +${moved.p2})`)
  t.ok(back.p1 > 0 && back.p2 === 0, `after the flip back every new I/O issued on port 1 (p1 +${back.p1}, p2 +${back.p2})`)
  t.ok(rig.c1.counters.anaReads >= 3, 'ANA log re-read on the AENs')
  await check(t, rig, res)
})

for (const [name, status] of [
  ['Internal Path Error', NvmeStatus.INTERNAL_PATH_ERROR],
  ['ANA Persistent Loss', NvmeStatus.ANA_PERSISTENT_LOSS],
  ['ANA Inaccessible', NvmeStatus.ANA_INACCESSIBLE],
  ['ANA Transition', NvmeStatus.ANA_TRANSITION],
  ['Controller Pathing Error', NvmeStatus.CTRL_PATH_ERROR],
  ['Host Pathing Error', NvmeStatus.HOST_PATH_ERROR],
  ['Command Aborted By Host', NvmeStatus.HOST_ABORTED_CMD],
] as const) {
  t.test(`path-related status ${name} (0x${status.toString(16)}) on port 1: I/O fails over and completes`, async (t) => {
    let injected = 0
    const rig = await setup(t, {
      hooks: {
        onCommand(ctx, cmd) {
          if (ctx.portId === 1 && cmd.kind === 'io' && injected < 6) {
            injected++
            return { action: 'complete', status }
          }
          return { action: 'pass' }
        },
      },
    })
    const res = await runWorkload({ device: rig.device, writers: 3, span: 32, until: waitFor(() => injected >= 6).then(() => sleep(30)) })
    t.equal(injected, 6, 'six commands failed with the path status')
    t.ok(rig.device.head.counters.failovers >= 6, `${rig.device.head.counters.failovers} failovers`)
    await check(t, rig, res)
  })
}

t.test('connection reset mid-transfer (C2HData and H2CData on port 1)', async (t) => {
  let resets = 0
  const rig = await setup(t)
  rig.target.setHooks({
    onPduSend(ctx, tx) {
      if (ctx.portId === 1 && (ctx.qid ?? 0) > 0 && tx.pdu.type === PduType.C2H_DATA && resets === 0) {
        resets++
        return { action: 'reset' }
      }
      return { action: 'pass' }
    },
    onPduReceived(ctx, rx) {
      if (ctx.portId === 1 && rx.pdu.type === PduType.H2C_DATA && resets === 1) {
        resets++
        return { action: 'reset' }
      }
      return { action: 'pass' }
    },
  })
  // 8 KiB writes go by R2T/H2CData (in-capsule limit of the target is smaller on I/O queues or not):
  // make sure some writes are large enough.
  const big = Buffer.alloc(64 * BS, 0x5a)
  const fault = (async () => {
    for (let i = 0; i < 50 && resets < 2; i++) {
      await rig.device.write(900, big)
      await rig.device.read(900, 64)
      await sleep(5)
    }
    await waitFor(() => rig.c1.state === 'live')
  })()
  const res = await runWorkload({ device: rig.device, writers: 3, span: 32, until: fault })
  await fault
  t.ok(resets >= 1, `${resets} connection resets injected`)
  t.ok(rig.c1.counters.resets + rig.c1.counters.reconnectAttempts >= 1, 'controller 1 recovered by reconnecting')
  t.equal(rig.c1.state, 'live', 'controller 1 is live again')
  t.same(await rig.device.read(900, 64), big, 'large transfer intact')
  await check(t, rig, res)
})

t.test('keep-alive loss on port 1: host resets and reconnects, I/O continues', async (t) => {
  let dropping = true
  let dropped = 0
  const rig = await setup(t, {
    kato: 400,
    hooks: {
      onCommand(ctx, cmd) {
        if (dropping && ctx.portId === 1 && cmd.kind === 'admin' && cmd.opc === 0x18) {
          dropped++
          return { action: 'drop' }
        }
        return { action: 'pass' }
      },
    },
  })
  const fault = (async () => {
    t.ok(await waitFor(() => rig.c1.counters.timeouts >= 1 && rig.c1.state !== 'live', 30_000), 'keep-alive timed out, controller left LIVE')
    dropping = false
    t.ok(await waitFor(() => rig.c1.state === 'live', 30_000), 'controller 1 reconnected')
    await sleep(50)
  })()
  const res = await runWorkload({ device: rig.device, writers: 3, span: 32, until: fault })
  await fault
  t.ok(dropped >= 1, `${dropped} keep-alives dropped`)
  await check(t, rig, res)
})

t.test('target restart: all paths down, I/O parked, reconnect, I/O completes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-init-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'ns1.img')
  const rig = await setup(t, { file })
  const fault = (async () => {
    await sleep(60)
    await rig.target.close()
    t.ok(await waitFor(() => rig.c1.state !== 'live' && rig.c2.state !== 'live'), 'both controllers lost')
    await sleep(100)
    rig.target = await startTarget({ file, ports: rig.ports })
    t.ok(await waitFor(() => rig.c1.state === 'live' && rig.c2.state === 'live', 30_000), 'both controllers reconnected')
    await sleep(50)
  })()
  const res = await runWorkload({ device: rig.device, writers: 3, span: 32, until: fault })
  await fault
  t.ok(rig.device.head.counters.requeued > 0 || rig.device.head.counters.failovers > 0, 'I/O was parked or failed over during the outage')
  await check(t, rig, res)
})
