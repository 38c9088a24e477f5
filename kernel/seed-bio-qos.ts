/**
 * `nvmf-fault reproduce seed-bio-qos`: the seed bug ("nvme-multipath: clear BIO_QOS flags on
 * requeue", blktests nvme/058 -> NULL pointer dereference in __rq_qos_done_bio) re-found from a seed.
 *
 * Our target serves the nvme/058 topology (examples/scenarios/nvme-058.target.yaml: 6 ports,
 * 3 namespaces in ANA groups, 64 MiB each); a Linux host boots in QEMU on the given kernel (with
 * `oops=panic panic=-1`: the first oops ends the VM and the console keeps it), connects every path,
 * attaches tracefs kprobes and writes to every namespace (kernel/guest/seed-bio-qos.sh); then the
 * paced remap storm (examples/scenarios/nvme-058-paced.yaml, seeded) runs. One of three outcomes:
 * kernel oops, bug condition reached (QoS-flagged bios failed on the head, seen by the kprobes),
 * clean.
 *
 * `qos` other than `wbt` (the path disks' default writeback throttling) adds cgroup v2 io policies:
 * the writers run in a group with the io controller; iocost (io.cost.qos / io.cost.model) and
 * blk-throttle (io.max) are tried on the multipath heads and on the hidden path disks, blk-throttle
 * stays on every head (re-applied as remapped namespaces come back under new heads); after the storm
 * the guest checks that the state drains (writers end, inflight and wbt inflight back to 0, the
 * cgroup can be removed, no hung task). Anything left is outcome `qos-anomaly` (qosFindings).
 */
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { attachFaults } from '../faults/attach.js'
import { parseScenario } from '../faults/scenario.js'
import { readTargetConfigFile } from '../target/config.js'
import { createTarget } from '../target/index.js'
import { projectFile } from './project-dir.js'
import type { VmImage } from './vm-image.js'
import { freePort, GUEST_HOST_IP, guestScript, startGuest } from './vm.js'
import { parseKprobeTrace, parseOops, qosFindings, qosMaskForRelease, qosMaskFromBlkTypes, type KprobeCounts, type OopsExcerpt, type QosMode } from './seed-bio-qos-parse.js'


export type SeedOutcome = 'kernel-oops' | 'qos-anomaly' | 'bug-condition' | 'clean' | 'error'

/** Exit status per outcome (the worst run decides when there are several). */
export const SEED_EXIT: Readonly<Record<SeedOutcome, number>> = { clean: 0, error: 1, 'kernel-oops': 2, 'bug-condition': 3, 'qos-anomaly': 4 }

/** Outcomes from the worst down: the first present among several runs decides. */
export const SEED_SEVERITY: readonly SeedOutcome[] = ['kernel-oops', 'qos-anomaly', 'bug-condition', 'error', 'clean']

export interface SeedRunResult {
  run: number
  seed: number
  outcome: SeedOutcome
  kernelRelease: string
  oops?: OopsExcerpt
  /** Writers start (guest uptime) to the oops, when both are known. */
  msWritersToOops?: number
  /** Storm start (host clock) to the VM's end, for an oops. */
  msStormToEnd?: number
  kprobes: 'attached' | string
  counts?: KprobeCounts
  qosMask: string
  paths: number
  writeOk: number
  writeErrors: number
  errorKinds: Record<string, number>
  noPathLines: number
  stormRounds: number
  scenarioState: string
  durationMs: number
  note?: string
  /** The cgroup io policies of the run. */
  qosMode: QosMode
  /** The guest's `qos.*` results (what was tried and what it answered, drain checks). */
  qos?: Record<string, string>
  /** What did not drain or got stuck (qosFindings); empty when all is well. */
  qosFindings?: string[]
}

export interface SeedOptions {
  /** The guest image to boot (kernel + initramfs). */
  image: VmImage
  /** BIO_QOS mask; default from the build tree's source or the release. */
  qosMask?: number
  seed: number
  run?: number
  /** Whole-run limit in seconds (default 420). */
  timeoutSec?: number
  /** cgroup io policies besides the paths' writeback throttling (default wbt: none). */
  qos?: QosMode
  /** With a qos mode other than wbt: writeback-throttling latency target of every path disk, µs. */
  wbtLatUsec?: number
  log?: (line: string) => void
  onConsoleLine?: (line: string) => void
}

/** The BIO_QOS mask for an image: from the build tree's blk_types.h, else by release. */
export function qosMaskFor(image: VmImage): number {
  const tree = image.kernelTree
  if (tree !== undefined) {
    const h = join(tree, 'include/linux/blk_types.h')
    if (existsSync(h)) {
      const m = qosMaskFromBlkTypes(readFileSync(h, 'utf8'))
      if (m !== undefined) return m
    }
  }
  return qosMaskForRelease(image.kernelRelease)
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** One run; never throws for what the guest does (a failed boot is outcome `error`). */
export async function runSeedBioQos(opts: SeedOptions): Promise<SeedRunResult> {
  const log = opts.log ?? (() => {})
  const t0 = Date.now()
  const timeoutSec = opts.timeoutSec ?? 420
  const qosMask = opts.qosMask ?? qosMaskFor(opts.image)
  const config = await readTargetConfigFile(projectFile('examples/scenarios/nvme-058.target.yaml'))
  const ports: number[] = []
  for (const p of config.ports) {
    const port = await freePort()
    ports.push(port)
    p.port = port
    p.advertise = { address: GUEST_HOST_IP, port }
  }
  const sub = config.subsystems![0]!
  sub.namespaces = sub.namespaces!.map((n) => ({ ...n, size: '64MiB' }))
  const target = await createTarget(config)
  const faults = await attachFaults(target, { seed: opts.seed })
  const share = mkdtempSync(join(tmpdir(), 'nvmf-fault-seed-'))
  let stormAt: number | undefined
  try {
    const vm = await startGuest({
      script: guestScript('seed-bio-qos.sh'),
      env: {
        SB_SUBNQN: sub.nqn,
        SB_PORTS: ports.join(' '),
        SB_NSIDS: sub.namespaces.map((n) => String(n.nsid)).join(' '),
        SB_QOS_MASK: `0x${qosMask.toString(16)}`,
        SB_FLAGS_OFF: '20',
        SB_MAX_SECS: String(Math.max(30, timeoutSec - 90)),
        SB_QOS: opts.qos ?? 'wbt',
        ...(opts.wbtLatUsec !== undefined ? { SB_WBT_LAT: String(opts.wbtLatUsec) } : {}),
      },
      share,
      image: opts.image,
      timeoutSec,
      cmdlineExtra: 'oops=panic',
      // A loaded machine under TCG: a stock kernel's boot has taken over 2 minutes here.
      bootTimeoutSec: 300,
      memMiB: 1024,
      cpus: 2,
      log,
      ...(opts.onConsoleLine !== undefined ? { onConsoleLine: opts.onConsoleLine } : {}),
    })
    let writersUptimeMs: number | undefined
    const driver = (async () => {
      writersUptimeMs = Number(await vm.waitSignal('writers', (timeoutSec - 30) * 1000))
      log(`writers running (guest uptime ${writersUptimeMs} ms); paced remap storm starts after 6 connected paths + 5 s`)
      const text = readFileSync(projectFile('examples/scenarios/nvme-058-paced.yaml'), 'utf8')
      const run = await faults.controller.startScenario(parseScenario(faults.engine, text, 'nvme-058-paced.yaml'), { seed: opts.seed })
      await run.started
      stormAt = Date.now()
      await Promise.race([run.finished, vm.done])
      log(`storm ${run.state} after ${Math.round((Date.now() - stormAt) / 1000)} s`)
      await Promise.race([sleep(5000), vm.done])
      try {
        vm.share.signal('stop', '')
      } catch {
        // the VM ended (an oops): nothing to stop
      }
    })()
    driver.catch((err: unknown) => {
      log(`driver: ${(err as Error).message}`)
      try {
        vm.share.signal('stop', '')
      } catch {
        // the VM and its share are gone already
      }
    })
    const r = await vm.done
    const endAt = Date.now()
    faults.controller.stopScenario()
    const oops = parseOops(r.console)
    const traceFile = join(share, 'kprobe-trace.txt')
    const counts = existsSync(traceFile) ? parseKprobeTrace(readFileSync(traceFile, 'utf8')) : undefined
    const res = r.results
    const errorKinds: Record<string, number> = {}
    for (const [k, v] of Object.entries(res)) if (k.startsWith('errors.')) errorKinds[k.slice(7)] = Number(v)
    const kprobes = res.kprobes ?? (oops !== undefined ? 'unknown (the VM ended in an oops before the report)' : 'unknown')
    const rounds = faults.engine.trace.events.filter((e) => e.action === 'remap-round').length
    const qos: Record<string, string> = {}
    for (const [k, v] of Object.entries(res)) if (k.startsWith('qos.')) qos[k.slice(4)] = v
    const findings = (opts.qos ?? 'wbt') !== 'wbt' ? qosFindings(res) : []
    let outcome: SeedOutcome
    if (oops !== undefined) outcome = 'kernel-oops'
    else if (findings.length > 0) outcome = 'qos-anomaly'
    else if (r.rc !== 0 && counts === undefined) outcome = 'error'
    else if ((counts?.flaggedFailedOnHead ?? 0) > 0) outcome = 'bug-condition'
    else outcome = 'clean'
    const out: SeedRunResult = {
      run: opts.run ?? 1,
      seed: opts.seed,
      outcome,
      kernelRelease: r.kernelVersion || opts.image.kernelRelease,
      kprobes,
      qosMask: `0x${qosMask.toString(16)}`,
      paths: Number(res.paths ?? 0),
      writeOk: Number(res.write_ok ?? 0),
      writeErrors: Number(res.write_errors ?? 0),
      errorKinds,
      noPathLines: Number(res.no_path_lines ?? (r.console.match(/no available path - failing I\/O/g) ?? []).length),
      stormRounds: rounds,
      scenarioState: faults.controller.scenarioInfo()?.state ?? 'none',
      durationMs: Date.now() - t0,
      qosMode: opts.qos ?? 'wbt',
    }
    if (Object.keys(qos).length > 0) {
      out.qos = qos
      out.qosFindings = findings
    }
    if (counts !== undefined) out.counts = counts
    if (oops !== undefined) {
      out.oops = oops
      if (oops.uptimeSec !== undefined && writersUptimeMs !== undefined) out.msWritersToOops = Math.round(oops.uptimeSec * 1000 - writersUptimeMs)
      if (stormAt !== undefined) out.msStormToEnd = endAt - stormAt
    }
    if (outcome === 'error') out.note = `guest rc ${r.rc}${r.timedOut ? ' (timed out)' : ''}; console tail: ${r.console.split('\n').slice(-15).join(' | ')}`
    return out
  } finally {
    await faults.close()
    await target.close()
    rmSync(share, { recursive: true, force: true })
  }
}
