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
 *                        lib/modules/<release>/, optional .config
 */
import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { InvalidArgumentError } from '../lib/errors.js'

export type KernelSpec =
  | { kind: 'default' }
  | { kind: 'series'; series: string }
  | { kind: 'suite'; suite: string }
  | { kind: 'package'; pkg: string; version?: string }
  | { kind: 'debs'; paths: string[] }
  | { kind: 'tree'; dir: string }

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

export function parseKernelSpec(text: string): KernelSpec {
  const s = text.trim()
  if (s === '' || s === 'default' || s === 'system') return { kind: 'default' }
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
    if (parts.length === 1 && statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true) return { kind: 'tree', dir }
    throw new InvalidArgumentError('kernel', `'${s}' is neither a directory nor a list of .deb files`)
  }
  throw new InvalidArgumentError(
    'kernel',
    `'${s}' is not a kernel spec (default, a series like 6.12, bpo-latest|trixie|bookworm|sid, linux-image-<name>[=<version>], a .deb path or a kernel tree directory)`,
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
