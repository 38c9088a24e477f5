/**
 * The nvme-cli that goes into the guest: this machine's (`system`, with the libraries `ldd`
 * names), or a Debian suite's (`trixie`: nvme-cli 2.13 / libnvme 1.13, which know DH-HMAC-CHAP and
 * TLS options bookworm's 2.3 lacks) with that suite's libraries and dynamic loader, unpacked from
 * packages fetched through the private apt configuration. Selected with `nvmeCli` or
 * `NVMF_FAULT_GUEST_NVME_CLI=system|trixie|sid`.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ConfigError, InvalidArgumentError } from '../lib/errors.js'
import { cacheRoot, withDirLock } from './cache.js'
import { compareDebVersions } from './deb-version.js'
import { DebianApt } from './debian-apt.js'
import { execText, which } from './exec.js'
import { lddLibraries } from './ldd.js'

export interface NvmeCliFiles {
  /** The nvme binary. */
  nvme: string
  /** Shared libraries for the guest's /lib/x86_64-linux-gnu: file name there, and the file to copy. */
  libs: { name: string; path: string }[]
  /** The dynamic loader (goes to /lib64). */
  loader: string
  /** `nvme version` output, one line. */
  version: string
  /** 'system' or the Debian suite. */
  source: string
}

/** `system` unless NVMF_FAULT_GUEST_NVME_CLI names a Debian suite. */
export function nvmeCliFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.NVMF_FAULT_GUEST_NVME_CLI
  return v !== undefined && v !== '' ? v : 'system'
}

function oneLine(s: string): string {
  return s.trim().replace(/\s*\n\s*/g, '; ')
}

/** Packages a suite's nvme-cli needs at run time: nvme-cli and the closure of its lib* dependencies. */
async function closure(apt: DebianApt, suite: string): Promise<{ pkg: string; version: string }[]> {
  const out: { pkg: string; version: string }[] = []
  const seen = new Set<string>()
  const queue = ['nvme-cli']
  while (queue.length > 0 && out.length < 40) {
    const pkg = queue.shift() as string
    if (seen.has(pkg)) continue
    seen.add(pkg)
    const v = (await apt.madison([pkg])).filter((x) => x.suites.includes(suite)).sort((a, b) => compareDebVersions(b.version, a.version))[0]
    if (v === undefined) {
      if (pkg === 'nvme-cli') throw new ConfigError('nvmeCli', `no nvme-cli in ${suite}`)
      continue // virtual or not in this suite
    }
    out.push({ pkg, version: v.version })
    // Only libraries: nvme-cli's other dependencies (uuid-runtime, gcc-*-base, gconv modules,
    // openssl-provider-legacy) are not needed to run it and pull in half a system.
    for (const d of await apt.depends(pkg, v.version)) if (/^(lib|zlib)/.test(d) && !/gconv/.test(d) && !seen.has(d)) queue.push(d)
  }
  return out
}

async function debianNvmeCli(suite: string, log: (l: string) => void): Promise<NvmeCliFiles> {
  const apt = DebianApt.open({ log })
  await apt.update()
  const pkgs = await closure(apt, suite)
  const key = pkgs.map((p) => `${p.pkg}_${p.version}`).join(' ')
  const nvmeVersion = pkgs[0]?.version ?? ''
  const dir = join(cacheRoot(), 'guest-tools', `nvme-cli-${suite}-${nvmeVersion.replace(/[^A-Za-z0-9.+~-]/g, '_')}`)
  const root = join(dir, 'root')
  const done = (): true | undefined => (existsSync(join(dir, 'packages')) ? true : undefined)
  if (done() === undefined) {
    mkdirSync(dirname(dir), { recursive: true })
    await withDirLock(`${dir}.lock`, { waitMs: 15 * 60_000, staleMs: 15 * 60_000, poll: done }, async () => {
      if (done() !== undefined) return true
      const work = `${dir}.build.${process.pid}.${randomBytes(4).toString('hex')}`
      mkdirSync(join(work, 'root'), { recursive: true })
      try {
        for (const p of pkgs) {
          const deb = await apt.download(p.pkg, p.version)
          await execText('bash', ['-c', 'set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2"', 'bash', deb, join(work, 'root')], { timeoutMs: 300_000 })
        }
        writeFileSync(join(work, 'packages'), key + '\n')
        rmSync(dir, { recursive: true, force: true })
        renameSync(work, dir)
      } finally {
        rmSync(work, { recursive: true, force: true })
      }
      return true
    })
  }
  const libDirs = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'].map((d) => join(root, d)).filter((d) => existsSync(d))
  // Symlinks in the packages may be absolute (/usr/lib/...): resolve them inside `root`, never
  // on this machine, whose libraries are another release's.
  const inRoot = (p: string): string | undefined => {
    for (let hops = 0; hops < 8; hops++) {
      const st = lstatSync(p, { throwIfNoEntry: false })
      if (st === undefined) return undefined
      if (!st.isSymbolicLink()) return st.isFile() ? p : undefined
      const target = readlinkSync(p)
      p = target.startsWith('/') ? join(root, target) : join(dirname(p), target)
    }
    return undefined
  }
  const libs = libDirs.flatMap((d) =>
    readdirSync(d).flatMap((name) => {
      const path = /\.so(\.|$)/.test(name) ? inRoot(join(d, name)) : undefined
      return path !== undefined ? [{ name, path }] : []
    }),
  )
  const loader = ['usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'usr/lib64/ld-linux-x86-64.so.2', 'lib64/ld-linux-x86-64.so.2'].map((p) => inRoot(join(root, p))).find((p) => p !== undefined)
  const nvme = join(root, 'usr/sbin/nvme')
  if (loader === undefined || !existsSync(nvme)) throw new ConfigError('nvmeCli', `${suite}: nvme-cli or libc6's loader missing in ${root}`)
  // Run it here with its own loader and libraries: proves the set is complete (the loader would
  // fall back to this machine's libraries, so every resolved one must be in `root`) and gives the version.
  const listed = await execText(loader, ['--library-path', libDirs.join(':'), '--list', nvme], { timeoutMs: 10_000 })
  const outside = listed.split('\n').filter((l) => /=> \//.test(l) && !l.includes(`=> ${root}`))
  if (outside.length > 0) throw new ConfigError('nvmeCli', `${suite}'s nvme-cli needs libraries its packages lack: ${outside.map((l) => l.trim()).join('; ')}`)
  const version = oneLine(await execText(loader, ['--library-path', libDirs.join(':'), nvme, 'version'], { timeoutMs: 10_000 }))
  return { nvme, libs: libs.sort((a, b) => a.name.localeCompare(b.name)), loader, version, source: suite }
}

/** The nvme-cli files for `choice` ('system' or a Debian suite). */
export async function guestNvmeCli(choice: string, log: (l: string) => void = () => {}): Promise<NvmeCliFiles> {
  if (choice === 'system') {
    const nvme = which('nvme')
    if (nvme === undefined) throw new ConfigError('nvmeCli', 'nvme (Debian package nvme-cli) is not installed')
    const version = oneLine(await execText(nvme, ['version'], { timeoutMs: 10_000 }))
    return { nvme, ...(await lddLibraries(nvme)), version, source: 'system' }
  }
  if (!/^[a-z]+(-backports)?$/.test(choice)) throw new InvalidArgumentError('nvmeCli', `must be 'system' or a Debian suite (trixie, sid), not '${choice}'`)
  return debianNvmeCli(choice, log)
}
