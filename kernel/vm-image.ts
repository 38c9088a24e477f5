/**
 * The guest image: a kernel (see kernel-spec.ts: a Debian package fetched with `apt-get download`
 * and never installed here, a local .deb, or a build tree) and an initramfs (initramfs.ts) with
 * busybox-static, nvme-cli with its libraries, the NVMe/TCP host and target modules and our guest
 * `init` + `lib.sh`.
 *
 * Built once per input fingerprint under `${NVMF_FAULT_VM_DIR:-$NVMF_FAULT_CACHE/vm}/<fp>/`, one per
 * kernel; later runs find it there. Builds go to a scratch directory renamed into place under a
 * per-fingerprint lock, so concurrent processes never see half an image nor build one twice.
 */
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../lib/errors.js'
import { cacheRoot, withDirLock } from './cache.js'
import { execCapture, which } from './exec.js'
import { KERNEL_GUEST_DIR } from './guest-dir.js'
import { guestNvmeCli, nvmeCliFromEnv, type NvmeCliFiles } from './guest-nvme-cli.js'
import { BOOT_MODULES, buildInitramfs, ON_DEMAND_MODULES } from './initramfs.js'
import { prepareKernel, writeBootKernel } from './kernel-extract.js'
import { chooseKernel, fetchKernelDebs, kernelIdentity, type KernelChoice } from './kernel-fetch.js'
import { kernelSpecFromEnv, parseKernelSpec, type KernelSpec } from './kernel-spec.js'

export { BOOT_MODULES, ON_DEMAND_MODULES }

/** Bump when the layout of the image changes in a way the other inputs do not capture. */
const IMAGE_FORMAT = 'nvmf-fault-vm-2'

export interface VmImage {
  /** Directory holding the files below. */
  dir: string
  /** What QEMU boots: the uncompressed vmlinux (PVH entry) when one could be made, else the bzImage. */
  kernel: string
  bootMode: 'pvh' | 'bzimage'
  /** Uncompressed newc cpio. */
  initramfs: string
  kernelRelease: string
  /** What the kernel came from: package name and version, .deb file names, or the tree. */
  kernelPackage: string
  /** The kernel spec the image was built for (`6.12`, `bpo-latest`, `default`, a path ...). */
  kernelSpec: string
  /** The kernel build tree the image was made from (tree and build: specs), for its sources. */
  kernelTree?: string
  nvmeCliVersion: string
  busyboxVersion: string
  modules: string[]
  fingerprint: string
  /** Milliseconds spent building, 0 when the cached image was used. */
  buildMs: number
}

export interface VmImageOptions {
  /** Kernel spec (text or parsed); default from the environment (NVMF_FAULT_KERNEL ...). */
  kernel?: string | KernelSpec
  /** 'system' or a Debian suite whose nvme-cli goes into the guest; default NVMF_FAULT_GUEST_NVME_CLI or 'system'. */
  nvmeCli?: string
  log?: (line: string) => void
  force?: boolean
}

export type Availability = { ok: true } | { ok: false; reason: string }

export function vmCacheRoot(): string {
  const env = process.env.NVMF_FAULT_VM_DIR
  return env !== undefined && env !== '' ? env : join(cacheRoot(), 'vm')
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

interface Tools {
  qemu: string | undefined
  busybox: string | undefined
  nvme: string | undefined
  missing: { what: string; pkg: string }[]
}

async function isStatic(path: string): Promise<boolean> {
  // ldd prints "not a dynamic executable" (exit 1) for a static binary.
  const r = await execCapture('ldd', [path], { timeoutMs: 10_000 }).catch(() => undefined)
  return r !== undefined && r.code !== 0 && /not a dynamic executable/.test(r.stderr + r.stdout.toString())
}

async function findTools(): Promise<Tools> {
  const missing: { what: string; pkg: string }[] = []
  const qemu = which('qemu-system-x86_64')
  if (qemu === undefined) missing.push({ what: 'qemu-system-x86_64', pkg: 'qemu-system-x86' })
  // The guest needs a *static* busybox: the Debian busybox-static package puts it at /bin/busybox.
  const busybox = existsSync('/bin/busybox') && (await isStatic('/bin/busybox')) ? '/bin/busybox' : undefined
  if (busybox === undefined) missing.push({ what: 'a static /bin/busybox', pkg: 'busybox-static' })
  const nvme = which('nvme')
  if (nvme === undefined) missing.push({ what: 'nvme (nvme-cli)', pkg: 'nvme-cli' })
  for (const [tool, pkg] of [
    ['dpkg-deb', 'dpkg'],
    ['tar', 'tar'],
    ['xz', 'xz-utils'],
    ['apt-get', 'apt'],
  ] as const) {
    if (which(tool) === undefined) missing.push({ what: tool, pkg })
  }
  return { qemu, busybox, nvme, missing }
}

async function aptInstall(pkgs: readonly string[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const args = ['install', '-y', '-qq', '--no-install-recommends', ...pkgs]
  const first = await execCapture('apt-get', args, { timeoutMs: 600_000, env })
  if (first.code === 0) return
  await execCapture('apt-get', ['update', '-qq'], { timeoutMs: 300_000, env })
  await execCapture('apt-get', args, { timeoutMs: 600_000, env })
}

function specOf(opts: VmImageOptions): KernelSpec {
  if (opts.kernel === undefined) return kernelSpecFromEnv()
  return typeof opts.kernel === 'string' ? parseKernelSpec(opts.kernel) : opts.kernel
}

/**
 * Whether the interop suite can run here: QEMU, a static busybox, nvme-cli, dpkg-deb/xz and the
 * selected kernel (NVMF_FAULT_KERNEL ...). Running as root with apt, missing Debian packages are
 * installed (like `.ci/run`). `NVMF_FAULT_SKIP_INTEROP=1` turns the suite off.
 */
export async function interopAvailability(opts: Pick<VmImageOptions, 'kernel'> = {}): Promise<Availability> {
  if (process.env.NVMF_FAULT_SKIP_INTEROP === '1') return { ok: false, reason: 'NVMF_FAULT_SKIP_INTEROP=1' }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { ok: false, reason: `needs Linux on x86-64 (this is ${process.platform}/${process.arch})` }
  }
  let tools = await findTools()
  if (tools.missing.length > 0 && isRoot() && which('apt-get') !== undefined) {
    await aptInstall([...new Set(tools.missing.map((m) => m.pkg))])
    tools = await findTools()
  }
  if (tools.missing.length > 0) {
    const list = tools.missing.map((m) => `${m.what} (Debian package ${m.pkg})`).join(', ')
    return { ok: false, reason: `missing ${list}${isRoot() ? '' : '; run as root to let the harness apt-get install them'}` }
  }
  try {
    const spec = specOf(opts)
    if (spec.kind === 'image') {
      if (readImage(spec.dir) === undefined) throw new Error(`${spec.dir} holds no complete guest image`)
      return { ok: true }
    }
    const choose = (): Promise<unknown> => chooseKernel(spec, { vmDebsDir: join(vmCacheRoot(), 'debs') })
    // The system's package index may never have been fetched (fresh CI machine).
    const first = await choose().catch((e: unknown) => e)
    if (first instanceof Error) {
      if (spec.kind !== 'default' || !isRoot()) throw first
      await execCapture('apt-get', ['update', '-qq'], { timeoutMs: 300_000 })
      await choose()
    }
  } catch (e) {
    return { ok: false, reason: `no kernel: ${e instanceof Error ? e.message : String(e)}` }
  }
  return { ok: true }
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

interface Inputs {
  kernel: KernelChoice
  busybox: string
  busyboxVersion: string
  nvmeCli: NvmeCliFiles
  init: Buffer
  lib: Buffer
}

async function gatherInputs(opts: VmImageOptions, log: (l: string) => void): Promise<Inputs> {
  const tools = await findTools()
  if (tools.busybox === undefined) throw new Error(`cannot build the VM image: ${tools.missing.map((m) => m.what).join(', ')} missing`)
  const kernel = await chooseKernel(specOf(opts), { log, vmDebsDir: join(vmCacheRoot(), 'debs') })
  const nvmeCli = await guestNvmeCli(opts.nvmeCli ?? nvmeCliFromEnv(), log)
  const bbHead = (await execCapture(tools.busybox, [], { timeoutMs: 10_000 })).stdout.toString().split('\n')[0] ?? ''
  const busyboxVersion = /BusyBox (v\S+(?: \([^)]*\))?)/.exec(bbHead)?.[1] ?? bbHead
  return {
    kernel,
    busybox: tools.busybox,
    busyboxVersion,
    nvmeCli,
    init: readFileSync(join(KERNEL_GUEST_DIR, 'init')),
    lib: readFileSync(join(KERNEL_GUEST_DIR, 'lib.sh')),
  }
}

function fingerprint(i: Inputs): string {
  const fileId = (p: string): string => {
    const real = realpathSync(p)
    const s = statSync(real)
    return `${p}->${real}:${s.size}:${Math.floor(s.mtimeMs)}`
  }
  const lines = [
    IMAGE_FORMAT,
    ...kernelIdentity(i.kernel),
    `nvme=${i.nvmeCli.source} ${i.nvmeCli.version} ${fileId(i.nvmeCli.nvme)}`,
    `busybox=${i.busyboxVersion} ${fileId(i.busybox)}`,
    ...i.nvmeCli.libs.map((l) => `lib=${l.name} ${fileId(l.path)}`),
    `loader=${fileId(i.nvmeCli.loader)}`,
    `modules=${BOOT_MODULES.join(',')}|${ON_DEMAND_MODULES.join(',')}`,
    `init=${sha256(i.init)}`,
    `lib.sh=${sha256(i.lib)}`,
  ]
  return sha256(lines.join('\n')).slice(0, 16)
}

export function readImage(dir: string): VmImage | undefined {
  const info = join(dir, 'image.json')
  if (!existsSync(info)) return undefined
  const img = JSON.parse(readFileSync(info, 'utf8')) as Omit<VmImage, 'dir' | 'kernel' | 'initramfs' | 'buildMs'> & { kernelFile: string }
  const kernel = join(dir, img.kernelFile)
  const initramfs = join(dir, 'initramfs.cpio')
  if (!existsSync(kernel) || !existsSync(initramfs)) return undefined
  try {
    // Mark it used: pruning removes images nobody used for a day.
    const now = new Date()
    utimesSync(dir, now, now)
  } catch {
    // read-only cache: fine
  }
  return {
    dir,
    kernel,
    bootMode: img.bootMode,
    initramfs,
    kernelRelease: img.kernelRelease,
    kernelPackage: img.kernelPackage,
    kernelSpec: img.kernelSpec,
    nvmeCliVersion: img.nvmeCliVersion,
    busyboxVersion: img.busyboxVersion,
    modules: img.modules,
    fingerprint: img.fingerprint,
    buildMs: 0,
    ...(img.kernelTree !== undefined ? { kernelTree: img.kernelTree } : {}),
  }
}

/**
 * Return the cached image for the selected kernel and tools, building it first if needed.
 * `log` receives progress lines (a build takes ~15 s, plus the kernel download once).
 */
export async function ensureVmImage(opts: VmImageOptions = {}): Promise<VmImage> {
  const log = opts.log ?? (() => {})
  const spec = specOf(opts)
  if (spec.kind === 'image') {
    const img = readImage(spec.dir)
    if (img === undefined) throw new ConfigError('kernel', `${spec.dir} holds no complete guest image (image.json, kernel, initramfs.cpio)`)
    return img
  }
  const root = vmCacheRoot()
  mkdirSync(join(root, 'debs'), { recursive: true })
  const inputs = await gatherInputs({ ...opts, kernel: spec }, log)
  const fp = fingerprint(inputs)
  const dir = join(root, fp)
  const force = opts.force === true
  if (!force) {
    const cached = readImage(dir)
    if (cached !== undefined) return cached
  }
  // One builder per fingerprint (parallel test files, several users): the others wait for its result.
  return withDirLock(join(root, `build.${fp}.lock`), { waitMs: 20 * 60_000, staleMs: 15 * 60_000, ...(force ? {} : { poll: () => readImage(dir) }) }, async () => {
    if (!force) {
      const cached = readImage(dir)
      if (cached !== undefined) return cached
    }
    return buildImage(root, dir, fp, inputs, force, log)
  })
}

async function buildImage(root: string, dir: string, fp: string, inputs: Inputs, force: boolean, log: (line: string) => void): Promise<VmImage> {
  const t0 = performance.now()
  const debs = inputs.kernel.kind === 'debs' ? await fetchKernelDebs(inputs.kernel, log) : []
  const work = join(root, `build.${process.pid}.${randomBytes(4).toString('hex')}`)
  mkdirSync(work, { recursive: true })
  try {
    log(`building the guest image for ${inputs.kernel.label}`)
    const parts = await prepareKernel(inputs.kernel, debs, join(work, 'kroot'))
    const modules = await buildInitramfs(
      work,
      { kernel: parts, kernelLabel: inputs.kernel.label, busybox: inputs.busybox, busyboxVersion: inputs.busyboxVersion, nvmeCli: inputs.nvmeCli, init: inputs.init, lib: inputs.lib },
      log,
    )
    const boot = await writeBootKernel(parts, work, log)
    rmSync(join(work, 'kroot'), { recursive: true, force: true })
    writeFileSync(
      join(work, 'image.json'),
      JSON.stringify(
        {
          kernelFile: boot.kernelFile,
          bootMode: boot.bootMode,
          kernelRelease: parts.release,
          kernelPackage: inputs.kernel.label,
          kernelSpec: inputs.kernel.spec,
          ...(inputs.kernel.kind === 'tree' ? { kernelTree: inputs.kernel.tree.dir } : {}),
          nvmeCliVersion: inputs.nvmeCli.version,
          busyboxVersion: inputs.busyboxVersion,
          modules,
          fingerprint: fp,
        },
        null,
        2,
      ) + '\n',
    )
    if (force) rmSync(dir, { recursive: true, force: true })
    try {
      renameSync(work, dir)
    } catch (e) {
      // Another process finished the same image first: use theirs.
      if (readImage(dir) === undefined) throw e
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  const img = readImage(dir)
  if (img === undefined) throw new Error(`VM image in ${dir} is incomplete after building`)
  img.buildMs = Math.round(performance.now() - t0)
  pruneOldImages(root, fp)
  log(`built ${dir} (${img.kernelSpec}: ${img.kernelRelease}) in ${(img.buildMs / 1000).toFixed(1)} s`)
  return img
}

/** Remove images of other fingerprints nobody used for a day (old kernels, old guest scripts). */
function pruneOldImages(root: string, keep: string): void {
  const dayAgo = Date.now() - 24 * 3600 * 1000
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === keep || e.name === 'debs' || e.name.endsWith('.lock')) continue
    const p = join(root, e.name)
    try {
      if (statSync(p).mtimeMs < dayAgo) rmSync(p, { recursive: true, force: true })
    } catch {
      // another process removed it
    }
  }
}
