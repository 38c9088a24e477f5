/**
 * Remap storm (blktests nvme/058's step, paced): the target disables a namespace, gives it a new
 * UUID and enables it again, `rate` times a second, while our initiator runs 4 KiB random reads and
 * writes. Two rows:
 *
 * - I/O on a namespace outside the storm (the storm's AENs and rescans still go through the same
 *   controller): the ordinary workload on one device; every failure counts (the issue's "zero failed
 *   I/O on our initiator").
 * - I/O on the namespaces being remapped: each remap gives the NSID a new identity, so our host
 *   (like Linux) removes the old device and creates a new one; I/O addressed to the old device fails
 *   by design. The probe (bench/remap-probe.ts) reopens the device for every I/O and reports apart
 *   the I/Os that completed, those that failed because their device's identity went away under
 *   them (expected), and those that failed otherwise (which should be none).
 *
 * Reports the remaps/s achieved (ratio to the rate aimed at) and the I/Os.
 */
import type { BenchContext, BenchRow, BenchSection } from './harness.js'
import { loadNow } from './harness.js'
import { IoRig } from './io-matrix.js'
import type { RemapProbeResult } from './remap-probe.js'
import type { WorkloadSummary } from '../initiator/workload.js'

const STORM_NSIDS = [2, 3, 4, 5]

interface StormResult {
  remaps: number
  failures: number
  firstError?: string
  elapsedMs: number
}

export async function runRemapStorm(ctx: BenchContext): Promise<BenchRow[]> {
  const rig = new IoRig(ctx.profileDir)
  const rows: BenchRow[] = []
  const rate = 1000
  const durationMs = Math.max(1000, ctx.caseMs * 2)
  const storm = (): Promise<StormResult> => rig.target.call<StormResult>('remapStorm', { nsids: STORM_NSIDS, rate, durationMs, seed: 58 })
  const refused = (s: StormResult): string => (s.failures > 0 ? `; ${s.failures} remaps refused (${s.firstError ?? ''})` : '')
  const common = (s: StormResult) => {
    const achieved = (s.remaps * 1000) / s.elapsedMs
    return { section: 'remap', value: achieved, unit: ' remaps/s', ratio: achieved / rate, baseline: `the ${rate}/s aimed at` }
  }
  const connect = () => rig.connect({ nrIoQueues: 2, queueSize: 128, hdgst: false, ddgst: false, iopolicy: 'numa', timeoutMs: 60_000 })
  try {
    await rig.start({ ports: 1, namespaces: 5, nsBytes: 16 << 20 })

    ctx.step('remap storm: I/O outside the storm')
    await connect()
    const io = rig.initiator.call<WorkloadSummary>('workload', { mode: 'randrw', blockCount: 8, qd: 8, timeMs: durationMs, maxOps: 10_000_000, sequential: false, nsids: [1], seed: 7 })
    const s1 = await storm()
    const w = await io.catch((e: unknown) => ({ ops: 0, errors: -1, firstError: (e as Error).message }) as unknown as WorkloadSummary)
    await rig.initiator.call('close')
    rows.push({
      ...common(s1),
      name: `remap storm at ${rate}/s, I/O outside the storm (ns 1)`,
      value2: w.ops,
      unit2: ' I/Os',
      load: loadNow(),
      note: `${w.errors} I/Os failed${w.firstError !== undefined ? ` (first: ${w.firstError.slice(0, 80)})` : ''}${refused(s1)}`,
      metrics: { remaps: s1.remaps, remapFailures: s1.failures, ios: w.ops, failedIos: w.errors, elapsedMs: Math.round(s1.elapsedMs) },
    })

    ctx.step('remap storm: I/O on the remapped namespaces')
    await connect()
    const probe = rig.initiator.call<RemapProbeResult>('remapProbe', { nsids: STORM_NSIDS, qd: 2, blockCount: 8, timeMs: durationMs, maxOps: 10_000_000, seed: 7 })
    const s2 = await storm()
    const p = await probe.catch((e: unknown) => ({ ops: 0, completed: 0, namespaceGone: 0, otherErrors: -1, firstOtherError: (e as Error).message, noDeviceWaits: 0, devicesUsed: 0, elapsedMs: 0 }) satisfies RemapProbeResult)
    await rig.initiator.call('close')
    rows.push({
      ...common(s2),
      name: `remap storm at ${rate}/s, I/O on the remapped namespaces (device reopened per I/O)`,
      value2: p.completed,
      unit2: ' I/Os done',
      load: loadNow(),
      note:
        `${p.otherErrors} I/Os failed otherwise${p.firstOtherError !== undefined ? ` (first: ${p.firstOtherError.slice(0, 80)})` : ''}; ` +
        `${p.namespaceGone} ended with their namespace's old identity (expected: device removed by the remap); ${p.devicesUsed} identities served I/O${refused(s2)}`,
      metrics: {
        remaps: s2.remaps,
        remapFailures: s2.failures,
        ios: p.ops,
        completedIos: p.completed,
        namespaceGoneIos: p.namespaceGone,
        failedIos: p.otherErrors,
        noDeviceWaits: p.noDeviceWaits,
        devicesUsed: p.devicesUsed,
        elapsedMs: Math.round(s2.elapsedMs),
      },
    })
  } finally {
    await rig.stop()
  }
  return rows
}

export const remapSection: BenchSection = { name: 'remap', steps: () => 2, run: runRemapStorm }
