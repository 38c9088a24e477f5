/**
 * Verify soak (opt-in: `npm run test:soak`, NVMF_SOAK_SECONDS, NVMF_SOAK_SEED): our initiator
 * writes and reads back, with verification, against our target on two ports (multipath) while
 * seeded random faults fire: delays, error statuses (also on writes that did execute), dropped
 * commands (timeout, Abort, reset), closes and resets mid-transfer, C2HTermReqs, data digest
 * corruption both ways, forced reconnects. Every block carries (LBA, version); the model knows,
 * per block, the version last acknowledged and the versions of failed writes issued after it (a
 * failed write may or may not have landed). A read that shows an older acknowledged version is a
 * lost write; one that matches no allowed version is corruption. Both must be zero, during the run
 * and in the final read-back of every block after the faults are removed.
 */
import t from 'tap'
import { createTarget } from '../../target/index.js'
import { attachFaults } from '../../faults/index.js'
import { NvmeHost } from '../../initiator/host.js'
import { seededRandom, type Random } from '../../lib/clock.js'

const seconds = Number(process.env['NVMF_SOAK_SECONDS'] ?? '60')
const seed = process.env['NVMF_SOAK_SEED'] ?? '1'
const skip = process.env['NVMF_SOAK'] === '1' ? false : 'opt-in: npm run test:soak (NVMF_SOAK=1)'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:soak'
const BS = 512
const BLOCKS = 8192 // 4 MiB namespace
const MAX_NLB = 64 // up to 32 KiB: beyond in-capsule, so writes go by R2T and H2CData
const QD = 8

/** Block content: LBA, version, seed tag, then bytes derived from them. */
function pattern(lba: number, version: number): Buffer {
  const b = Buffer.alloc(BS)
  if (version === 0) return b // never written: zeros
  b.writeUInt32LE(0x534f414b, 0) // 'SOAK'
  b.writeUInt32LE(lba, 4)
  b.writeUInt32LE(version, 8)
  let x = (lba * 2654435761 + version * 40503) >>> 0
  for (let i = 12; i < BS; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    b[i] = x >>> 24
  }
  return b
}

interface BlockState {
  /** Versions a read may show: the last acknowledged one and failed writes issued after it. */
  allowed: Set<number>
  acked: number
  next: number
}

interface Tally {
  writes: number
  writesAcked: number
  writesFailed: number
  reads: number
  readsFailed: number
  blocksVerified: number
  lost: number
  corrupt: number
  firstProblem?: string
}

function checkBlock(state: BlockState, lba: number, got: Buffer, tally: Tally): void {
  tally.blocksVerified++
  const v = got.readUInt32LE(0) === 0x534f414b ? got.readUInt32LE(8) : got.every((x) => x === 0) ? 0 : -1
  if (v >= 0 && state.allowed.has(v) && pattern(lba, v).equals(got)) return
  if (v >= 0 && v < state.acked && pattern(lba, v).equals(got)) {
    tally.lost++
    tally.firstProblem ??= `LBA ${lba}: version ${v} read back, ${state.acked} was acknowledged`
  } else {
    tally.corrupt++
    tally.firstProblem ??= `LBA ${lba}: content matches no version allowed (${[...state.allowed].join(',')})`
  }
}

function addFaults(engine: Awaited<ReturnType<typeof attachFaults>>['engine'], durationMs: number): void {
  const sched = (probability: number): Record<string, number> => ({ probability, durationMs })
  engine.add({ type: 'delay', match: { commands: ['read', 'write'] }, schedule: sched(0.05), params: { delay: { p50Ms: 1, p99Ms: 20 } } })
  engine.add({ type: 'status', match: { commands: ['read'] }, schedule: sched(0.01), params: { status: 'NS_NOT_READY' } })
  engine.add({ type: 'status', at: 'completion', match: { commands: ['write'] }, schedule: sched(0.01), params: { status: 'INTERNAL_PATH_ERROR' } })
  engine.add({ type: 'drop', match: { commands: ['write', 'read'] }, schedule: sched(0.002) })
  engine.add({ type: 'close', at: 'pdu-received', match: { pduTypes: ['h2c-data'] }, schedule: sched(0.003) })
  engine.add({ type: 'reset', match: { commands: ['read'] }, schedule: sched(0.002) })
  engine.add({ type: 'term-req', match: { commands: ['write'] }, schedule: sched(0.001), params: { fes: 2, fei: 0 } })
  engine.add({ type: 'corrupt', match: { pduTypes: ['c2h-data'] }, schedule: sched(0.005), params: { what: 'ddgst' } })
  engine.add({ type: 'corrupt', at: 'pdu-received', match: { pduTypes: ['h2c-data'] }, schedule: sched(0.005), params: { what: 'ddgst' } })
  engine.add({ type: 'force-reconnect', match: { commands: ['write'] }, schedule: sched(0.0005) })
}

t.test(`verify soak: ${seconds} s, seed ${seed}`, { skip, timeout: (seconds + 240) * 1000 }, async (t) => {
  const target = await createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0 },
    ],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: `${(BLOCKS * BS) / 2 ** 20}MiB`, blockSize: BS }] }],
    random: seededRandom(`soak-target:${seed}`),
  })
  t.teardown(() => target.close())
  const faults = await attachFaults(target, { seed: `soak:${seed}` })
  t.teardown(() => faults.close())
  const host = new NvmeHost({
    iopolicy: 'round-robin',
    delayedRemovalMs: 60_000,
    random: seededRandom(`soak-host:${seed}`),
    controllerDefaults: { hdgst: true, ddgst: true, kato: 5000, ioTimeoutMs: 1000, adminTimeoutMs: 3000, abortGraceMs: 300, reconnectDelayMs: 100, ctrlLossTmoMs: -1, nrIoQueues: 2 },
  })
  t.teardown(() => host.close())
  for (const p of target.ports) await host.connect({ traddr: '127.0.0.1', trsvcid: p.port, subnqn: SUBNQN })
  const dev = host.device(1, SUBNQN)
  if (dev === undefined) throw new Error('no device')

  const durationMs = seconds * 1000
  addFaults(faults.engine, durationMs)
  const state: BlockState[] = Array.from({ length: BLOCKS }, () => ({ allowed: new Set([0]), acked: 0, next: 1 }))
  const busy = new Uint8Array(BLOCKS)
  const tally: Tally = { writes: 0, writesAcked: 0, writesFailed: 0, reads: 0, readsFailed: 0, blocksVerified: 0, lost: 0, corrupt: 0 }
  const rnd: Random = seededRandom(`soak-work:${seed}`)
  const start = Date.now()
  const until = start + durationMs

  const oneOp = async (): Promise<void> => {
    const nlb = 1 + rnd.int(MAX_NLB)
    const slba = rnd.int(BLOCKS - nlb)
    for (let b = slba; b < slba + nlb; b++) if (busy[b] !== 0) return // overlapping I/O: ordering unknowable, skip
    busy.fill(1, slba, slba + nlb)
    try {
      if (rnd.int(2) === 0) {
        const versions = Array.from({ length: nlb }, (_, i) => (state[slba + i] as BlockState).next++)
        tally.writes++
        try {
          await dev.write(slba, Buffer.concat(versions.map((v, i) => pattern(slba + i, v))))
          tally.writesAcked++
          versions.forEach((v, i) => {
            const s = state[slba + i] as BlockState
            s.acked = v
            s.allowed = new Set([v])
          })
        } catch {
          tally.writesFailed++
          versions.forEach((v, i) => (state[slba + i] as BlockState).allowed.add(v))
        }
      } else {
        tally.reads++
        let data: Buffer
        try {
          data = await dev.read(slba, nlb)
        } catch {
          tally.readsFailed++
          return
        }
        for (let i = 0; i < nlb; i++) checkBlock(state[slba + i] as BlockState, slba + i, data.subarray(i * BS, (i + 1) * BS), tally)
      }
    } finally {
      busy.fill(0, slba, slba + nlb)
    }
  }
  const worker = async (): Promise<void> => {
    // Bounded in time and in count.
    for (let n = 0; n < 10_000_000 && Date.now() < until; n++) await oneOp()
  }
  await Promise.all(Array.from({ length: QD }, worker))
  const fired = faults.engine.list().map((f) => `${f.type}${f.at !== undefined ? `@${f.at}` : ''} ${f.fired}`)
  faults.engine.clear()

  // Final read-back of every block, faults removed (retries for a path still reconnecting).
  for (let slba = 0; slba < BLOCKS; slba += 64) {
    let data: Buffer | undefined
    for (let attempt = 0; attempt < 20 && data === undefined; attempt++) {
      data = await dev.read(slba, 64).catch(async () => {
        await new Promise((r) => setTimeout(r, 250))
        return undefined
      })
    }
    if (data === undefined) throw new Error(`final read of LBA ${slba} failed 20 times`)
    for (let i = 0; i < 64; i++) checkBlock(state[slba + i] as BlockState, slba + i, data.subarray(i * BS, (i + 1) * BS), tally)
  }
  const ctrl = host.controllers(SUBNQN).map((c) => c.counters)
  t.comment(`soak ${seconds} s seed ${seed}: writes ${tally.writes} (acked ${tally.writesAcked}, failed ${tally.writesFailed}), reads ${tally.reads} (failed ${tally.readsFailed}), blocks verified ${tally.blocksVerified}, lost ${tally.lost}, corrupt ${tally.corrupt}`)
  t.comment(`faults fired: ${fired.join(', ')}`)
  t.comment(`controllers: ${ctrl.map((c) => `resets ${c.resets} reconnects ${c.reconnectAttempts} timeouts ${c.timeouts} aborts ${c.aborts}`).join('; ')}`)
  t.equal(tally.lost, 0, `no acknowledged write lost ${tally.firstProblem ?? ''}`)
  t.equal(tally.corrupt, 0, `no corrupted block ${tally.firstProblem ?? ''}`)
  t.ok(tally.writesAcked > 0 && tally.blocksVerified > BLOCKS, 'the soak did real work')
  t.ok(fired.some((f) => !f.endsWith(' 0')), 'faults fired')
})
