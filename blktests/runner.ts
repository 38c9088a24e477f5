/**
 * `npm run test:blktests -- --blktests DIR [TESTS...]`: blktests' nvme group (or the TESTS given)
 * against nvmf-fault and against the kernel's own nvmet, in one Debian guest, side by side.
 *
 * The user supplies the blktests checkout (blktests is GPL and not packaged; nothing of it is in
 * this repository). The runner copies it, applies blktests/patches/*.patch to the copy, builds or
 * reuses the cached Debian rootfs (guest-rootfs.ts) and the interop guest image for the kernel
 * (kernel/kernel-spec.ts; default the Debian 6.1 series), starts an nvmf-fault target on this
 * machine's loopback with its HTTP API, and boots the guest. In the guest each test runs on each
 * side in turn: with NVME_TARGET_CONTROL=blktests/nvme-target-control (which curls the API at
 * 10.0.2.2, QEMU's address of this machine's loopback), then without it (the kernel's nvmet-tcp on
 * the guest's loopback). A boot that runs out of time is followed by another for the tests left.
 * Results, ./check output, the bridge log and the target's trace land in the run directory; the
 * table is printed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { execCapture, which } from '../kernel/exec.js'
import { prepareKernel } from '../kernel/kernel-extract.js'
import { chooseKernel, fetchKernelDebs } from '../kernel/kernel-fetch.js'
import { parseKernelSpec } from '../kernel/kernel-spec.js'
import { ensureVmImage, vmCacheRoot } from '../kernel/vm-image.js'
import { GUEST_HOST_IP, runGuest } from '../kernel/vm.js'
import { blktestsCacheDir, ensureRootfs, installKernel } from './guest-rootfs.js'
import { countByTestId, failureKinds, formatTable, parseCheckOutput, sideBySide, type TestResult } from './results.js'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const ROOT = resolve(HERE, '..')
export const SIDES = ['nvmf-fault', 'nvmet'] as const
type Side = (typeof SIDES)[number]

const USAGE = `usage: npm run test:blktests -- --blktests DIR [options] [TESTS...]

  --blktests DIR     a blktests checkout (git clone of the linux-blktests/blktests repository);
                     it is copied and patched, never changed
  --kernel SPEC      guest kernel (kernel/kernel-spec.ts: 6.1, 6.12, bpo-latest, a .deb ...; default 6.1)
  --img-size SIZE    NVME_IMG_SIZE (default 350m)
  --sides LIST       nvmf-fault,nvmet (default both, in that order)
  --timeout-min N    limit for each side's guest run (default 60, at most 60)
  --out DIR          run directory (default $NVMF_FAULT_CACHE/blktests/runs/<time>)
  TESTS              blktests test names or groups (default: nvme)

Needs root, qemu-system-x86_64, debootstrap and curl on this machine.`

/** `350m` -> `350MiB` (blktests sizes are binary units). */
export function nvmfSize(blktestsSize: string): string {
  const m = /^(\d+)([kmgt]?)$/i.exec(blktestsSize.trim())
  if (m === null) throw new Error(`--img-size must look like 350m or 1G, got '${blktestsSize}'`)
  return m[2] === '' ? m[1]! : `${m[1]}${m[2]!.toUpperCase()}iB`
}

/**
 * The test names ./check would run for TESTS: a group (`nvme`) becomes its tests (`nvme/002` ...)
 * in ./check's order; a test name stays. The runner needs the list to resume after a boot that
 * ran out of time.
 */
export function expandTests(checkout: string, tests: readonly string[]): string[] {
  const out: string[] = []
  for (const t of tests) {
    const dir = join(checkout, 'tests', t)
    if (!t.includes('/') && existsSync(dir)) out.push(...readdirSync(dir).filter((f) => /^\d{3}$/.test(f)).sort().map((f) => `${t}/${f}`))
    else out.push(t)
  }
  return [...new Set(out)]
}

/** Boots at most: a guest that runs out of time (or stops) is booted again for the tests left. */
const MAX_BOOTS = 6

function tsImportArgs(): string[] {
  return [`--import=${new URL('../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url).href}`]
}

/** The nvmf-fault target on 127.0.0.1: one port, no subsystem (the bridge's setup adds them), the HTTP API. */
async function startTarget(runDir: string, log: (l: string) => void): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const cfg = join(runDir, 'target.json')
  writeFileSync(cfg, JSON.stringify({ ports: [{ id: 1, address: '127.0.0.1', port: 0 }], subsystems: [] }))
  const logFile = join(runDir, 'target.log')
  const child = spawn(process.execPath, [...tsImportArgs(), join(ROOT, 'bin/nvmf-fault.ts'), 'target', '--config', cfg, '--http', '127.0.0.1:0', '--no-pretty', '--log-level', 'debug'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const chunks: string[] = []
  child.stdout!.on('data', (d: Buffer) => {
    chunks.push(d.toString())
    if (out.length < 1_000_000) out += d.toString()
    if (chunks.length > 200) writeFileSync(logFile, chunks.splice(0).join(''), { flag: 'a' })
  })
  child.stderr!.on('data', (d: Buffer) => chunks.push(d.toString()))
  const exited = new Promise<void>((r) => child.on('exit', () => r()))
  const end = Date.now() + 300_000
  let port: number | undefined
  while (port === undefined && Date.now() < end && child.exitCode === null) {
    const m = /"http":\{"host":"127\.0\.0\.1","port":(\d+)\}[^\n]*"msg":"http API listening"/.exec(out)
    if (m !== null) port = Number(m[1])
    else await new Promise((r) => setTimeout(r, 200))
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await exited
    }
    writeFileSync(logFile, chunks.splice(0).join(''), { flag: 'a' })
  }
  if (port === undefined) {
    await stop()
    throw new Error(`the nvmf-fault target did not start; see ${logFile}`)
  }
  log(`nvmf-fault target: HTTP API on 127.0.0.1:${port} (the guest reaches it at ${GUEST_HOST_IP}:${port})`)
  return { url: `http://127.0.0.1:${port}`, child, stop }
}

/** Copy the user's checkout (without .git and old results) and apply our patches to the copy. */
async function preparedCheckout(src: string, dest: string, log: (l: string) => void): Promise<string[]> {
  if (!existsSync(join(src, 'check')) || !existsSync(join(src, 'tests', 'nvme'))) throw new Error(`${src} is not a blktests checkout (no check script or tests/nvme)`)
  cpSync(src, dest, { recursive: true, filter: (p) => !/[/\\](\.git|results)$/.test(p) })
  const patchDir = join(ROOT, 'blktests', 'patches')
  const patches = readdirSync(patchDir).filter((f) => f.endsWith('.patch')).sort()
  for (const p of patches) {
    const r = await execCapture('git', ['apply', '--verbose', join(patchDir, p)], { cwd: dest, timeoutMs: 60_000 })
    if (r.code !== 0) throw new Error(`${p} does not apply to ${src}: ${r.stderr.trim()}`)
    log(`applied ${p}`)
  }
  return patches
}

/**
 * Build blktests' src/ helpers with the rootfs's toolchain, on this machine (chroot): the same
 * binaries the guest would build, minutes faster than gcc under emulation.
 */
async function buildInRootfs(rootfs: string, run: string, log: (l: string) => void): Promise<void> {
  const mnt = join(rootfs, 'mnt', 'nvmf-fault-build')
  mkdirSync(mnt, { recursive: true })
  const bind = await execCapture('mount', ['--bind', run, mnt], { timeoutMs: 30_000 })
  if (bind.code !== 0) throw new Error(`bind mount for the build: ${bind.stderr.trim()}`)
  try {
    const r = await execCapture('nice', ['-n', '10', 'chroot', rootfs, 'make', '-k', '-C', '/mnt/nvmf-fault-build/blktests', '-j2'], { timeoutMs: 900_000 })
    // -k: a helper that needs a missing compiler (C++ for discontiguous-io) only skips the tests that use it.
    log(r.code === 0 ? 'built blktests (src/ helpers) in the rootfs' : `blktests built with errors (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`)
  } finally {
    await execCapture('umount', [mnt], { timeoutMs: 60_000 })
  }
}

interface Options {
  blktests: string
  kernel: string
  imgSize: string
  sides: Side[]
  timeoutMin: number
  out: string | undefined
  tests: string[]
}

export async function runBlktests(o: Options, log: (l: string) => void): Promise<{ table: string; runDir: string; results: Record<string, TestResult[]> }> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('needs root (debootstrap, the bind mount of the rootfs, chroot in the guest)')
  for (const [tool, pkg] of [['qemu-system-x86_64', 'qemu-system-x86'], ['curl', 'curl'], ['git', 'git']] as const)
    if (which(tool) === undefined) throw new Error(`${tool} is not installed (apt-get install ${pkg})`)
  const runDir = o.out ?? join(blktestsCacheDir(), 'runs', new Date().toISOString().replace(/[:.]/g, '-'))
  const share = join(runDir, 'share')
  const run = join(share, 'run')
  mkdirSync(run, { recursive: true })
  log(`run directory ${runDir}`)
  await preparedCheckout(resolve(o.blktests), join(run, 'blktests'), log)

  const rootfs = await ensureRootfs(log)
  const spec = parseKernelSpec(o.kernel)
  const image = await ensureVmImage({ kernel: spec, log })
  log(`guest kernel ${image.kernelRelease} (${image.kernelPackage})`)
  // The same kernel's modules and config go into the rootfs for modprobe and _have_kernel_option.
  const choice = await chooseKernel(spec, { log, vmDebsDir: join(vmCacheRoot(), 'debs') })
  const kroot = join(runDir, 'kroot')
  const debs = choice.kind === 'debs' ? await fetchKernelDebs(choice, log) : []
  const parts = await prepareKernel(choice, debs, kroot)
  await installKernel(rootfs.dir, parts)
  rmSync(kroot, { recursive: true, force: true })

  const target = o.sides.includes('nvmf-fault') ? await startTarget(runDir, log) : undefined
  const httpPort = target !== undefined ? new URL(target.url).port : '0'
  cpSync(join(ROOT, 'blktests', 'nvme-target-control'), join(run, 'nvme-target-control'))
  cpSync(join(HERE, 'guest', 'inner.sh'), join(run, 'inner.sh'))
  const env: Record<string, string> = {
    BLKTESTS_TESTS: o.tests.join(' '),
    BLKTESTS_IMG_SIZE: o.imgSize,
    NVMF_FAULT_URL: `http://${GUEST_HOST_IP}:${httpPort}`,
    NVMF_FAULT_TRADDR: GUEST_HOST_IP,
    NVMF_FAULT_BRIDGE_LOG: '/run/share/bridge.log',
    NVMF_FAULT_NS_SIZE: nvmfSize(o.imgSize),
    NVMF_FAULT_BLKDEV_TYPE: 'file',
  }
  const settings = (tests: readonly string[]): string =>
    Object.entries({ ...env, BLKTESTS_SIDES: o.sides.join(' '), BLKTESTS_TESTS: tests.join(' ') })
      .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'\n`)
      .join('')

  mkdirSync(join(share, 'rootfs'), { recursive: true })
  const bind = await execCapture('mount', ['--bind', rootfs.dir, join(share, 'rootfs')], { timeoutMs: 30_000 })
  if (bind.code !== 0) throw new Error(`bind mount of the rootfs: ${bind.stderr.trim()}`)
  await buildInRootfs(rootfs.dir, run, log)
  const consoleLog: string[] = []
  const stopped: { side: Side; result: TestResult }[] = []
  let side = ''
  const done = new Map<string, number>()
  const allTests = expandTests(join(run, 'blktests'), o.tests)
  try {
    // One boot runs every test on each side in turn (inner.sh), so the two sides' results pair up
    // however far a boot gets. The VM layer limits a boot to an hour: a boot that ends before every
    // test reported on every side (out of time under load, or a guest crash) is followed by another
    // for the tests left; the test that was running is recorded as failed on the sides it missed.
    writeFileSync(join(run, 'tests.txt'), `${allTests.join('\n')}\n`)
    let left = allTests
    for (let boot = 1; left.length > 0; boot++) {
      writeFileSync(join(run, 'settings.env'), settings(left))
      const res = await runGuest({
        image,
        script: join(HERE, 'guest', 'job.sh'),
        share,
        memMiB: 3072,
        cpus: 2,
        timeoutSec: Math.min(3600, o.timeoutMin * 60),
        bootTimeoutSec: 300,
        onConsoleLine: (line) => {
          consoleLog.push(line)
          const m = /@@BLKTESTS side-start (\S+)@@/.exec(line)
          if (m !== null) {
            side = m[1]!
            return
          }
          if (/@@BLKTESTS building@@/.test(line)) log('building blktests in the guest')
          const t = parseCheckOutput(line)[0]
          if (t !== undefined) {
            done.set(side, (done.get(side) ?? 0) + 1)
            log(`[${side}] ${String(done.get(side)).padStart(3)}  ${t.test} ${t.condition}  ${t.verdict}`)
          }
        },
        log,
      })
      log(`guest boot ${boot} finished: rc ${res.rc}${res.timedOut ? ' (timed out)' : ''}, ${Math.round(res.durationMs / 1000)} s (boot ${Math.round((res.bootMs ?? 0) / 1000)} s, ${res.accel})`)
      const reported = (s: Side): Set<string> => {
        const f = join(run, `check-${s}.log`)
        return new Set(existsSync(f) ? parseCheckOutput(readFileSync(f, 'utf8')).map((r) => r.test) : [])
      }
      const bySide = new Map(o.sides.map((s) => [s, reported(s)]))
      const rest = left.filter((t) => o.sides.some((s) => !bySide.get(s)!.has(t)))
      if (rest.length === 0) break
      // Tests run in list order: the first one without every side's result was running when the boot ended.
      const why = res.timedOut ? `the guest ran out of time (${Math.round(res.durationMs / 60_000)} min) while it ran` : `the guest stopped (rc ${res.rc}) while it ran`
      for (const s of o.sides) if (!bySide.get(s)!.has(rest[0]!)) stopped.push({ side: s, result: { test: rest[0]!, condition: '', verdict: 'fail', reason: why, runtimeS: undefined } })
      log(`${rest[0]}: ${why}; ${rest.length - 1} test(s) left`)
      if (boot >= MAX_BOOTS) {
        for (const t of rest.slice(1)) for (const s of o.sides) stopped.push({ side: s, result: { test: t, condition: '', verdict: 'skip', reason: `not run: ${MAX_BOOTS} boots ended early`, runtimeS: undefined } })
        break
      }
      left = rest.slice(1)
    }
  } finally {
    writeFileSync(join(runDir, 'console.log'), consoleLog.join('\n'))
    await execCapture('umount', [join(share, 'rootfs')], { timeoutMs: 60_000 })
    if (target !== undefined) {
      const trace = await fetch(`${target.url}/v1/trace?format=jsonl`).then((r) => r.text()).catch((e: unknown) => `trace export failed: ${String(e)}\n`)
      writeFileSync(join(runDir, 'target-trace.jsonl'), trace)
      await target.stop()
    }
  }

  const results: Record<string, TestResult[]> = {}
  for (const s of o.sides) {
    const f = join(run, `check-${s}.log`)
    const rows = existsSync(f) ? parseCheckOutput(readFileSync(f, 'utf8')) : []
    const kinds = failureKinds(join(run, `results-${s}`))
    for (const r of rows) if (r.verdict === 'fail' && kinds.has(`${r.test} ${r.condition}`.trim())) r.reason = `${kinds.get(`${r.test} ${r.condition}`.trim())}: ${r.reason}`
    results[s] = [...rows, ...stopped.filter((x) => x.side === s).map((x) => x.result)]
  }
  // A test cut short has no condition of its own: it takes the one the other side ran it under, so both land in one row.
  for (const { side: s, result } of stopped) {
    const other = o.sides.flatMap((x) => (x === s ? [] : (results[x] ?? []))).find((r) => r.test === result.test)
    if (other !== undefined) result.condition = other.condition
  }
  const table = formatTable(sideBySide(results), o.sides)
  const counts = o.sides.map((s) => {
    const c = countByTestId(results[s] ?? [])
    return `${s}: ${c.pass} pass, ${c.fail} fail, ${c.skip} skip (test ids)`
  })
  const text = `blktests ${o.tests.join(' ')} on ${image.kernelRelease}, NVME_IMG_SIZE=${o.imgSize}\n\n${table}\n\n${counts.join('\n')}\n`
  writeFileSync(join(runDir, 'table.md'), text)
  writeFileSync(join(runDir, 'results.json'), `${JSON.stringify({ kernel: image.kernelRelease, imgSize: o.imgSize, tests: o.tests, results }, null, 2)}\n`)
  return { table: text, runDir, results }
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      blktests: { type: 'string' },
      kernel: { type: 'string', default: '6.1' },
      'img-size': { type: 'string', default: '350m' },
      sides: { type: 'string', default: SIDES.join(',') },
      'timeout-min': { type: 'string', default: '60' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) {
    console.log(USAGE)
    return 0
  }
  if (values.blktests === undefined) {
    console.log(`skipped: no blktests checkout given.\n\n${USAGE}\n\nFor example:\n  git clone https://github.com/linux-blktests/blktests ~/blktests\n  npm run test:blktests -- --blktests ~/blktests nvme/057 nvme/058 nvme/061`)
    return 0
  }
  const sides = values.sides.split(',').map((s) => s.trim())
  for (const s of sides) if (!(SIDES as readonly string[]).includes(s)) throw new Error(`--sides: unknown side '${s}' (nvmf-fault, nvmet)`)
  const timeoutMin = Number(values['timeout-min'])
  if (!Number.isInteger(timeoutMin) || timeoutMin < 5) throw new Error('--timeout-min must be an integer of at least 5')
  nvmfSize(values['img-size'])
  const t0 = Date.now()
  const log = (l: string): void => void process.stderr.write(`[blktests ${String(Math.round((Date.now() - t0) / 1000)).padStart(5)}s] ${l}\n`)
  const r = await runBlktests(
    { blktests: values.blktests, kernel: values.kernel, imgSize: values['img-size'], sides: sides as Side[], timeoutMin, out: values.out, tests: positionals.length > 0 ? positionals : ['nvme'] },
    log,
  )
  console.log(r.table)
  console.log(`run directory: ${r.runDir}`)
  return 0
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(`test:blktests: ${err instanceof Error ? err.message : String(err)}`)
      process.exitCode = 1
    },
  )
}
