/**
 * `nvmf-fault kernel build` (kernel/build.ts) and `nvmf-fault reproduce seed-bio-qos`
 * (kernel/seed-bio-qos.ts). Neither is part of `npm test`: a build takes an hour on 2 cores, a run
 * boots QEMU.
 */
import { Command, InvalidArgumentError as CommanderArgError } from 'commander'
import { buildKernel, PATCH_SETS } from './build.js'
import { runSeedBioQos, SEED_EXIT, SEED_SEVERITY, type SeedRunResult } from './seed-bio-qos.js'
import { QOS_MODES, type QosMode } from './seed-bio-qos-parse.js'
import { parseKernelSpec, type KernelSpec } from './kernel-spec.js'
import { ensureVmImage, type VmImage } from './vm-image.js'

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = /^\d+$/.test(v) ? Number(v) : Number.NaN
    if (!Number.isInteger(n) || n < min || n > max) throw new CommanderArgError(`${name} must be an integer in [${min}, ${max}], got "${v}"`)
    return n
  }
}

const err = (l: string): void => {
  process.stderr.write(`${l}\n`)
}

/**
 * The guest image for `--kernel`: the one kernel-spec parser (kernel/kernel-spec.ts) and the image
 * path the interop matrix uses, so every matrix spec (default, 6.12, bpo-latest, a package, .debs, a
 * build tree) works here too, plus build:SOURCE[+PATCH] and image:DIR.
 */
export async function resolveKernel(text: string, log: (l: string) => void): Promise<VmImage> {
  let spec: KernelSpec
  try {
    spec = parseKernelSpec(text)
  } catch (e) {
    throw new CommanderArgError(`--kernel: ${e instanceof Error ? e.message : String(e)}`)
  }
  return ensureVmImage({ kernel: spec, log })
}

function describe(r: SeedRunResult): string[] {
  const out = [`run ${r.run} seed ${r.seed} on ${r.kernelRelease}: ${r.outcome.toUpperCase()} (${Math.round(r.durationMs / 1000)} s)`]
  if (r.oops !== undefined) {
    out.push(`  ${r.oops.bug}`)
    out.push(`  RIP: ${r.oops.rip}${r.oops.workqueue !== undefined ? `   Workqueue: ${r.oops.workqueue}` : ''}`)
    out.push(`  Call Trace: ${r.oops.callTrace.slice(0, 8).join(' <- ')}`)
    if (r.msWritersToOops !== undefined) out.push(`  ${(r.msWritersToOops / 1000).toFixed(1)} s after the writers started${r.msStormToEnd !== undefined ? `, ${(r.msStormToEnd / 1000).toFixed(1)} s after the storm started (VM end)` : ''}`)
  }
  out.push(`  kprobes: ${r.kprobes}${r.counts !== undefined ? `; failovers ${r.counts.failovers}, flagged bios entering the head ${r.counts.flaggedHeadEntries}, flagged bios failed on the head ${r.counts.flaggedFailedOnHead}, flagged completions ${r.counts.flaggedCompletions}` : ''}`)
  out.push(`  paths ${r.paths}; writes ok ${r.writeOk}, failed ${r.writeErrors}${Object.keys(r.errorKinds).length > 0 ? ` (${Object.entries(r.errorKinds).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}; "no available path" lines ${r.noPathLines}; storm rounds ${r.stormRounds} (${r.scenarioState})`)
  if (r.qos !== undefined) {
    out.push(`  qos ${r.qosMode}: ${Object.entries(r.qos).map(([k, v]) => `${k}=${v}`).join('; ')}`)
    out.push(`  qos findings: ${r.qosFindings !== undefined && r.qosFindings.length > 0 ? r.qosFindings.join('; ') : 'none (everything drained)'}`)
  }
  if (r.note !== undefined) out.push(`  note: ${r.note}`)
  return out
}

export function registerKernelCommands(program: Command): void {
  const kernel = program.command('kernel').description('Linux kernels for the QEMU host: build from Debian linux-source')
  kernel
    .command('build')
    .description(`build a kernel for the QEMU guest from Debian's linux-source (cached by input fingerprint); patch sets: ${Object.keys(PATCH_SETS).join(', ')}`)
    .requiredOption('--source <src>', 'Debian source line (6.12, 7.2) or a linux-source .deb / .tar.xz')
    .option('--patch <name>', 'patch set to apply (none = unpatched)', 'none')
    .option('-j, --jobs <n>', 'make -j', intArg('--jobs', 1, 64), 2)
    .option('-o, --output <fmt>', 'text | json', 'text')
    .action(async (o: { source: string; patch: string; jobs: number; output: string }) => {
      const b = await buildKernel({ source: o.source, patch: o.patch, jobs: o.jobs, log: err })
      if (o.output === 'json') process.stdout.write(JSON.stringify(b, null, 2) + '\n')
      else process.stdout.write(`${b.dir}\n`)
    })

  const reproduce = program.command('reproduce').description('re-find known kernel bugs with our target')
  reproduce
    .command('seed-bio-qos')
    .description('the seed bug (BIO_QOS flags kept on NVMe multipath failover): nvme/058 topology, writes on every namespace, paced remap storm; exit 0 clean, 2 kernel oops, 3 bug condition reached (kprobes), 4 qos state left behind (--qos), 1 error')
    .requiredOption('--kernel <spec>', 'kernel spec as the interop matrix takes it (default, 6.1, 6.12, 6.17, bpo-latest, sid, linux-image-NAME[=VERSION], x.deb[,y.deb], a build tree dir), build:SOURCE[+PATCH] (e.g. build:6.12+seed-bio-qos) or image:DIR')
    .option('--seed <n>', 'storm seed', intArg('--seed', 0, Number.MAX_SAFE_INTEGER), 58)
    .option('--runs <n>', 'runs (seeds N, N+1, ...)', intArg('--runs', 1, 100), 1)
    .option('--timeout <s>', 'limit per run in seconds', intArg('--timeout', 60, 3600), 420)
    .option('--qos <mode>', `cgroup io policies besides the paths' writeback throttling: ${QOS_MODES.join(' | ')} (iocost / throttle / all: writers in a cgroup, io.cost / io.max tried on heads and path disks, drain checks; exit 4 when something does not drain)`, 'wbt')
    .option('--wbt-lat <usec>', 'with --qos other than wbt: writeback-throttling latency target of every path disk (queue/wbt_lat_usec; lower throttles harder)', intArg('--wbt-lat', 1, 1_000_000))
    .option('-o, --output <fmt>', 'text | json', 'text')
    .option('-v, --verbose', 'guest console on stderr')
    .action(async (o: { kernel: string; seed: number; runs: number; timeout: number; qos: string; wbtLat?: number; output: string; verbose?: boolean }) => {
      if (o.output !== 'text' && o.output !== 'json') throw new CommanderArgError(`--output must be text or json, got "${o.output}"`)
      if (!(QOS_MODES as readonly string[]).includes(o.qos)) throw new CommanderArgError(`--qos must be one of ${QOS_MODES.join(', ')}, got "${o.qos}"`)
      if (o.wbtLat !== undefined && o.qos === 'wbt') throw new CommanderArgError('--wbt-lat needs --qos iocost, throttle or all (the drain checks come with them)')
      const image = await resolveKernel(o.kernel, err)
      const results: SeedRunResult[] = []
      for (let i = 0; i < o.runs; i++) {
        const r = await runSeedBioQos({
          image,
          seed: o.seed + i,
          run: i + 1,
          timeoutSec: o.timeout,
          qos: o.qos as QosMode,
          ...(o.wbtLat !== undefined ? { wbtLatUsec: o.wbtLat } : {}),
          log: (l) => err(`[run ${i + 1}] ${l}`),
          ...(o.verbose === true ? { onConsoleLine: (l: string) => err(`console: ${l}`) } : {}),
        })
        results.push(r)
        if (o.output === 'text') for (const l of describe(r)) process.stdout.write(`${l}\n`)
        else for (const l of describe(r)) err(l) // each run as it ends; the JSON comes at the end
      }
      const oopses = results.filter((r) => r.outcome === 'kernel-oops')
      const summary = {
        kernel: o.kernel,
        kernelRelease: results[0]?.kernelRelease ?? image.kernelRelease,
        runs: results.length,
        outcomes: Object.fromEntries(SEED_SEVERITY.map((k) => [k, results.filter((r) => r.outcome === k).length])),
        crashRate: `${oopses.length}/${results.length}`,
        msWritersToOops: oopses.map((r) => r.msWritersToOops ?? null),
      }
      if (o.output === 'json') process.stdout.write(JSON.stringify({ summary, results }, null, 2) + '\n')
      else process.stdout.write(`summary: ${JSON.stringify(summary)}\n`)
      const worst = SEED_SEVERITY.find((k) => results.some((r) => r.outcome === k)) ?? 'clean'
      process.exitCode = SEED_EXIT[worst]
    })
}
