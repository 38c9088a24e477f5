/**
 * Scale: one target process with 1024 namespaces, 64 controllers × 4 I/O queues × QD128 from one
 * initiator process (`--quick`: 128 namespaces, 8 controllers). Reports the time to connect them all
 * (bounded), memory per namespace and per connection on both sides (live heap + Buffers after a
 * full GC, as differences), and a short 4 KiB random read burst over every namespace at the full
 * queue depth (bench/scale-burst.ts: the first wave is left out of the figures; bounded by time,
 * but every worker finishes the I/O it started).
 */
import type { BenchContext, BenchRow, BenchSection } from './harness.js'
import { loadNow } from './harness.js'
import { IoRig } from './io-matrix.js'
import type { SettledMemory } from './rpc.js'
import type { ScaleBurstJob, ScaleBurstResult } from './scale-burst.js'

const KiB = 1024

/**
 * Live memory added between two settled samples: JS heap plus memory outside it (Buffers). RSS is
 * reported beside it, but RSS does not shrink when a GC frees pages, so its differences can even be
 * negative.
 */
const live = (b: SettledMemory, a: SettledMemory): number => b.heapUsed + b.external - (a.heapUsed + a.external)

export async function runScale(ctx: BenchContext): Promise<BenchRow[]> {
  const namespaces = ctx.quick ? 128 : 1024
  const controllers = ctx.quick ? 8 : 64
  const queues = 4
  const qd = 128
  const rig = new IoRig(ctx.profileDir)
  const rows: BenchRow[] = []
  const row = (name: string, value: number, unit: string, note: string, metrics: BenchRow['metrics'] = {}): void => {
    rows.push({ section: 'scale', name, value, unit, load: loadNow(), note, metrics })
  }
  try {
    ctx.step('scale: namespaces')
    await rig.start({ ports: 1, namespaces: 1, nsBytes: 1 << 20, connectionsPerPort: 4096 })
    const t0 = await rig.target.call<SettledMemory>('memory')
    const addStart = performance.now()
    await rig.target.call('addNamespaces', { from: 2, count: namespaces - 1, nsBytes: 1 << 20 })
    const addMs = performance.now() - addStart
    const t1 = await rig.target.call<SettledMemory>('memory')
    row(`target memory per namespace (${namespaces})`, live(t1, t0) / (namespaces - 1) / KiB, ' KiB', `RSS ${((t1.rss - t0.rss) / (namespaces - 1) / KiB).toFixed(1)} KiB; added in ${(addMs / 1000).toFixed(2)} s`, { rssBytes: t1.rss, heapUsed: t1.heapUsed })

    ctx.step('scale: connect')
    const i0 = await rig.initiator.call<SettledMemory>('memory')
    const budgetMs = ctx.quick ? 120_000 : 600_000
    const c = await rig.connect({ controllersPerPort: controllers, nrIoQueues: queues, queueSize: qd, hdgst: false, ddgst: false, iopolicy: 'round-robin', timeoutMs: budgetMs }).catch((e: unknown) => e as Error)
    if (c instanceof Error) {
      row(`connect ${controllers} controllers x ${queues} queues`, 0, ' s', `failed: ${c.message.slice(0, 160)}`)
      return rows
    }
    const t2 = await rig.target.call<SettledMemory>('memory')
    const i1 = await rig.initiator.call<SettledMemory>('memory')
    const conns = controllers * (queues + 1)
    row(`connect ${controllers} controllers x ${queues} queues x QD${qd}, ${namespaces} namespaces`, c.connectMs / 1000, ' s', `${c.controllers} controllers, ${c.devices} devices, ${conns} TCP connections`, { controllers: c.controllers, devices: c.devices, connectMs: Math.round(c.connectMs) })
    row('target memory per connection', live(t2, t1) / conns / KiB, ' KiB', `per controller ${(live(t2, t1) / controllers / KiB).toFixed(0)} KiB (admin + ${queues} I/O queues); RSS ${((t2.rss - t1.rss) / conns / KiB).toFixed(1)} KiB`, { rssBytes: t2.rss })
    row('initiator memory per connection', live(i1, i0) / conns / KiB, ' KiB', `per controller ${(live(i1, i0) / controllers / KiB).toFixed(0)} KiB, including ${namespaces} paths each; RSS ${((i1.rss - i0.rss) / conns / KiB).toFixed(1)} KiB`, { rssBytes: i1.rss })

    ctx.step('scale: I/O burst')
    const perDevice = Math.max(1, Math.floor((controllers * queues * qd) / namespaces))
    const nsids = Array.from({ length: namespaces }, (_, i) => i + 1)
    const tb = await rig.target.usage()
    const ib = await rig.initiator.usage()
    const w = await rig.initiator.call<ScaleBurstResult>('scaleBurst', { nsids, qd: perDevice, blockCount: 8, warmMs: 500, maxWarmMs: 120_000, timeMs: Math.max(1000, ctx.caseMs), seed: 3 } satisfies ScaleBurstJob)
    const ie = rig.initiator.lastUsage!
    const tEnd = await rig.target.usage()
    // CPU over the whole burst (warm-up included) per read completed in it is not comparable to the
    // io section's figures; the rate and latency are those of the measured window only.
    row(
      `4k random read over ${namespaces} namespaces, ${perDevice * namespaces} outstanding`,
      w.iops,
      ' IOPS',
      `p50 ${w.latency.p50} p99 ${w.latency.p99} ms over ${(w.measuredMs / 1000).toFixed(1)} s; ${w.errors} failed${w.firstError !== undefined ? ` (first: ${w.firstError.slice(0, 60)})` : ''}; ${w.devicesServed} devices served; first wave ${(w.firstWaveMs / 1000).toFixed(1)} s; target peak RSS ${(tEnd.maxRss / (1 << 20)).toFixed(0)} MiB`,
      { ops: w.ops, errors: w.errors, p50Ms: w.latency.p50, p99Ms: w.latency.p99, devicesServed: w.devicesServed, firstWaveMs: w.firstWaveMs, measuredMs: w.measuredMs, targetPeakRss: tEnd.maxRss, initiatorPeakRss: ie.maxRss, targetCpuSeconds: Math.round((tEnd.cpuSeconds - tb.cpuSeconds) * 100) / 100, initiatorCpuSeconds: Math.round((ie.cpuSeconds - ib.cpuSeconds) * 100) / 100 },
    )
  } finally {
    await rig.stop()
  }
  return rows
}

export const scaleSection: BenchSection = { name: 'scale', steps: () => 3, run: runScale }
