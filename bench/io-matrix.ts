/**
 * The I/O matrix: our initiator ↔ our target, each in its own process, against the same-run
 * baseline of a raw Node echo (bench/role-echo.ts) shaped like each case. For every case the runs
 * alternate (echo, digests off, digests on) so that load drifting on a shared machine hits all three
 * alike; each NVMe row carries its ratio to the echo of the same round.
 */
import type { BenchContext, BenchRow, BenchSection } from './harness.js'
import { loadNow } from './harness.js'
import { Worker, type ProcUsage } from './rpc.js'
import type { EchoJob, EchoResult } from './role-echo.js'
import type { InitiatorConnect, InitiatorJob } from './role-initiator.js'
import type { TargetStart } from './role-target.js'
import type { WorkloadSummary } from '../initiator/workload.js'

/** NVMe/TCP header sizes (CapsuleCmd 72 = 8 + 64-byte SQE; C2HData header 24; CapsuleResp 24). */
const CMD = 72
const C2H = 24
const RESP = 24
const NS_BYTES = 64 << 20

export interface IoCase {
  name: string
  mode: 'read' | 'write'
  /** Bytes per I/O. */
  bytes: number
  qd: number
  queues: number
  sequential: boolean
}

export const IO_CASES: readonly IoCase[] = [
  { name: '4k-randread-qd1', mode: 'read', bytes: 4096, qd: 1, queues: 1, sequential: false },
  { name: '4k-randread-qd32', mode: 'read', bytes: 4096, qd: 32, queues: 1, sequential: false },
  { name: '4k-randread-qd32-4q', mode: 'read', bytes: 4096, qd: 32, queues: 4, sequential: false },
  { name: '4k-randwrite-qd1', mode: 'write', bytes: 4096, qd: 1, queues: 1, sequential: false },
  { name: '4k-randwrite-qd32', mode: 'write', bytes: 4096, qd: 32, queues: 1, sequential: false },
  { name: '4k-randwrite-qd32-4q', mode: 'write', bytes: 4096, qd: 32, queues: 4, sequential: false },
  { name: '128k-seqread-qd8', mode: 'read', bytes: 128 * 1024, qd: 8, queues: 1, sequential: true },
  { name: '128k-seqwrite-qd8', mode: 'write', bytes: 128 * 1024, qd: 8, queues: 1, sequential: true },
]

/** The echo frame sizes that carry the same bytes as one NVMe/TCP I/O of this case (digests off). */
export function echoShape(c: IoCase): { requestBytes: number; responseBytes: number } {
  return c.mode === 'read' ? { requestBytes: CMD, responseBytes: C2H + c.bytes + RESP } : { requestBytes: CMD + c.bytes, responseBytes: RESP }
}

function cpuDelta(a: ProcUsage, b: ProcUsage): number {
  return b.cpuSeconds - a.cpuSeconds
}

const us = (seconds: number, ops: number): number => (ops === 0 ? 0 : Math.round((seconds / ops) * 1e7) / 10)

/** A started pair of echo processes and NVMe processes, reused across the cases. */
export class IoRig {
  readonly echoServer: Worker
  readonly echoClient: Worker
  readonly target: Worker
  readonly initiator: Worker
  echoPort = 0
  targetPorts: number[] = []

  constructor(profileDir: string | undefined) {
    const p = profileDir !== undefined ? { profileDir } : {}
    this.echoServer = new Worker({ role: 'echo-server', ...p })
    this.echoClient = new Worker({ role: 'echo-client', ...p })
    this.target = new Worker({ role: 'target', ...p })
    this.initiator = new Worker({ role: 'initiator', ...p })
  }

  async start(t: TargetStart): Promise<void> {
    this.echoPort = (await this.echoServer.call<{ port: number }>('listen')).port
    this.targetPorts = (await this.target.call<{ ports: number[] }>('start', t)).ports
  }

  async echo(j: Omit<EchoJob, 'port'>): Promise<{ r: EchoResult; serverCpu: number; clientCpu: number }> {
    const s0 = await this.echoServer.usage()
    const c0 = await this.echoClient.usage()
    const r = await this.echoClient.call<EchoResult>('run', { ...j, port: this.echoPort } satisfies EchoJob)
    const c1 = this.echoClient.lastUsage!
    const s1 = await this.echoServer.usage()
    return { r, serverCpu: cpuDelta(s0, s1), clientCpu: cpuDelta(c0, c1) }
  }

  async connect(c: Omit<InitiatorConnect, 'ports'> & { ports?: number[] }): Promise<{ controllers: number; devices: number; connectMs: number }> {
    return this.initiator.call('connect', { ports: this.targetPorts.slice(0, 1), ...c } satisfies InitiatorConnect)
  }

  async nvme(j: InitiatorJob): Promise<{ r: WorkloadSummary; targetCpu: number; initiatorCpu: number; targetRss: number; initiatorRss: number }> {
    const t0 = await this.target.usage()
    const i0 = await this.initiator.usage()
    const r = await this.initiator.call<WorkloadSummary>('workload', j)
    const i1 = this.initiator.lastUsage!
    const t1 = await this.target.usage()
    return { r, targetCpu: cpuDelta(t0, t1), initiatorCpu: cpuDelta(i0, i1), targetRss: t1.maxRss, initiatorRss: i1.maxRss }
  }

  async stop(): Promise<void> {
    await Promise.all([this.echoClient.stop(), this.initiator.stop()])
    await Promise.all([this.echoServer.stop(), this.target.stop()])
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!

export async function runIoMatrix(ctx: BenchContext, cases: readonly IoCase[] = IO_CASES): Promise<BenchRow[]> {
  const rig = new IoRig(ctx.profileDir)
  const rows: BenchRow[] = []
  try {
    await rig.start({ ports: 1, namespaces: 1, nsBytes: NS_BYTES })
    // Reads return data that was written, not a zero-filled buffer for an unwritten chunk (--quick:
    // the first eighth only).
    await rig.connect({ nrIoQueues: 1, queueSize: 128, hdgst: false, ddgst: false, iopolicy: 'numa', timeoutMs: 60_000, disableSqflow: ctx.disableSqflow })
    await rig.initiator.call('prefill', { nsid: 1, bytes: ctx.quick ? NS_BYTES / 8 : NS_BYTES })
    // Warm both processes' JIT before the first measured case (else QD1, measured first, pays for it).
    await rig.initiator.call('workload', { mode: 'read', blockCount: 8, qd: 8, timeMs: Math.min(1000, ctx.caseMs), maxOps: 1_000_000, sequential: false, seed: 99 } satisfies InitiatorJob)
    await rig.echo({ requestBytes: CMD, responseBytes: C2H + 4096 + RESP, qd: 8, queues: 1, timeMs: Math.min(1000, ctx.caseMs), maxOps: 1_000_000 })
    await rig.initiator.call('close')
    for (const c of cases) {
      const perRound: { echo: EchoResult & { cpu: number }; off: BenchRow; on: BenchRow }[] = []
      for (let round = 0; round < ctx.rounds; round++) {
        const { requestBytes, responseBytes } = echoShape(c)
        ctx.step(`${c.name} echo`)
        const e = await rig.echo({ requestBytes, responseBytes, qd: c.qd, queues: c.queues, timeMs: ctx.caseMs, maxOps: 10_000_000 })
        const echoOps = (e.r.ops * 1000) / e.r.elapsedMs
        const runs: BenchRow[] = []
        for (const digest of [false, true]) {
          ctx.step(`${c.name} digests ${digest ? 'on' : 'off'}`)
          await rig.connect({ nrIoQueues: c.queues, queueSize: 128, hdgst: digest, ddgst: digest, iopolicy: 'numa', timeoutMs: 60_000, disableSqflow: ctx.disableSqflow })
          const n = await rig.nvme({ mode: c.mode, blockCount: c.bytes / 512, qd: c.qd, timeMs: ctx.caseMs, maxOps: 10_000_000, sequential: c.sequential, seed: round + 1 })
          await rig.initiator.call('close')
          const iops = (n.r.ops * 1000) / n.r.elapsedMs
          const l = n.r.latency
          runs.push({
            section: 'io',
            name: `${c.name} digests ${digest ? 'on' : 'off'}`,
            value: iops,
            unit: ' IOPS',
            value2: (iops * c.bytes) / 1e6,
            unit2: ' MB/s',
            ratio: iops / echoOps,
            baseline: `echo ${c.name}`,
            load: loadNow(),
            note: `p50 ${l.p50} p99 ${l.p99} p99.9 ${l.p999} ms; CPU/IO tgt ${us(n.targetCpu, n.r.ops)} ini ${us(n.initiatorCpu, n.r.ops)} us${n.r.errors > 0 ? `; ${n.r.errors} errors` : ''}`,
            metrics: {
              ops: n.r.ops,
              errors: n.r.errors,
              p50Ms: l.p50,
              p99Ms: l.p99,
              p999Ms: l.p999,
              p50RatioToEcho: e.r.latency.p50 > 0 ? l.p50 / e.r.latency.p50 : 0,
              targetCpuUsPerIo: us(n.targetCpu, n.r.ops),
              initiatorCpuUsPerIo: us(n.initiatorCpu, n.r.ops),
              targetPeakRss: n.targetRss,
              initiatorPeakRss: n.initiatorRss,
              round,
            },
          })
        }
        perRound.push({ echo: { ...e.r, cpu: e.serverCpu + e.clientCpu }, off: runs[0]!, on: runs[1]! })
        const el = e.r.latency
        rows.push({
          section: 'io',
          name: `echo ${c.name}`,
          value: echoOps,
          unit: ' ops/s',
          value2: (echoOps * c.bytes) / 1e6,
          unit2: ' MB/s',
          load: loadNow(),
          note: `p50 ${el.p50} p99 ${el.p99} p99.9 ${el.p999} ms; CPU/op srv ${us(e.serverCpu, e.r.ops)} cli ${us(e.clientCpu, e.r.ops)} us`,
          metrics: { ops: e.r.ops, p50Ms: el.p50, p99Ms: el.p99, p999Ms: el.p999, serverCpuUsPerOp: us(e.serverCpu, e.r.ops), clientCpuUsPerOp: us(e.clientCpu, e.r.ops), round },
        })
        rows.push(...runs)
      }
      if (ctx.rounds > 1) {
        for (const which of ['off', 'on'] as const) {
          const rs = perRound.map((p) => p[which])
          rows.push({ ...rs[0]!, name: `${c.name} digests ${which} (median of ${ctx.rounds})`, value: median(rs.map((r) => r.value)), value2: median(rs.map((r) => r.value2 ?? 0)), ratio: median(rs.map((r) => r.ratio ?? 0)), note: 'median of the per-round ratios' })
        }
      }
    }
  } finally {
    await rig.stop()
  }
  return rows
}

function chosenCases(ctx: BenchContext): IoCase[] {
  if (ctx.cases === undefined) return [...IO_CASES]
  for (const n of ctx.cases) if (!IO_CASES.some((c) => c.name === n)) throw new Error(`'--cases': no case '${n}' (cases: ${IO_CASES.map((c) => c.name).join(', ')})`)
  return IO_CASES.filter((c) => ctx.cases!.includes(c.name))
}

export const ioSection: BenchSection = { name: 'io', steps: (ctx) => chosenCases(ctx).length * ctx.rounds * 3, run: (ctx) => runIoMatrix(ctx, chosenCases(ctx)) }
