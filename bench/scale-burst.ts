/**
 * The scale run's I/O burst, in the initiator's process (bench/scale.ts): 4 KiB random reads on
 * every device at once, `qd` outstanding per device, with one latency histogram for all of them.
 *
 * Not `runDeviceWorkload` per device: that keeps a full-range HDR histogram per device (about
 * 270 KiB each, so 1024 devices cost hundreds of MiB and their GC), and measures from the first
 * submission, so a short run mostly timed the first wave of tens of thousands of commands queued at
 * once. Here the first `warmMs` (at least until every worker has completed one I/O, bounded by
 * `maxWarmMs`) is left out, and the figures cover the `timeMs` after it. Every worker finishes the
 * I/O it started; nothing runs past `warmMs + timeMs` plus one I/O.
 */
import type { NvmeHost } from '../initiator/index.js'
import { summarize, type LatencySummary } from '../initiator/qos/latency-tracker.js'
import { seededRandom } from '../lib/clock.js'
import * as hdr from 'hdr-histogram-js'

export interface ScaleBurstJob {
  nsids: number[]
  /** Outstanding reads per device. */
  qd: number
  blockCount: number
  /** Left out of the figures: the first wave (all workers' first I/O) plus this much. */
  warmMs: number
  /** Bound on the warm-up while waiting for every worker's first completion. */
  maxWarmMs: number
  timeMs: number
  seed: number
}

export interface ScaleBurstResult {
  /** Reads completed inside the measured window (issued before or in it). */
  ops: number
  errors: number
  firstError?: string
  iops: number
  latency: LatencySummary
  /** Devices that completed at least one read in the window (all of them, when nothing starves). */
  devicesServed: number
  /** How long the first wave took to complete (every worker's first read), ms. */
  firstWaveMs: number
  measuredMs: number
}

export async function runScaleBurst(host: NvmeHost, subnqn: string, j: ScaleBurstJob): Promise<ScaleBurstResult> {
  const devices = j.nsids.map((nsid) => {
    const d = host.device(nsid, subnqn)
    if (d === undefined) throw new Error(`no device for namespace ${nsid}`)
    return d
  })
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
  const workers = devices.length * j.qd
  const start = performance.now()
  let firstDone = 0
  let firstWaveMs = 0
  // The measured window opens once every worker completed a read and warmMs passed (or at maxWarmMs).
  let windowStart = Infinity
  let windowEnd = Infinity
  const open = (now: number): void => {
    windowStart = now
    windowEnd = now + j.timeMs
  }
  const warmTimer = setTimeout(() => {
    if (windowStart === Infinity) open(performance.now())
  }, j.maxWarmMs)
  const served = new Set<number>()
  let ops = 0
  let errors = 0
  let firstError: string | undefined
  const worker = async (di: number, seed: number): Promise<void> => {
    const d = devices[di]!
    const random = seededRandom(seed)
    const slots = Math.max(1, Math.min(Number(d.head.nsze) / j.blockCount, 2 ** 31))
    let first = true
    for (;;) {
      const t0 = performance.now()
      if (t0 >= windowEnd) return
      let failure: unknown
      try {
        await d.read(random.int(slots) * j.blockCount, j.blockCount)
      } catch (e) {
        failure = e ?? new Error('read failed')
      }
      // Completions inside the window count (whenever they were issued): at this depth one read
      // can take longer than the window.
      const t1 = performance.now()
      if (t1 >= windowStart && t1 <= windowEnd) {
        if (failure === undefined) {
          ops++
          served.add(di)
          h.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)))
        } else {
          errors++
          firstError ??= (failure as Error).message
        }
      }
      if (first) {
        first = false
        if (++firstDone === workers) {
          firstWaveMs = t1 - start
          if (windowStart === Infinity) {
            const at = Math.max(t1, start + j.warmMs)
            if (at <= t1) open(t1)
            else setTimeout(() => windowStart === Infinity && open(performance.now()), at - t1)
          }
        }
      }
    }
  }
  try {
    await Promise.all(devices.flatMap((_, di) => Array.from({ length: j.qd }, (_, k) => worker(di, j.seed + di * 1000 + k))))
  } finally {
    clearTimeout(warmTimer)
  }
  const measuredMs = Math.max(1, Math.min(performance.now(), windowEnd) - windowStart)
  return {
    ops,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    iops: Math.round((ops * 1000) / measuredMs),
    latency: summarize(h),
    devicesServed: served.size,
    firstWaveMs: Math.round(firstWaveMs),
    measuredMs: Math.round(measuredMs),
  }
}
