/**
 * From a kernel spec to files on disk: Debian packages through the private apt configuration (or,
 * for `default`, this machine's apt, which needs no extra package lists), local .debs, or a build
 * tree. `chooseKernel()` decides without downloading (cheap: availability checks and the image
 * fingerprint use it); `fetchKernelDebs()` downloads what is missing.
 *
 * From 7.x on Debian's `linux-image-<release>` is a metapackage: the kernel, modules and config
 * are in `linux-binary-`, `linux-modules-` and `linux-base-<release>` of the same version, so a
 * choice is a list of packages.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { ConfigError } from '../lib/errors.js'
import { compareDebVersions } from './deb-version.js'
import { DebianApt, type PackageVersion } from './debian-apt.js'
import { execCapture, execText } from './exec.js'
import { buildKernel } from './build.js'
import { formatKernelSpec, type KernelSpec } from './kernel-spec.js'

export interface DebRef {
  /** Where the .deb is, or will be once fetched. */
  path: string
  /** What to download when `path` does not exist yet. */
  download?: { via: 'system' | 'private'; pkg: string; version: string }
}

export interface TreeKernel {
  /** The tree's directory. */
  dir: string
  /** bzImage (or a vmlinuz), when there is one. */
  bzImage?: string
  /** Uncompressed ELF vmlinux, when there is one. */
  vmlinux?: string
  /** `lib/modules/<release>` directory, when the kernel has modules. */
  modules?: string
  config?: string
  release: string
}

export type KernelChoice =
  | { kind: 'debs'; spec: string; label: string; debs: DebRef[] }
  | { kind: 'tree'; spec: string; label: string; tree: TreeKernel }

/** Fingerprint lines of a choice: a different kernel means a different image. */
export function kernelIdentity(c: KernelChoice): string[] {
  const fileId = (p: string): string => {
    const s = statSync(p, { throwIfNoEntry: false })
    return s === undefined ? p : `${p}:${s.size}:${Math.floor(s.mtimeMs)}`
  }
  if (c.kind === 'debs') return c.debs.map((d) => `deb=${basename(d.path)}`)
  const t = c.tree
  const mods = t.modules === undefined ? 'none' : fileId(existsSync(join(t.modules, 'modules.order')) ? join(t.modules, 'modules.order') : t.modules)
  return [`tree=${t.release}`, `bzImage=${t.bzImage === undefined ? '-' : fileId(t.bzImage)}`, `vmlinux=${t.vmlinux === undefined ? '-' : fileId(t.vmlinux)}`, `modules=${mods}`, `config=${t.config === undefined ? '-' : fileId(t.config)}`]
}

/** Versioned kernel packages (not the linux-image-6.12-amd64 style metapackages); flavours filtered below. */
const IMAGE_PKG = /^linux-image-(\d+\.\d+\.\d+[0-9a-z.+~-]*?)-amd64$/

function newest(vs: PackageVersion[]): PackageVersion | undefined {
  return [...vs].sort((a, b) => compareDebVersions(b.version, a.version))[0]
}

/** The packages that make up `pkg=version`: itself, or the 7.x split packages it depends on. */
async function expandSplit(apt: DebianApt, pkg: string, version: string): Promise<{ pkg: string; version: string }[]> {
  const deps = await apt.depends(pkg, version)
  const parts = deps.filter((d) => /^linux-(binary|modules|base)-/.test(d))
  return parts.length > 0 ? parts.map((p) => ({ pkg: p, version })) : [{ pkg, version }]
}

async function privateApt(log: (l: string) => void): Promise<DebianApt> {
  const apt = DebianApt.open({ log })
  try {
    await apt.update()
  } catch (e) {
    // Offline: lists fetched earlier still answer (a stale but usable index).
    if (apt.listsTime() === 0 && !existsSync(join(apt.dir, 'lists', 'updated'))) throw e
    log(`apt-get update failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); using the lists fetched earlier`)
  }
  return apt
}

async function choosePackages(spec: KernelSpec, apt: DebianApt): Promise<{ pkg: string; version: string }> {
  if (spec.kind === 'series') {
    const names = await apt.packageNames(IMAGE_PKG)
    const all = await apt.madison(names.filter((n) => !/-(cloud|rt)-amd64$/.test(n)))
    const boundary = new RegExp(`^(\\d+:)?${spec.series.replace(/\./g, '\\.')}([.+~-]|$)`)
    // A series may be both native to a suite and backported to an older one (6.12 in trixie and
    // as 6.12.x~deb12u1 in bookworm): the native upload wins, backports only when there is none.
    const matching = all.filter((v) => boundary.test(v.version))
    const native = matching.filter((v) => !v.version.includes('~'))
    const best = newest(native.length > 0 ? native : matching)
    if (best === undefined) throw new ConfigError('kernel', `no Debian amd64 kernel of series ${spec.series} in ${apt.suites.join(', ')}`)
    return best
  }
  if (spec.kind === 'suite') {
    const meta = newest((await apt.madison(['linux-image-amd64'])).filter((v) => v.suites.includes(spec.suite)))
    if (meta === undefined) throw new ConfigError('kernel', `no linux-image-amd64 in ${spec.suite}`)
    const dep = (await apt.depends('linux-image-amd64', meta.version)).find((d) => IMAGE_PKG.test(d))
    if (dep === undefined) throw new ConfigError('kernel', `linux-image-amd64=${meta.version} depends on no kernel package`)
    const v = newest((await apt.madison([dep])).filter((x) => x.suites.includes(spec.suite))) ?? newest(await apt.madison([dep]))
    if (v === undefined) throw new ConfigError('kernel', `${dep} is not in the package lists`)
    return v
  }
  if (spec.kind === 'package') {
    const vs = await apt.madison([spec.pkg])
    const v = spec.version !== undefined ? vs.find((x) => x.version === spec.version) : newest(vs)
    if (v === undefined) throw new ConfigError('kernel', `${formatKernelSpec(spec)} is not in the package lists (${apt.suites.join(', ')})`)
    return v
  }
  throw new Error(`choosePackages: ${spec.kind}`)
}

/** This machine's apt: the package linux-image-amd64 depends on, and its candidate version. */
async function systemDefault(): Promise<{ pkg: string; version: string } | undefined> {
  const deps = await execCapture('apt-cache', ['depends', 'linux-image-amd64'], { timeoutMs: 60_000 }).catch(() => undefined)
  const pkg = /Depends: (linux-image-\S+)/.exec(deps?.stdout.toString() ?? '')?.[1]
  if (pkg === undefined) return undefined
  const policy = await execCapture('apt-cache', ['policy', pkg], { timeoutMs: 60_000 }).catch(() => undefined)
  const version = /Candidate: (\S+)/.exec(policy?.stdout.toString() ?? '')?.[1]
  if (version === undefined || version === '(none)') return undefined
  return { pkg, version }
}

function findTree(dir: string): TreeKernel {
  // A `kernel build` cache directory (build.json + tree/): the tree inside.
  if (!existsSync(join(dir, 'vmlinux')) && existsSync(join(dir, 'build.json')) && existsSync(join(dir, 'tree', 'vmlinux'))) return findTree(join(dir, 'tree'))
  const first = (...cands: string[]): string | undefined => cands.map((c) => join(dir, c)).find((p) => statSync(p, { throwIfNoEntry: false })?.isFile() === true)
  const boot = existsSync(join(dir, 'boot')) ? readdirSync(join(dir, 'boot')) : []
  const bzImage = first('bzImage', 'arch/x86/boot/bzImage', 'vmlinuz', ...boot.filter((f) => f.startsWith('vmlinuz-')).map((f) => `boot/${f}`))
  const vmlinux = first('vmlinux')
  const config = first('.config', 'config', ...boot.filter((f) => f.startsWith('config-')).map((f) => `boot/${f}`))
  if (bzImage === undefined && vmlinux === undefined) throw new ConfigError('kernel', `${dir}: no bzImage, arch/x86/boot/bzImage, vmlinuz or vmlinux`)
  let modules: string | undefined
  let release: string | undefined
  for (const base of ['lib/modules', 'usr/lib/modules']) {
    const b = join(dir, base)
    const rel = existsSync(b) ? readdirSync(b).find((r) => statSync(join(b, r)).isDirectory()) : undefined
    if (rel !== undefined) {
      modules = join(b, rel)
      release = rel
      break
    }
  }
  if (release === undefined && existsSync(join(dir, 'include/config/kernel.release'))) release = readFileSync(join(dir, 'include/config/kernel.release'), 'utf8').trim()
  if (release === undefined && bzImage !== undefined) release = bzImageRelease(readFileSync(bzImage))
  const tree: TreeKernel = { dir, release: release ?? 'unknown' }
  if (bzImage !== undefined) tree.bzImage = bzImage
  if (vmlinux !== undefined) tree.vmlinux = vmlinux
  if (modules !== undefined) tree.modules = modules
  if (config !== undefined) tree.config = config
  return tree
}

/** The release string in a bzImage's setup header (x86 boot protocol: kernel_version at 0x20e). */
export function bzImageRelease(b: Buffer): string | undefined {
  if (b.length < 0x210 || b.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined
  const off = b.readUInt16LE(0x20e) + 0x200
  if (off >= b.length) return undefined
  const end = b.indexOf(0, off)
  return b.toString('latin1', off, end < 0 ? Math.min(b.length, off + 256) : end).split(' ')[0]
}

/**
 * Decide which files make up the kernel of `spec` (no download yet). A `build:` spec is the
 * exception: its tree is built here on first use (an hour on 2 cores), then found in the cache.
 */
export async function chooseKernel(spec: KernelSpec, opts: { log?: (l: string) => void; vmDebsDir: string }): Promise<KernelChoice> {
  const log = opts.log ?? (() => {})
  const name = formatKernelSpec(spec)
  switch (spec.kind) {
    case 'tree': {
      const tree = findTree(spec.dir)
      return { kind: 'tree', spec: name, label: `tree ${spec.dir} (${tree.release})`, tree }
    }
    case 'build': {
      const b = await buildKernel({ source: spec.source, ...(spec.patch !== undefined ? { patch: spec.patch } : {}), log })
      const tree = findTree(b.dir)
      return { kind: 'tree', spec: name, label: `${b.sourcePackage} ${b.sourceVersion} + ${b.patch ?? 'no patch'} (${tree.release})`, tree }
    }
    case 'image':
      throw new ConfigError('kernel', `${name} is a finished guest image, not a kernel to build one from`)
    case 'debs':
      return { kind: 'debs', spec: name, label: spec.paths.map((p) => basename(p)).join(' + '), debs: spec.paths.map((path) => ({ path })) }
    case 'default': {
      const d = await systemDefault()
      if (d === undefined) {
        // No package index (offline): the newest .deb fetched earlier.
        const debs = existsSync(opts.vmDebsDir)
          ? readdirSync(opts.vmDebsDir)
              .filter((f) => /^linux-image-.*\.deb$/.test(f))
              .map((f) => join(opts.vmDebsDir, f))
              .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
          : []
        if (debs[0] === undefined) throw new ConfigError('kernel', 'no linux-image-amd64 kernel package: apt-cache knows none and no .deb is cached (set NVMF_FAULT_KERNEL)')
        return { kind: 'debs', spec: name, label: basename(debs[0]), debs: [{ path: debs[0] }] }
      }
      const path = join(opts.vmDebsDir, DebianApt.debFileName(d.pkg, d.version))
      return { kind: 'debs', spec: name, label: `${d.pkg} ${d.version}`, debs: [existsSync(path) ? { path } : { path, download: { via: 'system', ...d } }] }
    }
    default: {
      const apt = await privateApt(log)
      const chosen = await choosePackages(spec, apt)
      const parts = await expandSplit(apt, chosen.pkg, chosen.version)
      const debs = parts.map((p): DebRef => {
        const cached = ['amd64', 'all'].map((a) => join(apt.dir, 'debs', DebianApt.debFileName(p.pkg, p.version, a))).find((f) => existsSync(f))
        return cached !== undefined ? { path: cached } : { path: join(apt.dir, 'debs', DebianApt.debFileName(p.pkg, p.version)), download: { via: 'private', ...p } }
      })
      return { kind: 'debs', spec: name, label: `${chosen.pkg} ${chosen.version}`, debs }
    }
  }
}

/** Download the .debs of a choice that are not on disk yet; returns their paths. */
export async function fetchKernelDebs(c: KernelChoice & { kind: 'debs' }, log: (l: string) => void): Promise<string[]> {
  const paths: string[] = []
  for (const d of c.debs) {
    paths.push(await fetchOne(d, log))
  }
  return paths
}

async function fetchOne(d: DebRef, log: (l: string) => void): Promise<string> {
  if (existsSync(d.path)) return d.path
  if (d.download === undefined) throw new ConfigError('kernel', `missing ${d.path}`)
  if (d.download.via === 'private') return DebianApt.open({ log }).download(d.download.pkg, d.download.version)
  {
    log(`apt-get download ${d.download.pkg}=${d.download.version}`)
    const dl = join(join(d.path, '..'), `dl.${process.pid}.${randomBytes(4).toString('hex')}`)
    mkdirSync(dl, { recursive: true })
    try {
      await execText('apt-get', ['download', '-qq', `${d.download.pkg}=${d.download.version}`], { timeoutMs: 900_000, cwd: dl })
      const got = readdirSync(dl).find((f) => f.endsWith('.deb'))
      if (got === undefined) throw new Error(`apt-get download ${d.download.pkg}=${d.download.version} produced no .deb`)
      renameSync(join(dl, got), d.path)
    } finally {
      rmSync(dl, { recursive: true, force: true })
    }
  }
  return d.path
}
