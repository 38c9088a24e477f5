/**
 * One parser for "which kernel": the interop suite (`NVMF_FAULT_KERNEL`), `npm run test:interop --
 * --kernels`, and `nvmf-fault reproduce --kernel` all take the same text.
 *
 *   default              the kernel this machine's apt calls linux-image-amd64 (no extra lists)
 *   6.1 | 6.12 | 6.17.8  the newest Debian amd64 kernel of that upstream series/release (a native
 *                        upload before a backport: 6.12 is trixie's, not bookworm's 6.12~deb12u1)
 *   bpo-latest           trixie-backports' linux-image-amd64; also sid, trixie, bookworm
 *   linux-image-...[=V]  a Debian package (V: its version; default the newest)
 *   path/x.deb[,y.deb]   local packages (7.x split packages may be listed together)
 *   path/dir             a kernel build tree or install dir: bzImage or vmlinux, optional
 *                        lib/modules/<release>/, optional .config (a `kernel build` cache
 *                        directory with its `tree/` works too)
 *   build:SRC[+PATCH]    `nvmf-fault kernel build --source SRC --patch PATCH` (kernel/build.ts;
 *                        built on first use, then taken from the cache by input fingerprint)
 *   image:DIR            a guest image directory as ensureVmImage writes it (image.json)
 *
 * `pkg:NAME` is accepted as an older spelling of a package name.
 */
import { existsSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { InvalidArgumentError } from '../lib/errors.js'
import { PATCH_SETS, SOURCE_LINE } from './build.js'

export type KernelSpec =
  | { kind: 'default' }
  | { kind: 'series'; series: string }
  | { kind: 'suite'; suite: string }
  | { kind: 'package'; pkg: string; version?: string }
  | { kind: 'debs'; paths: string[] }
  | { kind: 'tree'; dir: string }
  | { kind: 'build'; source: string; patch?: string }
  | { kind: 'image'; dir: string }

/** Suite aliases and the Debian suite each names. */
export const SUITE_ALIASES: Readonly<Record<string, string>> = {
  'bpo-latest': 'trixie-backports',
  'trixie-backports': 'trixie-backports',
  trixie: 'trixie',
  bookworm: 'bookworm',
  sid: 'sid',
}

/** The matrix `--kernels all` runs: bookworm's 6.1, trixie's 6.12, 6.17.x and the newest backport. */
export const MATRIX_KERNELS: readonly string[] = ['6.1', '6.12', '6.17', 'bpo-latest']

const SERIES = /^\d+\.\d+(\.\d+)?$/
const PACKAGE = /^(linux-image-[a-z0-9][a-z0-9+.-]*)(?:=([A-Za-z0-9.+~:-]+))?$/
/** build:SOURCE[+PATCH]: SOURCE a Debian source line (6.12) or a linux-source .deb / .tar.xz. */
const BUILD = /^build:([^+]+)(?:\+(.+))?$/

function parseBuild(s: string): KernelSpec {
  const m = BUILD.exec(s)
  const source = m?.[1]?.trim() ?? ''
  const patch = m?.[2]?.trim()
  if (source === '') throw new InvalidArgumentError('kernel', `'${s}': build needs a source, as in build:6.12 or build:6.12+seed-bio-qos`)
  let src = source
  if (!SOURCE_LINE.test(source)) {
    if (!/\.(deb|tar\.xz)$/.test(source)) throw new InvalidArgumentError('kernel', `'${s}': the build source must be a Debian source line like 6.12, or a linux-source .deb / .tar.xz file`)
    src = resolve(source)
    if (!existsSync(src)) throw new InvalidArgumentError('kernel', `'${s}': ${src} does not exist`)
  }
  if (patch === undefined || patch === 'none') return { kind: 'build', source: src }
  if (PATCH_SETS[patch] === undefined) throw new InvalidArgumentError('kernel', `'${s}': unknown patch set '${patch}' (known: ${Object.keys(PATCH_SETS).join(', ')}, none)`)
  return { kind: 'build', source: src, patch }
}

function isDir(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false })?.isDirectory() === true
}

export function parseKernelSpec(text: string): KernelSpec {
  let s = text.trim()
  if (s === '' || s === 'default' || s === 'system') return { kind: 'default' }
  if (s.startsWith('build:')) return parseBuild(s)
  if (s.startsWith('image:')) {
    const dir = resolve(s.slice('image:'.length))
    if (!existsSync(join(dir, 'image.json'))) throw new InvalidArgumentError('kernel', `'${s}': ${dir} holds no guest image (image.json, kernel, initramfs.cpio)`)
    return { kind: 'image', dir }
  }
  if (s.startsWith('pkg:')) s = s.slice('pkg:'.length)
  if (SERIES.test(s)) return { kind: 'series', series: s }
  const suite = SUITE_ALIASES[s]
  if (suite !== undefined) return { kind: 'suite', suite }
  const pkg = PACKAGE.exec(s)
  if (pkg?.[1] !== undefined) return pkg[2] !== undefined ? { kind: 'package', pkg: pkg[1], version: pkg[2] } : { kind: 'package', pkg: pkg[1] }
  if (s.includes('/') || s.endsWith('.deb')) {
    const parts = s.split(',').map((p) => resolve(p.trim()))
    if (parts.every((p) => p.endsWith('.deb'))) {
      const missing = parts.filter((p) => !existsSync(p))
      if (missing.length > 0) throw new InvalidArgumentError('kernel', `names a .deb that does not exist: ${missing.join(', ')}`)
      return { kind: 'debs', paths: parts }
    }
    const dir = parts[0] as string
    if (parts.length === 1 && isDir(dir)) return { kind: 'tree', dir }
    throw new InvalidArgumentError('kernel', `'${s}' is neither a directory nor a list of .deb files`)
  }
  throw new InvalidArgumentError(
    'kernel',
    `'${s}' is not a kernel spec (default, a series like 6.12, bpo-latest|trixie|bookworm|sid, linux-image-<name>[=<version>], a .deb path, a kernel tree directory, build:SOURCE[+PATCH] or image:DIR)`,
  )
}

/** The kernel the environment selects: NVMF_FAULT_KERNEL, else NVMF_FAULT_KERNEL_DEB / _PKG, else default. */
export function kernelSpecFromEnv(env: NodeJS.ProcessEnv = process.env): KernelSpec {
  const k = env.NVMF_FAULT_KERNEL
  if (k !== undefined && k !== '') return parseKernelSpec(k)
  const deb = env.NVMF_FAULT_KERNEL_DEB
  if (deb !== undefined && deb !== '') return parseKernelSpec(deb.includes('/') ? deb : `./${deb}`)
  const pkg = env.NVMF_FAULT_KERNEL_PKG
  if (pkg !== undefined && pkg !== '') return parseKernelSpec(pkg)
  return { kind: 'default' }
}

export function formatKernelSpec(spec: KernelSpec): string {
  switch (spec.kind) {
    case 'default':
      return 'default'
    case 'series':
      return spec.series
    case 'suite':
      return Object.entries(SUITE_ALIASES).find(([, v]) => v === spec.suite)?.[0] ?? spec.suite
    case 'package':
      return spec.version !== undefined ? `${spec.pkg}=${spec.version}` : spec.pkg
    case 'debs':
      return spec.paths.join(',')
    case 'tree':
      return spec.dir
    case 'build':
      return `build:${spec.source}${spec.patch !== undefined ? `+${spec.patch}` : ''}`
    case 'image':
      return `image:${spec.dir}`
  }
}

/**
 * Expand a `--kernels` list: `all` is MATRIX_KERNELS; otherwise comma-separated specs (a spec with
 * commas of its own, a .deb list, goes through NVMF_FAULT_KERNEL instead).
 */
export function parseKernelList(text: string): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  const out: string[] = []
  for (const item of items) {
    if (item === 'all') out.push(...MATRIX_KERNELS)
    else {
      parseKernelSpec(item)
      out.push(item)
    }
  }
  if (out.length === 0) throw new InvalidArgumentError('kernels', 'is empty (use all or a comma-separated list such as 6.1,6.12)')
  return [...new Set(out)]
}
