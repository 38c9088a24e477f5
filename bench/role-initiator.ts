/**
 * Our initiator, in its own process: connects one controller per target port (the paths of one
 * multipath device per namespace) and runs what the benches ask for: the fio-like workload, a QD1
 * failover probe, an ANA switch probe, and the scale run over every namespace.
 */
import { NvmeHost } from '../initiator/index.js'
import type { NvmeDevice } from '../initiator/device.js'
import type { HostController } from '../initiator/controller.js'
import type { IoPolicy } from '../initiator/path-selector.js'
import { runDeviceWorkload, type WorkloadMode, type WorkloadSummary } from '../initiator/workload.js'
import { summarize, type LatencySummary } from '../initiator/qos/latency-tracker.js'
import { seededRandom, systemClock } from '../lib/clock.js'
import * as hdr from 'hdr-histogram-js'
import type { Handlers } from './rpc.js'
import { BENCH_NQN } from './role-target.js'
import diagnosticsChannel from 'node:diagnostics_channel'
import { CHANNELS } from '../initiator/events.js'
import { runRemapProbe, type RemapProbeJob } from './remap-probe.js'
import { runScaleBurst, type ScaleBurstJob } from './scale-burst.js'

export interface InitiatorConnect {
  ports: number[]
  /** Controllers per port (the scale bench opens many). */
  controllersPerPort?: number
  nrIoQueues: number
  queueSize: number
  hdgst: boolean
  ddgst: boolean
  iopolicy: IoPolicy
  /** Bound on the whole connect phase (ms). */
  timeoutMs: number
  /** Connect with SQ flow control disabled (`npm run bench -- --disable-sqflow`). */
  disableSqflow?: boolean
}

export interface InitiatorJob {
  mode: WorkloadMode
  blockCount: number
  /** Outstanding I/Os per device. */
  qd: number
  timeMs: number
  maxOps: number
  sequential: boolean
  /** Namespaces to run on (default [1]); the scale run passes all of them. */
  nsids?: number[]
  spanBlocks?: number
  seed: number
}

export interface ProbeResult {
  samples: number
  latency: LatencySummary
  /** Of a failed-over I/O: issue → the failover (first path's answer), and failover → completion. */
  legs?: { firstPath: LatencySummary; afterFailover: LatencySummary }
  errors: number
  firstError?: string
}

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
}

const now = (): number => performance.timeOrigin + performance.now()

export function initiatorHandlers(): Handlers {
  let host: NvmeHost | undefined
  const controllers: HostController[] = []
  const device = (nsid: number): NvmeDevice => {
    const d = host?.device(nsid, BENCH_NQN)
    if (d === undefined) throw new Error(`no device for namespace ${nsid}`)
    return d
  }
  return {
    connect: async (o: InitiatorConnect) => {
      host = new NvmeHost({ iopolicy: o.iopolicy, qos: { writeThrottle: false, latency: false } })
      const t0 = performance.now()
      const deadline = t0 + o.timeoutMs
      for (let round = 0; round < (o.controllersPerPort ?? 1); round++) {
        for (const port of o.ports) {
          if (performance.now() > deadline) throw new Error(`connect phase exceeded ${o.timeoutMs} ms after ${controllers.length} controllers`)
          controllers.push(await host.connect({ traddr: '127.0.0.1', trsvcid: port, subnqn: BENCH_NQN, nrIoQueues: o.nrIoQueues, queueSize: o.queueSize, hdgst: o.hdgst, ddgst: o.ddgst, kato: 0, disableSqflow: o.disableSqflow === true }))
        }
      }
      return { controllers: controllers.length, devices: host.devices(BENCH_NQN).length, connectMs: performance.now() - t0 }
    },
    /** Write the first `bytes` of a namespace sequentially (reads then return real data, not zero-fill). */
    prefill: async (o: { nsid: number; bytes: number }) => {
      const d = device(o.nsid)
      const chunk = Buffer.alloc(128 * 1024, 0xa5)
      for (let off = 0; off < o.bytes; off += chunk.length) await d.write(off / d.blockSize, chunk)
      return {}
    },
    workload: async (j: InitiatorJob): Promise<WorkloadSummary & { ops: number }> => {
      const devs = (j.nsids ?? [1]).map(device)
      const sums = await Promise.all(
        devs.map((d, i) =>
          runDeviceWorkload(d, {
            mode: j.mode,
            blockCount: j.blockCount,
            qd: j.qd,
            timeMs: j.timeMs,
            count: j.maxOps,
            sequential: j.sequential,
            ...(j.spanBlocks !== undefined ? { spanBlocks: j.spanBlocks } : {}),
            clock: systemClock,
            random: seededRandom(j.seed + i),
          }),
        ),
      )
      if (sums.length === 1) return sums[0]!
      // Several devices (the scale run): sum the counts; latency is the first device's (a sample).
      const total = sums.reduce((a, s) => ({ ...a, ops: a.ops + s.ops, reads: a.reads + s.reads, writes: a.writes + s.writes, errors: a.errors + s.errors, iops: a.iops + s.iops, mbps: a.mbps + s.mbps }))
      return total
    },
    /**
     * QD1 reads for `timeMs` while the target fails every Nth command on one path: the latency of each
     * I/O that failed over (head failover counter moved during it) is recorded.
     */
    failoverProbe: async (o: { timeMs: number; maxOps: number; blockCount: number }): Promise<ProbeResult & { ios: number }> => {
      const d = device(1)
      const h = histogram()
      const first = histogram()
      const after = histogram()
      let ios = 0
      let errors = 0
      let firstError: string | undefined
      // When the I/O failed over (the head publishes it as the first path's answer is handled).
      let failedAt = 0
      const onFailover = (): void => {
        failedAt = performance.now()
      }
      diagnosticsChannel.subscribe(CHANNELS.failover, onFailover)
      const end = performance.now() + o.timeMs
      const us = (ms: number): number => Math.max(1, Math.round(ms * 1000))
      try {
        while (performance.now() < end && ios < o.maxOps) {
          const f0 = d.head.counters.failovers
          const t0 = performance.now()
          try {
            await d.read(ios % 1024, o.blockCount)
          } catch (e) {
            errors++
            firstError ??= (e as Error).message
          }
          ios++
          if (d.head.counters.failovers !== f0) {
            const t1 = performance.now()
            h.recordValue(us(t1 - t0))
            first.recordValue(us(failedAt - t0))
            after.recordValue(us(t1 - failedAt))
          }
        }
      } finally {
        diagnosticsChannel.unsubscribe(CHANNELS.failover, onFailover)
      }
      return { ios, samples: h.totalCount, latency: summarize(h), legs: { firstPath: summarize(first), afterFailover: summarize(after) }, errors, ...(firstError !== undefined ? { firstError } : {}) }
    },
    /**
     * QD1 reads until one completes on the path through `port`; returns when (absolute ms). The
     * parent starts this, then changes ANA states on the target.
     */
    awaitPath: async (o: { port: number; timeoutMs: number; blockCount: number }) => {
      const d = device(1)
      const path = d.head.paths.find((p) => (p.backend as unknown as HostController).options.trsvcid === o.port)
      if (path === undefined) throw new Error(`no path through port ${o.port}`)
      const base = path.counters.completed
      const end = performance.now() + o.timeoutMs
      let errors = 0
      for (let i = 0; performance.now() < end; i++) {
        await d.read(i % 1024, o.blockCount).catch(() => errors++)
        if (path.counters.completed !== base) return { at: now(), errors }
      }
      throw new Error(`no I/O completed on port ${o.port} within ${o.timeoutMs} ms`)
    },
    /** I/O on namespaces being remapped, reopening the device per I/O (bench/remap-probe.ts). */
    remapProbe: (j: RemapProbeJob) => {
      if (host === undefined) throw new Error('not connected')
      return runRemapProbe(host, BENCH_NQN, j)
    },
    /** The scale run's reads over every device, one histogram (bench/scale-burst.ts). */
    scaleBurst: (j: ScaleBurstJob) => {
      if (host === undefined) throw new Error('not connected')
      return runScaleBurst(host, BENCH_NQN, j)
    },
    close: async () => {
      await host?.close()
      host = undefined
      controllers.length = 0
      return {}
    },
  }
}
