/**
 * Failover, two ways, over two paths (two target ports, one controller each) of one namespace:
 *
 * - path error: the target completes every Nth I/O command on port 1 with Controller Pathing Error
 *   (SCT 3h, SC 60h); our initiator retries it on the other path. Latency of each such I/O, issue to
 *   completion (QD1, so the failover counter tells which I/O failed over).
 * - ANA change: port 1 optimized and port 2 non-optimized; the target makes port 1 inaccessible and
 *   port 2 optimized (each change raises the ANA-change AEN on that port's controllers); the time
 *   from that change to the first I/O completed on port 2, across processes on one machine
 *   (performance.timeOrigin-based clocks). Repeated, flipping back and forth.
 *
 * The baseline is the same-run echo round trip at QD1 with the 4 KiB read shape.
 */
import type { BenchContext, BenchRow, BenchSection } from './harness.js'
import { loadNow } from './harness.js'
import { echoShape, IO_CASES, IoRig } from './io-matrix.js'
import type { ProbeResult } from './role-initiator.js'
import { summarize } from '../initiator/qos/latency-tracker.js'
import * as hdr from 'hdr-histogram-js'

export async function runFailover(ctx: BenchContext): Promise<BenchRow[]> {
  const rig = new IoRig(ctx.profileDir)
  const rows: BenchRow[] = []
  try {
    await rig.start({ ports: 2, namespaces: 1, nsBytes: 16 << 20, anaStates: ['optimized', 'non-optimized'] })
    const [p1, p2] = rig.targetPorts as [number, number]
    ctx.step('failover echo baseline')
    const qd1 = IO_CASES.find((c) => c.name === '4k-randread-qd1')!
    const e = await rig.echo({ ...echoShape(qd1), qd: 1, queues: 1, timeMs: ctx.caseMs, maxOps: 1_000_000 })
    rows.push({ section: 'failover', name: 'echo round trip (4k read shape, QD1)', value: e.r.latency.p50, unit: ' ms p50', value2: e.r.latency.p99, unit2: ' ms p99', load: loadNow() })

    ctx.step('failover on path error')
    await rig.connect({ ports: [p1, p2], nrIoQueues: 1, queueSize: 128, hdgst: false, ddgst: false, iopolicy: 'round-robin', timeoutMs: 60_000 })
    await rig.target.call('injectPathErrors', { portId: 1, everyN: 5 })
    const f = await rig.initiator.call<ProbeResult & { ios: number }>('failoverProbe', { timeMs: ctx.caseMs * 2, maxOps: 100_000, blockCount: 8 })
    await rig.target.call('injectPathErrors', { portId: 0, everyN: 0 })
    await rig.initiator.call('close')
    rows.push({
      section: 'failover',
      name: 'path error -> completion on the other path',
      value: f.latency.p50,
      unit: ' ms p50',
      value2: f.latency.p99,
      unit2: ' ms p99',
      ratio: e.r.latency.p50 > 0 ? f.latency.p50 / e.r.latency.p50 : 0,
      baseline: 'echo round trip (p50 over p50)',
      load: loadNow(),
      note: `${f.samples} failovers in ${f.ios} I/Os, ${f.errors} failed; first path p50/p99 ${f.legs?.firstPath.p50}/${f.legs?.firstPath.p99}, after failover ${f.legs?.afterFailover.p50}/${f.legs?.afterFailover.p99} ms; echo p99 ${e.r.latency.p99} ms`,
      metrics: {
        samples: f.samples,
        ios: f.ios,
        errors: f.errors,
        p50Ms: f.latency.p50,
        p99Ms: f.latency.p99,
        p999Ms: f.latency.p999,
        maxMs: f.latency.max,
        p99RatioToEchoP99: e.r.latency.p99 > 0 ? f.latency.p99 / e.r.latency.p99 : 0,
        ...(f.legs !== undefined ? { firstPathP50Ms: f.legs.firstPath.p50, firstPathP99Ms: f.legs.firstPath.p99, afterFailoverP50Ms: f.legs.afterFailover.p50, afterFailoverP99Ms: f.legs.afterFailover.p99 } : {}),
      },
    })

    ctx.step('failover on ANA change')
    await rig.connect({ ports: [p1, p2], nrIoQueues: 1, queueSize: 128, hdgst: false, ddgst: false, iopolicy: 'numa', timeoutMs: 60_000 })
    const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
    const flips = ctx.quick ? 4 : 20
    let errors = 0
    // Port 1 starts optimized; each flip makes the other port the optimized one.
    for (let i = 0; i < flips; i++) {
      const [from, to, toPort] = i % 2 === 0 ? [1, 2, p2] : [2, 1, p1]
      const waiting = rig.initiator.call<{ at: number; errors: number }>('awaitPath', { port: toPort, timeoutMs: 30_000, blockCount: 8 })
      // Let the probe loop start on the old path before the change.
      await new Promise((r) => setTimeout(r, 20))
      const { at } = await rig.target.call<{ at: number }>('setAna', { portId: from, state: 'inaccessible' })
      await rig.target.call('setAna', { portId: to, state: 'optimized' })
      const got = await waiting
      errors += got.errors
      h.recordValue(Math.max(1, Math.round((got.at - at) * 1000)))
      await rig.target.call('setAna', { portId: from, state: 'non-optimized' })
    }
    await rig.initiator.call('close')
    const a = summarize(h)
    rows.push({
      section: 'failover',
      name: 'ANA change AEN -> first I/O on the new path',
      value: a.p50,
      unit: ' ms p50',
      value2: a.p99,
      unit2: ' ms p99',
      load: loadNow(),
      note: `${flips} changes, ${errors} I/Os failed`,
      metrics: { samples: a.count, errors, p50Ms: a.p50, p99Ms: a.p99, maxMs: a.max },
    })
  } finally {
    await rig.stop()
  }
  return rows
}

export const failoverSection: BenchSection = { name: 'failover', steps: () => 3, run: runFailover }
