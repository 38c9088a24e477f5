/**
 * Slow-loris and connection flood against the target (bounded: a few hundred loopback sockets).
 * Asserts limit and memory behaviour only — never speed: the loris connections each hold at most
 * one partial PDU and go away at limits.pduTimeoutMs / icReqTimeoutMs (manual clock), the flood
 * never gets more than limits.connectionsPerPort connections in, RSS stays within a generous bound,
 * and a well-behaved host keeps reading and writing correct data throughout.
 * `npm run bench:hostile` measures the same scenarios (peak RSS, p50/p99) in a separate process.
 */
import t from 'tap'
import { connect, type Socket } from 'node:net'
import { RawHost, waitFor } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN } from './helpers/fixture.js'
import { ManualClock } from '../../lib/clock.js'
import { PduType, encodePduParts } from '../../lib/pdu/index.js'
import type { TargetHandle } from '../../target/index.js'

const WAIT = 30_000
const MiB = 1 << 20

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port })
    s.on('error', () => undefined)
    s.once('connect', () => resolve(s))
    s.once('close', () => reject(new Error('closed before connect')))
  })
}

async function wellBehaved(target: TargetHandle, rounds: number): Promise<number> {
  const port = portOf(target, 2)
  const admin = await RawHost.connect({ port })
  const cntlid = await admin.connectAdmin({ subnqn: SUBNQN })
  const io = await RawHost.connect({ port })
  await io.connectIo({ subnqn: SUBNQN, cntlid })
  let ok = 0
  for (let i = 0; i < rounds; i++) {
    const data = Buffer.alloc(8192, i + 1)
    const w = await io.write(1, BigInt(i * 16), data, { timeoutMs: WAIT })
    const r = await io.read(1, BigInt(i * 16), 16, 512, WAIT)
    if (w.cqe.status === 0 && r.cqe.status === 0 && r.data.equals(data)) ok++
  }
  io.destroy()
  admin.destroy()
  return ok
}

t.test('slow loris: hundreds of connections trickling partial PDUs hold one PDU each and time out', async (t) => {
  const clock = new ManualClock()
  const target = await startTarget(t, { clock, limits: { pduTimeoutMs: 20_000, icReqTimeoutMs: 10_000, connectTimeoutMs: 60_000 } })
  const port = portOf(target)
  const rss0 = process.memoryUsage().rss
  const loris: Socket[] = []
  t.teardown(() => loris.forEach((s) => s.destroy()))
  const icreq = Buffer.concat(encodePduParts({ type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: false, ddgst: false, maxr2t: 0 }))
  // 100 send nothing (ICReq timeout), 200 send ICReq and start a 128 KiB-claiming H2C PDU they never finish.
  for (let i = 0; i < 300; i++) loris.push(await openSocket(port))
  const partial = Buffer.alloc(24)
  partial[0] = PduType.CAPSULE_CMD
  partial[2] = 72
  partial[3] = 72
  partial.writeUInt32LE(72 + 8192, 4)
  for (let i = 100; i < 300; i++) loris[i]!.write(icreq)
  // Trickle the partial PDU a few bytes at a time (bounded rounds).
  for (let off = 0; off < partial.length; off += 8) {
    for (let i = 100; i < 300; i++) loris[i]!.write(partial.subarray(off, off + 8))
    await new Promise((r) => setImmediate(r))
  }
  await waitFor(() => target.connectionStats().filter((c) => c.framerBytes === partial.length).length === 200, '200 partial PDUs received', WAIT)
  t.ok(target.connectionStats().every((c) => c.framerBytes <= partial.length && c.heldBytes === 0), 'each loris holds only its few bytes, no command buffer')
  t.equal(await wellBehaved(target, 20), 20, 'a well-behaved host reads and writes correct data during the loris')
  const grown = process.memoryUsage().rss - rss0
  t.ok(grown < 128 * MiB, `RSS grew ${(grown / MiB).toFixed(1)} MiB for 300 loris connections (bound 128 MiB)`)
  clock.advance(10_000)
  await waitFor(() => target.connectionStats().length === 200, 'silent connections closed at icReqTimeoutMs', WAIT)
  clock.advance(10_000)
  await waitFor(() => target.connectionStats().length === 0, 'trickling connections closed at pduTimeoutMs', WAIT)
  t.pass('every loris connection is gone')
})

t.test('connection flood: never more than limits.connectionsPerPort in, a well-behaved host keeps working', async (t) => {
  const limit = 64
  const target = await startTarget(t, { limits: { connectionsPerPort: limit } })
  const port = portOf(target)
  const socks: Socket[] = []
  t.teardown(() => socks.forEach((s) => s.destroy()))
  let peak = 0
  const sample = (): void => {
    peak = Math.max(peak, target.connectionStats().filter((c) => c.portId === 1).length)
  }
  const rss0 = process.memoryUsage().rss
  // 400 connection attempts in batches of 50 (bounded), sampling the target's count between batches.
  for (let b = 0; b < 8; b++) {
    const batch = await Promise.allSettled(Array.from({ length: 50 }, () => openSocket(port)))
    for (const r of batch) if (r.status === 'fulfilled') socks.push(r.value)
    sample()
    t.equal(await wellBehaved(target, 2), 2, `well-behaved host on port 2 works during batch ${b}`)
    sample()
  }
  t.ok(peak <= limit, `peak ${peak} connections on the port (limit ${limit})`)
  await waitFor(() => socks.filter((s) => s.destroyed || s.readableEnded).length >= socks.length - limit, 'connections past the limit closed', WAIT)
  const grown = process.memoryUsage().rss - rss0
  t.ok(grown < 128 * MiB, `RSS grew ${(grown / MiB).toFixed(1)} MiB (bound 128 MiB)`)
  socks.forEach((s) => s.destroy())
  await waitFor(() => target.connectionStats().length === 0, 'all gone', WAIT)
})
