/**
 * Kernel builds from Debian's `linux-source-X.Y` for the QEMU guest: an optional patch of ours
 * (kernel/patches/), a minimal configuration (`make tinyconfig` + kernel/config/qemu-nvmf.config,
 * everything built in, no modules), `make bzImage`. Cached by input fingerprint (source package and
 * version, the patch text, the fragment) under `${NVMF_FAULT_CACHE:-~/.cache/nvmf-fault}/kernels/<fp>/`:
 * `tree/` is the build tree (`vmlinux`, `arch/x86/boot/bzImage`, `.config`) that the guest image
 * builder boots, `build.json` says what it is.
 *
 * A build of the same source and fragment with another patch is reused: its tree is copied, its
 * patch reversed, ours applied, and `make` rebuilds only what the patch touches (minutes, not an
 * hour on 2 cores).
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { InvalidArgumentError } from '../lib/errors.js'
import { cacheRoot, withDirLock } from './cache.js'
import { DebianApt } from './debian-apt.js'
import { execCapture, execText } from './exec.js'
import { projectFile } from './project-dir.js'

/** Bump when the build steps change in a way the inputs do not capture. */
const BUILD_FORMAT = 'nvmf-fault-kbuild-1'

export const DEFAULT_FRAGMENT = projectFile('kernel/config/qemu-nvmf.config')
const PATCH_DIR = projectFile('kernel/patches')

/**
 * Named patch sets: a set holds one variant per kernel line (the code moved between them); the
 * builder uses the variant that applies cleanly.
 */
export const PATCH_SETS: Readonly<Record<string, { prefix: string; what: string }>> = {
  'seed-bio-qos': {
    prefix: 'rq-qos-done-bio-skip-check.',
    what: "rq_qos_done_bio() without the q->rq_qos check (block/blk-rq-qos.h as in 6.16.4 / 6.17-rc3): a flagged bio completed on a queue without rq_qos dereferences NULL",
  },
}

export interface KernelBuildOptions {
  /** Debian source line ("6.12", "7.2") or a `linux-source-*.deb` / `.tar.xz` file. */
  source: string
  /** A patch set name (PATCH_SETS) or undefined for none. */
  patch?: string
  /** Config fragment file (default kernel/config/qemu-nvmf.config). */
  fragment?: string
  /** make -j (default 2). */
  jobs?: number
  /** Progress lines. */
  log?: (line: string) => void
  /** A whole build's limit (default 4 h). */
  timeoutMs?: number
}

export interface KernelBuild {
  /** The build tree: hand it to the image builder as the kernel. */
  dir: string
  fingerprint: string
  sourcePackage: string
  sourceVersion: string
  /** Kernel release (`make kernelrelease`). */
  release: string
  patch: string | null
  patchFile: string | null
  /** Fragment lines that did not hold in the final .config (symbols this kernel lacks). */
  configNotes: string[]
  buildMs: number
  /** The build this one was made from incrementally (fingerprint), if any. */
  incrementalFrom?: string
  reused: boolean
}

export function kernelsRoot(): string {
  return join(cacheRoot(), 'kernels')
}

interface ResolvedSource {
  pkg: string
  version: string
  tarball: () => Promise<string>
}

/** A Debian source line (`linux-source-<line>`): 6.12, 7.2. */
export const SOURCE_LINE = /^\d+\.\d+$/

async function resolveSource(source: string, log: (l: string) => void): Promise<ResolvedSource> {
  const srcRoot = join(cacheRoot(), 'src')
  const fromDeb = async (deb: string, pkg: string, version: string): Promise<string> => {
    const dir = join(srcRoot, `${pkg}_${version}`)
    const found = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.tar.xz')) : undefined
    if (found !== undefined) return join(dir, found)
    mkdirSync(srcRoot, { recursive: true })
    const scratch = `${dir}.tmp-${process.pid}`
    rmSync(scratch, { recursive: true, force: true })
    mkdirSync(scratch)
    log(`extracting ${deb}`)
    await execText('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards --no-anchored --transform "s,.*/,," "*.tar.xz"', 'sh', deb, scratch], { timeoutMs: 600_000 })
    const tar = readdirSync(scratch).find((f) => f.endsWith('.tar.xz'))
    if (tar === undefined) throw new InvalidArgumentError('source', `${deb} holds no linux-source tarball`)
    renameSync(scratch, dir)
    return join(dir, tar)
  }
  if (SOURCE_LINE.test(source)) {
    const pkg = `linux-source-${source}`
    const apt = DebianApt.open({ log })
    await apt.update()
    const v = (await apt.versions(pkg))[0]
    if (v === undefined) throw new InvalidArgumentError('source', `no package ${pkg} in the Debian suites ${apt.suites.join(', ')}`)
    return { pkg, version: v.version, tarball: async () => fromDeb(await apt.download(pkg, v.version), pkg, v.version) }
  }
  if (source.endsWith('.deb') && existsSync(source)) {
    const info = await execText('dpkg-deb', ['-f', source, 'Package', 'Version'], { timeoutMs: 60_000 })
    const pkg = /^Package: (\S+)$/m.exec(info)?.[1] ?? 'linux-source'
    const version = /^Version: (\S+)$/m.exec(info)?.[1] ?? 'unknown'
    return { pkg, version, tarball: () => fromDeb(source, pkg, version) }
  }
  if (source.endsWith('.tar.xz') && existsSync(source)) {
    const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16)
    return { pkg: source.replace(/^.*\//, '').replace(/\.tar\.xz$/, ''), version: hash, tarball: async () => source }
  }
  throw new InvalidArgumentError('source', `must be a Debian source line like 6.12, or a linux-source .deb / .tar.xz file; got '${source}'`)
}

/** The patch files of a set, in name order. */
export function patchVariants(name: string): string[] {
  const set = PATCH_SETS[name]
  if (set === undefined) throw new InvalidArgumentError('patch', `unknown patch set '${name}' (known: ${Object.keys(PATCH_SETS).join(', ')}, none)`)
  return readdirSync(PATCH_DIR)
    .filter((f) => f.startsWith(set.prefix) && f.endsWith('.patch'))
    .sort()
    .map((f) => join(PATCH_DIR, f))
}

async function patchApplies(tree: string, file: string, reverse = false): Promise<boolean> {
  const r = await execCapture('patch', ['-p1', '--dry-run', '--force', '--silent', ...(reverse ? ['-R'] : []), '-i', file], { cwd: tree, timeoutMs: 60_000 })
  return r.code === 0
}

async function applyPatch(tree: string, file: string, reverse = false): Promise<void> {
  await execText('patch', ['-p1', '--force', '--no-backup-if-mismatch', ...(reverse ? ['-R'] : []), '-i', file], { cwd: tree, timeoutMs: 60_000 })
}

/** Fingerprint of a build's inputs: source package + version, patch text, fragment text. */
export function buildFingerprint(i: { pkg: string; version: string; patchText: string | null; fragmentText: string }): string {
  const h = createHash('sha256')
  h.update([BUILD_FORMAT, i.pkg, i.version, `patch=${i.patchText === null ? 'none' : createHash('sha256').update(i.patchText).digest('hex')}`, `fragment=${createHash('sha256').update(i.fragmentText).digest('hex')}`].join('\n'))
  return h.digest('hex').slice(0, 16)
}

/** Run make in `tree` with progress lines (objects compiled so far, every 30 s). */
function make(tree: string, args: string[], jobs: number, log: (l: string) => void, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('nice', ['-n', '10', 'make', `-j${jobs}`, ...args], { cwd: tree, stdio: ['ignore', 'pipe', 'pipe'] })
    let objects = 0
    let last = ''
    let tail: string[] = []
    const keep = (l: string): void => {
      tail.push(l)
      if (tail.length > 40) tail = tail.slice(-40)
    }
    const onData = (b: Buffer): void => {
      for (const l of b.toString().split('\n')) {
        if (l === '') continue
        keep(l)
        const m = /^\s+(CC|AS|LD|AR)\s+(\S+)/.exec(l)
        if (m !== null) {
          if (m[1] === 'CC' || m[1] === 'AS') objects++
          last = m[2]!
        }
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    const tick = setInterval(() => log(`make ${args.join(' ')}: ${objects} objects compiled (last: ${last})`), 30_000)
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearInterval(tick)
      clearTimeout(timer)
      if (code === 0) {
        log(`make ${args.join(' ')}: done, ${objects} objects compiled`)
        resolve()
      } else reject(new Error(`make ${args.join(' ')} in ${tree}: ${signal ?? `exit ${code}`}\n${tail.join('\n')}`))
    })
  })
}

/** CONFIG_ lines of the fragment that the final .config does not hold, with why. */
function checkConfig(tree: string, fragmentText: string): string[] {
  const cfg = new Set(readFileSync(join(tree, '.config'), 'utf8').split('\n'))
  const notes: string[] = []
  for (const line of fragmentText.split('\n')) {
    const set = /^(CONFIG_\w+)=/.exec(line)
    const unset = /^# (CONFIG_\w+) is not set/.exec(line)
    const sym = set?.[1] ?? unset?.[1]
    if (sym === undefined) continue
    const held = set !== null ? cfg.has(line) : !cfg.has(`${sym}=y`)
    if (!held) notes.push(`${line}: not in the final .config (the symbol is gone from this kernel, or a dependency is missing)`)
  }
  return notes
}

function readBuild(dir: string): KernelBuild | undefined {
  const f = join(dir, 'build.json')
  if (!existsSync(f)) return undefined
  const b = JSON.parse(readFileSync(f, 'utf8')) as KernelBuild
  if (!existsSync(join(dir, 'tree', 'vmlinux'))) return undefined
  return { ...b, dir: join(dir, 'tree'), reused: true }
}

/** Build (or find in the cache) a kernel; see the file comment. */
export async function buildKernel(opts: KernelBuildOptions): Promise<KernelBuild> {
  const log = opts.log ?? (() => {})
  const jobs = opts.jobs ?? 2
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new InvalidArgumentError('jobs', 'must be an integer in [1, 64]')
  const timeoutMs = opts.timeoutMs ?? 4 * 3600_000
  const fragmentFile = opts.fragment ?? DEFAULT_FRAGMENT
  const fragmentText = readFileSync(fragmentFile, 'utf8')
  const src = await resolveSource(opts.source, log)
  const variants = opts.patch === undefined || opts.patch === 'none' ? null : patchVariants(opts.patch)
  const root = kernelsRoot()
  mkdirSync(root, { recursive: true })
  const tarball = await src.tarball()

  // Which variant applies is only known against the source: try them on a pristine tree below; the
  // fingerprint covers every variant's text of the set so that it is known before extracting.
  const patchText = variants === null ? null : variants.map((f) => readFileSync(f, 'utf8')).join('\n')
  const fp = buildFingerprint({ pkg: src.pkg, version: src.version, patchText, fragmentText })
  const dir = join(root, fp)
  const cached = readBuild(dir)
  if (cached !== undefined) {
    log(`kernel ${src.pkg} ${src.version}${opts.patch !== undefined ? ` + ${opts.patch}` : ''}: cached in ${dir}`)
    return cached
  }
  return withDirLock(`${dir}.lock`, { waitMs: timeoutMs, staleMs: timeoutMs, poll: () => readBuild(dir) }, async () => {
    const again = readBuild(dir)
    if (again !== undefined) return again
    const t0 = Date.now()
    const scratch = `${dir}.tmp-${process.pid}`
    rmSync(scratch, { recursive: true, force: true })
    mkdirSync(scratch, { recursive: true })
    const tree = join(scratch, 'tree')
    // A finished build of the same source and fragment with another patch: start from its tree.
    const sibling = readdirSync(root)
      .filter((d) => /^[0-9a-f]{16}$/.test(d) && d !== fp)
      .map((d) => readBuild(join(root, d)))
      .find((b) => b !== undefined && b.sourcePackage === src.pkg && b.sourceVersion === src.version && b.configNotes !== undefined && existsSync(join(b.dir, '.config')) && (b as KernelBuild & { fragmentHash?: string }).fragmentHash === createHash('sha256').update(fragmentText).digest('hex'))
    let incrementalFrom: string | undefined
    if (sibling !== undefined) {
      log(`copying the build tree of ${sibling.fingerprint} (${sibling.patch ?? 'unpatched'}) for an incremental build`)
      await execText('cp', ['-a', '--reflink=auto', sibling.dir, tree], { timeoutMs: 1_800_000 })
      if (sibling.patchFile !== null) await applyPatch(tree, sibling.patchFile, true)
      incrementalFrom = sibling.fingerprint
    } else {
      log(`unpacking ${tarball}`)
      mkdirSync(tree)
      await execText('nice', ['-n', '10', 'tar', '-xJf', tarball, '-C', tree, '--strip-components=1'], { timeoutMs: 1_800_000 })
    }
    let patchFile: string | null = null
    if (variants !== null) {
      for (const f of variants) {
        if (await patchApplies(tree, f)) {
          patchFile = f
          break
        }
      }
      if (patchFile === null) throw new InvalidArgumentError('patch', `no variant of '${opts.patch!}' applies to ${src.pkg} ${src.version} (tried ${variants.map((f) => f.replace(/^.*\//, '')).join(', ')})`)
      log(`applying ${patchFile.replace(/^.*\//, '')}`)
      await applyPatch(tree, patchFile)
    }
    if (sibling === undefined) {
      await execText('make', ['-s', 'tinyconfig'], { cwd: tree, timeoutMs: 600_000 })
      writeFileSync(join(tree, '.config'), readFileSync(join(tree, '.config'), 'utf8') + '\n' + fragmentText)
      await execText('make', ['-s', 'olddefconfig'], { cwd: tree, timeoutMs: 600_000 })
    }
    const configNotes = checkConfig(tree, fragmentText)
    for (const n of configNotes) log(`note: ${n}`)
    await make(tree, ['bzImage'], jobs, log, timeoutMs)
    const release = (await execText('make', ['-s', 'kernelrelease'], { cwd: tree, timeoutMs: 120_000 })).trim()
    const b = {
      dir: '',
      fingerprint: fp,
      sourcePackage: src.pkg,
      sourceVersion: src.version,
      release,
      patch: opts.patch === undefined || opts.patch === 'none' ? null : opts.patch,
      patchFile,
      configNotes,
      buildMs: Date.now() - t0,
      ...(incrementalFrom !== undefined ? { incrementalFrom } : {}),
      reused: false,
      fragmentHash: createHash('sha256').update(fragmentText).digest('hex'),
    }
    writeFileSync(join(scratch, 'build.json'), JSON.stringify(b, null, 2) + '\n')
    renameSync(scratch, dir)
    log(`kernel ${release} built in ${Math.round(b.buildMs / 1000)} s: ${join(dir, 'tree')}`)
    return { ...b, dir: join(dir, 'tree') }
  })
}
