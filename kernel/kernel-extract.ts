/**
 * Unpack a chosen kernel into what the image builder needs: the release, the boot image, the
 * config and the modules directory. Debian packages are unpacked (only /boot and the modules;
 * `/lib/modules` before trixie, `/usr/lib/modules` after); a build tree is used in place.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../lib/errors.js'
import { execCapture, which } from './exec.js'
import type { KernelChoice } from './kernel-fetch.js'

export interface KernelParts {
  release: string
  /** The bzImage (or vmlinuz), when there is one. */
  bzImage?: string
  /** An uncompressed ELF vmlinux given as such (build trees). */
  vmlinux?: string
  /** The kernel .config text ('' when unknown). */
  config: string
  /** `.../modules/<release>`, when the kernel has modules. */
  kmod?: string
}

/** Unpack `debs` (all into one root: 7.x splits kernel, modules and config over three packages). */
async function unpackDebs(debs: readonly string[], kroot: string): Promise<void> {
  for (const deb of debs) {
    const r = await execCapture(
      'bash',
      ['-c', 'set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "./boot/*" "*/modules/*"', 'bash', deb, kroot],
      { timeoutMs: 300_000 },
    )
    // tar exits 2 when a pattern matches nothing in this package (a split package has only some parts).
    const onlyNotFound = r.code === 2 && r.stderr.split('\n').every((l) => l.trim() === '' || /Not found in archive|Exiting with failure status/.test(l))
    if (r.code !== 0 && !onlyNotFound) throw new Error(`unpacking ${deb}: exit ${r.code}: ${r.stderr.trim().slice(0, 1000)}`)
  }
}

export async function prepareKernel(c: KernelChoice, debs: readonly string[], kroot: string): Promise<KernelParts> {
  if (c.kind === 'tree') {
    const t = c.tree
    const parts: KernelParts = { release: t.release, config: t.config !== undefined ? readFileSync(t.config, 'utf8') : '' }
    if (t.bzImage !== undefined) parts.bzImage = t.bzImage
    if (t.vmlinux !== undefined) parts.vmlinux = t.vmlinux
    if (t.modules !== undefined) parts.kmod = t.modules
    return parts
  }
  mkdirSync(kroot, { recursive: true })
  await unpackDebs(debs, kroot)
  const bootDir = join(kroot, 'boot')
  const boot = existsSync(bootDir) ? readdirSync(bootDir) : []
  const modBase = [join(kroot, 'lib', 'modules'), join(kroot, 'usr', 'lib', 'modules')].find((d) => existsSync(d))
  const release = modBase !== undefined ? readdirSync(modBase).find((r) => statSync(join(modBase, r)).isDirectory()) : boot.find((f) => f.startsWith('vmlinuz-'))?.slice('vmlinuz-'.length)
  const kmod = modBase !== undefined && release !== undefined ? join(modBase, release) : undefined
  // Up to 6.x: /boot/vmlinuz-<release> and /boot/config-<release>; from 7.x (linux-binary-*,
  // linux-base-*): /usr/lib/modules/<release>/vmlinuz and .../config.
  const first = (...paths: (string | undefined)[]): string | undefined => paths.find((p): p is string => p !== undefined && existsSync(p))
  const bzImage = first(release !== undefined ? join(bootDir, `vmlinuz-${release}`) : undefined, kmod !== undefined ? join(kmod, 'vmlinuz') : undefined)
  const config = first(release !== undefined ? join(bootDir, `config-${release}`) : undefined, kmod !== undefined ? join(kmod, 'config') : undefined)
  if (bzImage === undefined || release === undefined) {
    throw new ConfigError('kernel', `${c.label}: no kernel image${modBase === undefined ? ' or modules' : ''} inside (a 7.x linux-image-* is a metapackage: give linux-binary-*, linux-modules-* and linux-base-* too)`)
  }
  const parts: KernelParts = { release, bzImage, config: config !== undefined ? readFileSync(config, 'utf8') : '' }
  if (kmod !== undefined && existsSync(join(kmod, 'kernel'))) parts.kmod = kmod
  return parts
}

/** Find the compressed kernel inside a bzImage and decompress it; undefined unless it is an ELF. */
export async function extractVmlinux(bzImage: Buffer): Promise<Buffer | undefined> {
  const formats: { magic: Buffer; cmd: string; args: string[] }[] = [
    { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), cmd: 'xz', args: ['-dc', '--single-stream'] },
    { magic: Buffer.from([0x1f, 0x8b, 0x08]), cmd: 'gzip', args: ['-dc'] },
    { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), cmd: 'zstd', args: ['-dc'] },
  ]
  for (const f of formats) {
    if (which(f.cmd) === undefined) continue
    let from = 0
    for (let tries = 0; tries < 5; tries++) {
      const off = bzImage.indexOf(f.magic, from)
      if (off < 0) break
      from = off + 1
      const r = await execCapture(f.cmd, f.args, { timeoutMs: 120_000, input: bzImage.subarray(off) })
      // Trailing bytes after the stream make gzip/zstd complain; the output is still whole.
      if (r.stdout.length > 4 && r.stdout.readUInt32BE(0) === 0x7f454c46) return r.stdout
    }
  }
  return undefined
}

/**
 * Write the file QEMU boots into `work`: the uncompressed vmlinux through its PVH entry when the
 * kernel has CONFIG_PVH (no in-guest decompression, which costs ~4 s under TCG), else the bzImage.
 */
export async function writeBootKernel(parts: KernelParts, work: string, log: (l: string) => void): Promise<{ kernelFile: string; bootMode: 'pvh' | 'bzimage' }> {
  const pvh = /^CONFIG_PVH=y$/m.test(parts.config)
  if (pvh && parts.vmlinux !== undefined) {
    // A build tree has both: its vmlinux needs no extracting.
    writeFileSync(join(work, 'vmlinux'), readFileSync(parts.vmlinux))
    return { kernelFile: 'vmlinux', bootMode: 'pvh' }
  }
  if (parts.bzImage !== undefined) {
    const bz = readFileSync(parts.bzImage)
    writeFileSync(join(work, 'vmlinuz'), bz)
    if (pvh) {
      const vmlinux = await extractVmlinux(bz)
      if (vmlinux !== undefined) {
        writeFileSync(join(work, 'vmlinux'), vmlinux)
        return { kernelFile: 'vmlinux', bootMode: 'pvh' }
      }
      log('note: could not extract vmlinux; booting the bzImage')
    }
    return { kernelFile: 'vmlinuz', bootMode: 'bzimage' }
  }
  if (parts.vmlinux !== undefined) {
    // QEMU boots an ELF vmlinux only through its PVH note.
    if (parts.config !== '' && !pvh) throw new ConfigError('kernel', 'a vmlinux without a bzImage needs CONFIG_PVH=y to boot under QEMU')
    writeFileSync(join(work, 'vmlinux'), readFileSync(parts.vmlinux))
    return { kernelFile: 'vmlinux', bootMode: 'pvh' }
  }
  throw new ConfigError('kernel', 'no kernel image')
}
