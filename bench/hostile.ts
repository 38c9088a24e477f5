/**
 * `npm run bench:hostile`: the target under hostile hosts, measured. The target runs in a child
 * process (so its RSS is its own); this process is a well-behaved initiator doing 4 KiB reads plus
 * the attackers, all on loopback. Phases, each bounded in time and count:
 *
 *   baseline   the well-behaved host alone
 *   slow-loris N connections: ICReq, then a partial PDU trickled a byte at a time
 *   flood      connection attempts as fast as they go (limits.connectionsPerPort caps what gets in)
 *   read-flood one connection floods 1 MiB Reads behind an unanswered R2T and never reads its socket
 *
 * Prints, per phase, the target's peak RSS (getrusage maxrss, so a spike between samples counts)
 * and the well-behaved host's read latency p50/p99. Measures; asserts nothing (the tests do).
 * Options: --seconds S per phase (default 5), --loris N (default 500), --json.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createTarget } from '../target/index.js'
import { NvmeHost } from '../initiator/index.js'
import { encodePduParts, PduType } from '../lib/pdu/index.js'
import { encodeSqe, makeSqe, rwDwords } from '../lib/nvme/sqe.js'
import { sglInCapsule, sglTransportDataBlock } from '../lib/nvme/sgl.js'
import { encodeConnectData, makeConnectSqe } from '../lib/nvme/fabrics.js'
import { IoOpcode } from '../lib/nvme/opcodes.js'

const NQN = 'nqn.2014-08.org.nvmf-fault:hostile-bench'
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0b5e7a1c-1111-4222-8333-944455556666'
const MiB = 1 << 20

type ToChild = { cmd: 'rss' } | { cmd: 'stop' }
type FromChild = { ports: number[] } | { rss: number; maxRss: number; connections: number }

// ---- child: the target ---------------------------------------------------------------------------

async function runTarget(): Promise<void> {
  const target = await createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0 },
    ],
    subsystems: [{ nqn: NQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '64MiB' }] }],
    limits: { connectionsPerPort: 1024, pduTimeoutMs: 30_000, connectTimeoutMs: 30_000 },
  })
  process.send!({ ports: target.ports.map((p) => p.port) } satisfies FromChild)
  process.on('message', (m: ToChild) => {
    if (m.cmd === 'rss') {
      const maxRss = process.resourceUsage().maxRSS * 1024
      process.send!({ rss: process.memoryUsage().rss, maxRss, connections: target.connectionStats().length } satisfies FromChild)
    } else void target.close().then(() => process.exit(0))
  })
}

// ---- parent: the hosts ---------------------------------------------------------------------------

function ask(child: ChildProcess): Promise<{ rss: number; maxRss: number; connections: number }> {
  return new Promise((resolve) => {
    child.once('message', (m: FromChild) => resolve(m as { rss: number; maxRss: number; connections: number }))
    child.send({ cmd: 'rss' } satisfies ToChild)
  })
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

function openSocket(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.on('error', () => resolve(undefined))
    s.once('connect', () => resolve(s))
  })
}

const icreq = (): Buffer => Buffer.concat(encodePduParts({ type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: false, ddgst: false, maxr2t: 0 }))

/** Runs `attack` while the well-behaved host reads for `seconds`; returns its latencies (ms). */
async function phase(read: () => Promise<unknown>, seconds: number, attack: (until: number) => Promise<void>): Promise<number[]> {
  const until = performance.now() + seconds * 1000
  const lat: number[] = []
  const reader = (async () => {
    while (performance.now() < until && lat.length < 200_000) {
      const t0 = performance.now()
      await read()
      lat.push(performance.now() - t0)
    }
  })()
  await Promise.all([reader, attack(until)])
  return lat.sort((a, b) => a - b)
}

async function slowLoris(port: number, n: number, until: number): Promise<void> {
  const socks: Socket[] = []
  for (let i = 0; i < n; i++) {
    const s = await openSocket(port)
    if (s !== undefined) socks.push(s)
  }
  const head = Buffer.alloc(72)
  head[0] = PduType.CAPSULE_CMD
  head[2] = 72
  head[3] = 72
  head.writeUInt32LE(72 + 8192, 4)
  for (const s of socks) s.write(icreq())
  // One byte per connection per 100 ms: the partial PDU is never finished within the phase.
  for (let off = 0; performance.now() < until && off < head.length; off++) {
    for (const s of socks) if (!s.destroyed) s.write(head.subarray(off, off + 1))
    await new Promise((r) => setTimeout(r, 100))
  }
  while (performance.now() < until) await new Promise((r) => setTimeout(r, 100))
  for (const s of socks) s.destroy()
}

async function flood(port: number, until: number): Promise<void> {
  let attempts = 0
  const open: Socket[] = []
  while (performance.now() < until && attempts < 20_000) {
    const batch = await Promise.all(Array.from({ length: 50 }, () => openSocket(port)))
    attempts += batch.length
    for (const s of batch) if (s !== undefined) open.push(s)
    // Keep them open (they count against the port), dropping the oldest beyond 2000 on our side.
    while (open.length > 2000) open.shift()!.destroy()
  }
  for (const s of open) s.destroy()
}

async function readFlood(port: number, until: number): Promise<void> {
  const s = await openSocket(port)
  if (s === undefined) return
  s.on('data', () => undefined)
  const sendPdu = (sqe: ReturnType<typeof makeSqe>, data?: Buffer): void => {
    s.write(Buffer.concat(encodePduParts({ type: PduType.CAPSULE_CMD, sqe: encodeSqe(sqe), ...(data !== undefined ? { data } : {}) })))
  }
  s.write(icreq())
  // Reads go to an I/O queue, which needs the cntlid of an admin queue first.
  const admin = await openSocket(port)
  if (admin === undefined) return
  admin.write(icreq())
  const cdata = (cntlid: number): Buffer => encodeConnectData({ hostid: Buffer.alloc(16, 1), cntlid, subnqn: NQN, hostnqn: HOSTNQN })
  const cntlid = await new Promise<number>((resolve) => {
    let buf = Buffer.alloc(0)
    admin.on('close', () => resolve(-1))
    admin.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      // ICResp (128) then the Connect CapsuleResp (24): CNTLID in DW0.
      if (buf.length >= 128 + 24) resolve(buf.readUInt16LE(128 + 8))
    })
    sendPdu({ ...makeConnectSqe({ cid: 1, qid: 0, sqsize: 31, kato: 0 }), sgl: sglInCapsule(1024) }, cdata(0xffff))
  })
  if (cntlid < 0) {
    s.destroy()
    return
  }
  sendPdu({ ...makeConnectSqe({ cid: 1, qid: 1, sqsize: 127, kato: 0 }), sgl: sglInCapsule(1024) }, cdata(cntlid))
  await new Promise((r) => setTimeout(r, 200))
  // An R2T-needing write left unanswered, then the socket is no longer read, then 1 MiB Reads.
  sendPdu(makeSqe({ opc: IoOpcode.WRITE, cid: 2, nsid: 1, ...rwDwords({ slba: 0n, nlb: 7 }), sgl: sglTransportDataBlock(4096) }))
  await new Promise((r) => setTimeout(r, 100))
  s.pause()
  s.removeAllListeners('data')
  for (let cid = 3; cid < 3 + 126 && performance.now() < until; cid++) {
    sendPdu(makeSqe({ opc: IoOpcode.READ, cid, nsid: 1, ...rwDwords({ slba: 0n, nlb: MiB / 512 - 1 }), sgl: sglTransportDataBlock(MiB) }))
  }
  while (performance.now() < until) await new Promise((r) => setTimeout(r, 100))
  s.destroy()
  admin.destroy()
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const num = (name: string, d: number, max: number): number => {
    const i = argv.indexOf(name)
    const v = i >= 0 ? Number(argv[i + 1]) : d
    if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`${name} must be an integer in [1, ${max}]`)
    return v
  }
  const seconds = num('--seconds', 5, 120)
  const loris = num('--loris', 500, 1000)
  const child = fork(fileURLToPath(import.meta.url), ['--target'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ports = await new Promise<number[]>((resolve) => child.once('message', (m: FromChild) => resolve((m as { ports: number[] }).ports)))
  const host = new NvmeHost({})
  const rows: { phase: string; p50Ms: number; p99Ms: number; reads: number; rssMiB: number; peakRssMiB: number; connections: number }[] = []
  try {
    await host.connect({ traddr: '127.0.0.1', trsvcid: ports[1]!, subnqn: NQN })
    const dev = await host.waitForDevice(1, { subnqn: NQN, timeoutMs: 10_000 })
    let lba = 0
    const read = (): Promise<Buffer> => dev.read((lba = (lba + 8) % 100_000), 8)
    // Attackers run in their own process, so their CPU does not land in the well-behaved host's event loop.
    const attacker = (kind: string) => async (): Promise<void> => {
      const c = fork(fileURLToPath(import.meta.url), ['--attack', kind, String(ports[0]), String(seconds), String(loris)], { stdio: 'inherit' })
      await new Promise((r) => c.once('exit', r))
    }
    const attacks: [string, (until: number) => Promise<void>][] = [
      ['baseline', async () => undefined],
      [`slow-loris x${loris}`, attacker('loris')],
      ['connection flood', attacker('flood')],
      ['read flood (R2T + 1 MiB Reads, socket unread)', attacker('read-flood')],
    ]
    for (const [name, attack] of attacks) {
      // Start each phase from a quiet target (the previous attackers' connections are gone).
      for (let i = 0; i < 300 && (await ask(child)).connections > 2; i++) await new Promise((r) => setTimeout(r, 100))
      const lat = await phase(read, seconds, async (until) => {
        const sampler = (async () => {
          let peakConn = 0
          while (performance.now() < until) {
            peakConn = Math.max(peakConn, (await ask(child)).connections)
            await new Promise((r) => setTimeout(r, 250))
          }
          return peakConn
        })()
        await attack(until)
        const peak = await sampler
        const m = await ask(child)
        rows.push({ phase: name, p50Ms: 0, p99Ms: 0, reads: 0, rssMiB: m.rss / MiB, peakRssMiB: m.maxRss / MiB, connections: peak })
      })
      const row = rows[rows.length - 1]!
      Object.assign(row, { p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), reads: lat.length })
      if (!argv.includes('--json')) {
        console.log(`${row.phase.padEnd(48)} reads ${String(row.reads).padStart(7)}  p50 ${row.p50Ms.toFixed(3)} ms  p99 ${row.p99Ms.toFixed(3)} ms  target RSS ${row.rssMiB.toFixed(1)} MiB (peak ${row.peakRssMiB.toFixed(1)} MiB)  peak connections ${row.connections}`)
      }
      await new Promise((r) => setTimeout(r, 500))
    }
  } finally {
    await host.close()
    child.send({ cmd: 'stop' } satisfies ToChild)
  }
  console.log(JSON.stringify({ node: process.version, secondsPerPhase: seconds, rows }))
}

async function runAttack(kind: string, port: number, seconds: number, loris: number): Promise<void> {
  const until = performance.now() + seconds * 1000
  if (kind === 'loris') await slowLoris(port, loris, until)
  else if (kind === 'flood') await flood(port, until)
  else await readFlood(port, until)
  process.exit(0)
}

const attackAt = process.argv.indexOf('--attack')
if (process.argv.includes('--target')) await runTarget()
else if (attackAt >= 0) {
  const [kind, port, seconds, loris] = process.argv.slice(attackAt + 1)
  await runAttack(kind!, Number(port), Number(seconds), Number(loris))
} else await main()
