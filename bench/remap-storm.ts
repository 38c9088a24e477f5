/**
 * Remap storm (blktests nvme/058's step, paced): the target disables a namespace, gives it a new
 * UUID and enables it again, `rate` times a second, while our initiator runs 4 KiB random reads and
 * writes. Two rows: I/O on a namespace outside the storm (the storm's AENs and rescans still go
 * through the same controller), and I/O on the namespaces being remapped (the host sees each one
 * vanish and come back with new identifiers). Reports the remaps/s achieved and the I/Os that failed.
 */
import type { BenchContext, BenchRow, BenchSection } from './harness.js'
import { loadNow } from './harness.js'
import { IoRig } from './io-matrix.js'
import type { WorkloadSummary } from '../initiator/workload.js'

const STORM_NSIDS = [2, 3, 4, 5]

export async function runRemapStorm(ctx: BenchContext): Promise<BenchRow[]> {
  const rig = new IoRig(ctx.profileDir)
  const rows: BenchRow[] = []
  const rate = 1000
  const durationMs = Math.max(1000, ctx.caseMs * 2)
  try {
    await rig.start({ ports: 1, namespaces: 5, nsBytes: 16 << 20 })
    for (const [label, nsids] of [
      ['I/O outside the storm (ns 1)', [1]],
      ['I/O on the remapped namespaces', STORM_NSIDS],
    ] as const) {
      ctx.step(`remap storm: ${label}`)
      await rig.connect({ nrIoQueues: 2, queueSize: 128, hdgst: false, ddgst: false, iopolicy: 'numa', timeoutMs: 60_000 })
      const io = rig.initiator.call<WorkloadSummary>('workload', { mode: 'randrw', blockCount: 8, qd: 8, timeMs: durationMs, maxOps: 10_000_000, sequential: false, nsids: [...nsids], seed: 7 })
      const storm = await rig.target.call<{ remaps: number; failures: number; firstError?: string; elapsedMs: number }>('remapStorm', { nsids: STORM_NSIDS, rate, durationMs, seed: 58 })
      const w = await io.catch((e: unknown) => ({ ops: 0, errors: -1, firstError: (e as Error).message }) as unknown as WorkloadSummary)
      await rig.initiator.call('close')
      const achieved = (storm.remaps * 1000) / storm.elapsedMs
      rows.push({
        section: 'remap',
        name: `remap storm at ${rate}/s, ${label}`,
        value: achieved,
        unit: ' remaps/s',
        value2: w.ops,
        unit2: ' I/Os',
        ratio: achieved / rate,
        baseline: `the ${rate}/s aimed at`,
        load: loadNow(),
        note: `${w.errors} I/Os failed${w.firstError !== undefined ? ` (first: ${w.firstError.slice(0, 80)})` : ''}${storm.failures > 0 ? `; ${storm.failures} remaps refused (${storm.firstError ?? ''})` : ''}`,
        metrics: { remaps: storm.remaps, remapFailures: storm.failures, ios: w.ops, failedIos: w.errors, elapsedMs: Math.round(storm.elapsedMs) },
      })
    }
  } finally {
    await rig.stop()
  }
  return rows
}

export const remapSection: BenchSection = { name: 'remap', steps: () => 2, run: runRemapStorm }
