/**
 * The Debian bookworm root file system blktests runs in: a debootstrap minbase with the tools the
 * nvme group calls (fio, nvme-cli, xfsprogs, util-linux, udev, the C and C++ toolchain for
 * blktests' src/ helpers ...). Built once per recipe fingerprint under `${NVMF_FAULT_CACHE}/blktests/rootfs-<fp>`
 * (a scratch directory renamed into place under a lock), then shared read-write with every guest
 * that runs blktests. The guest kernel's modules and config are added per kernel release: blktests
 * loads modules with modprobe and reads the config for `_have_kernel_option`.
 */
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cacheRoot, withDirLock } from '../kernel/cache.js'
import { execCapture, which } from '../kernel/exec.js'

/** What the nvme group needs beyond minbase (facts measured in the research note on the guest). */
export const ROOTFS_PACKAGES: readonly string[] = [
  'bash', 'coreutils', 'util-linux', 'mount', 'bsdextrautils', 'kmod', 'e2fsprogs', 'xfsprogs', 'procps', 'gawk',
  'fio', 'nvme-cli', 'udev', 'sudo', 'uuid-runtime', 'diffutils', 'findutils', 'grep', 'sed', 'iproute2', 'jq',
  'keyutils', 'gcc', 'g++', 'make', 'libc6-dev', 'liburing-dev', 'curl', 'ca-certificates',
]
export const ROOTFS_SUITE = 'bookworm'
const RECIPE = 'nvmf-fault-blktests-rootfs-1'

export interface Rootfs {
  dir: string
  fingerprint: string
}

export function blktestsCacheDir(): string {
  return join(cacheRoot(), 'blktests')
}

export function rootfsFingerprint(): string {
  return createHash('sha256').update(JSON.stringify({ RECIPE, suite: ROOTFS_SUITE, packages: ROOTFS_PACKAGES })).digest('hex').slice(0, 16)
}

function isReady(dir: string): boolean {
  return existsSync(join(dir, '.nvmf-fault-rootfs.json')) && existsSync(join(dir, 'bin', 'bash'))
}

/** The cached root file system, built first when missing (root and debootstrap needed; minutes). */
export async function ensureRootfs(log: (l: string) => void): Promise<Rootfs> {
  const fingerprint = rootfsFingerprint()
  const root = blktestsCacheDir()
  const dir = join(root, `rootfs-${fingerprint}`)
  if (isReady(dir)) return { dir, fingerprint }
  mkdirSync(root, { recursive: true })
  return withDirLock(join(root, `rootfs-${fingerprint}.lock`), { waitMs: 60 * 60_000, staleMs: 60 * 60_000, poll: () => (isReady(dir) ? { dir, fingerprint } : undefined) }, async () => {
    if (isReady(dir)) return { dir, fingerprint }
    const debootstrap = which('debootstrap')
    if (debootstrap === undefined) throw new Error('debootstrap is not installed (apt-get install debootstrap)')
    const work = join(root, `rootfs-${fingerprint}.build.${process.pid}`)
    rmSync(work, { recursive: true, force: true })
    const debCache = join(root, 'debootstrap-cache')
    mkdirSync(debCache, { recursive: true })
    log(`debootstrap ${ROOTFS_SUITE} (${ROOTFS_PACKAGES.length} packages) into ${work}; this takes minutes`)
    const t0 = performance.now()
    const r = await execCapture(
      'nice',
      ['-n', '10', debootstrap, '--variant=minbase', `--cache-dir=${debCache}`, `--include=${ROOTFS_PACKAGES.join(',')}`, ROOTFS_SUITE, work],
      { timeoutMs: 60 * 60_000 },
    )
    if (r.code !== 0) throw new Error(`debootstrap failed (exit ${r.code}): ${(r.stderr || r.stdout.toString()).trim().split('\n').slice(-15).join('\n')}`)
    writeFileSync(join(work, '.nvmf-fault-rootfs.json'), `${JSON.stringify({ recipe: RECIPE, suite: ROOTFS_SUITE, packages: ROOTFS_PACKAGES, builtMs: Math.round(performance.now() - t0) }, null, 2)}\n`)
    renameSync(work, dir)
    log(`root file system ready in ${Math.round((performance.now() - t0) / 1000)} s`)
    return { dir, fingerprint }
  })
}

/**
 * Put a kernel's modules tree and config into the root file system (once per release) and index
 * the modules with depmod, so modprobe in the guest finds what the running kernel needs.
 */
export async function installKernel(rootfs: string, kernel: { release: string; kmod?: string; config: string }): Promise<void> {
  const mod = join(rootfs, 'lib', 'modules', kernel.release)
  const marker = join(mod, '.nvmf-fault-installed')
  if (existsSync(marker)) return
  if (kernel.kmod === undefined) throw new Error(`kernel ${kernel.release} has no modules tree`)
  rmSync(mod, { recursive: true, force: true })
  cpSync(kernel.kmod, mod, { recursive: true })
  mkdirSync(join(rootfs, 'boot'), { recursive: true })
  writeFileSync(join(rootfs, 'boot', `config-${kernel.release}`), kernel.config)
  // The rootfs's own depmod (this machine may have no kmod).
  const r = await execCapture('chroot', [rootfs, '/usr/sbin/depmod', kernel.release], { timeoutMs: 300_000 })
  if (r.code !== 0) throw new Error(`depmod ${kernel.release}: ${r.stderr.trim()}`)
  writeFileSync(marker, `${new Date().toISOString()}\n`)
}
