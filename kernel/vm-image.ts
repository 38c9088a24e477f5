/**
 * The guest image of the interop suite: a stock Debian kernel (from the `linux-image-amd64`
 * package, fetched with `apt-get download`, never installed on this machine) and an initramfs
 * holding busybox-static, nvme-cli with the libraries `ldd` names, the NVMe/TCP host and target
 * modules with their dependencies, and our guest `init` + `lib.sh`.
 *
 * Built once per input fingerprint under `${NVMF_FAULT_VM_DIR:-~/.cache/nvmf-fault/vm}/<fp>/`;
 * later runs find it there. Builds go to a scratch directory renamed into place, so concurrent
 * test processes never see half an image.
 */
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, dirname, join, relative } from 'node:path'
import { encodeCpio, type CpioEntry } from './cpio.js'
import { execCapture, execText, which } from './exec.js'
import { KERNEL_GUEST_DIR } from './guest-dir.js'

/** Bump when the layout of the image changes in a way the other inputs do not capture. */
const IMAGE_FORMAT = 'nvmf-fault-vm-1'


/**
 * Modules the guest loads at boot, in this order (each after its own dependencies, which are
 * resolved from the modules' `depends=` modinfo). The crypto providers come first: nvme-core pulls
 * in t10-pi / crc-t10dif / crc64-rocksoft, which look their algorithm up by name at init time, and
 * nvme-tcp / nvmet-tcp ask for "crc32c" when digests are negotiated; modinfo cannot see those.
 */
export const BOOT_MODULES: readonly string[] = [
  'crc32c_generic',
  'crc32c_intel',
  'crct10dif_generic',
  'crct10dif_pclmul',
  'crc64_rocksoft_generic',
  'virtio_pci',
  'virtio_net',
  '9pnet_virtio',
  '9p',
  'configfs',
  'nvme_core',
  'nvme_fabrics',
  'nvme_tcp',
  'nvmet',
  'nvmet_tcp',
]

/** In the image but loaded by jobs only, with their own parameters (`modprobe null_blk gb=1`). */
export const ON_DEMAND_MODULES: readonly string[] = ['null_blk']

export interface VmImage {
  /** Directory holding the files below. */
  dir: string
  /** What QEMU boots: the uncompressed vmlinux (PVH entry) when one could be made, else the bzImage. */
  kernel: string
  bootMode: 'pvh' | 'bzimage'
  /** Uncompressed newc cpio. */
  initramfs: string
  kernelRelease: string
  kernelPackage: string
  nvmeCliVersion: string
  busyboxVersion: string
  modules: string[]
  fingerprint: string
  /** Milliseconds spent building, 0 when the cached image was used. */
  buildMs: number
}

export type Availability = { ok: true } | { ok: false; reason: string }

export function vmCacheRoot(): string {
  const env = process.env.NVMF_FAULT_VM_DIR
  return env !== undefined && env !== '' ? env : join(homedir(), '.cache', 'nvmf-fault', 'vm')
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

interface KernelDebChoice {
  /** Where the .deb is or will be. */
  path: string
  /** Package name + version to pass to `apt-get download`, when it still has to be fetched. */
  download?: string
}

async function aptCandidate(): Promise<{ pkg: string; version: string } | undefined> {
  const pkgEnv = process.env.NVMF_FAULT_KERNEL_PKG
  let pkg = pkgEnv !== undefined && pkgEnv !== '' ? pkgEnv : undefined
  if (pkg === undefined) {
    const deps = await execCapture('apt-cache', ['depends', 'linux-image-amd64'], { timeoutMs: 60_000 }).catch(() => undefined)
    pkg = /Depends: (linux-image-\S+)/.exec(deps?.stdout.toString() ?? '')?.[1]
  }
  if (pkg === undefined) return undefined
  const policy = await execCapture('apt-cache', ['policy', pkg], { timeoutMs: 60_000 }).catch(() => undefined)
  const version = /Candidate: (\S+)/.exec(policy?.stdout.toString() ?? '')?.[1]
  if (version === undefined || version === '(none)') return undefined
  return { pkg, version }
}

/** Decide which kernel .deb to use without downloading it yet. */
async function chooseKernelDeb(root: string): Promise<KernelDebChoice | undefined> {
  const explicit = process.env.NVMF_FAULT_KERNEL_DEB
  if (explicit !== undefined && explicit !== '') return existsSync(explicit) ? { path: explicit } : undefined
  const debs = join(root, 'debs')
  let cand = await aptCandidate()
  if (cand === undefined && isRoot() && which('apt-get') !== undefined) {
    await execCapture('apt-get', ['update', '-qq'], { timeoutMs: 300_000 })
    cand = await aptCandidate()
  }
  if (cand !== undefined) {
    const file = `${cand.pkg}_${cand.version.replace(/:/g, '%3a')}_amd64.deb`
    const path = join(debs, file)
    return existsSync(path) ? { path } : { path, download: `${cand.pkg}=${cand.version}` }
  }
  // No package index (offline): fall back to the newest .deb fetched earlier.
  const cached = existsSync(debs)
    ? readdirSync(debs)
        .filter((f) => /^linux-image-.*\.deb$/.test(f))
        .map((f) => join(debs, f))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    : []
  return cached[0] !== undefined ? { path: cached[0] } : undefined
}

/**
 * Whether the interop suite can run here: QEMU, a static busybox, nvme-cli, dpkg-deb/xz and a
 * kernel package to download. Running as root with apt, missing Debian packages are installed
 * (like `.ci/run`). `NVMF_FAULT_SKIP_INTEROP=1` turns the suite off.
 */
export async function interopAvailability(): Promise<Availability> {
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
  const deb = await chooseKernelDeb(vmCacheRoot())
  if (deb === undefined) {
    return { ok: false, reason: 'no linux-image-amd64 kernel package: apt-cache knows none and no .deb is cached (set NVMF_FAULT_KERNEL_DEB)' }
  }
  return { ok: true }
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

async function nvmeLibraries(nvme: string): Promise<{ libs: string[]; loader: string }> {
  const out = await execText('ldd', [nvme], { timeoutMs: 10_000 })
  const libs: string[] = []
  let loader = ''
  for (const line of out.split('\n')) {
    const arrow = /=>\s+(\/\S+)\s+\(/.exec(line)
    const bare = /^\s+(\/\S+)\s+\(/.exec(line)
    const p = arrow?.[1] ?? bare?.[1]
    if (p === undefined) continue
    if (/\/ld-linux/.test(p)) loader = p
    else libs.push(p)
  }
  if (loader === '') throw new Error(`ldd ${nvme}: no dynamic loader listed`)
  return { libs: [...new Set(libs)].sort(), loader }
}

/** Parse one module's modinfo (`depends=a,b` and `softdep=pre: x y`) from the .ko bytes. */
function moduleDeps(ko: Buffer): string[] {
  const deps: string[] = []
  const text = ko.toString('latin1')
  const dep = /\0depends=([^\0]*)\0/.exec(text)
  if (dep?.[1] !== undefined && dep[1] !== '') deps.push(...dep[1].split(','))
  const soft = /\0softdep=pre:([^\0]*?)(?:post:[^\0]*)?\0/.exec(text)
  if (soft?.[1] !== undefined) deps.push(...soft[1].trim().split(/\s+/).filter((s) => s !== ''))
  return deps.map((d) => d.replace(/-/g, '_'))
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) walk(p, out)
    else if (e.isFile()) out.push(p)
  }
  return out
}

async function readModule(path: string): Promise<Buffer> {
  if (path.endsWith('.ko')) return readFileSync(path)
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : 'gzip'
  const r = await execCapture(tool, ['-dc', path], { timeoutMs: 60_000 })
  if (r.code !== 0) throw new Error(`${tool} -dc ${path}: ${r.stderr}`)
  return r.stdout
}

/** Find the compressed kernel inside a bzImage and decompress it; undefined unless it is an ELF. */
async function extractVmlinux(bzImage: Buffer): Promise<Buffer | undefined> {
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

interface Inputs {
  deb: KernelDebChoice
  busybox: string
  nvme: string
  nvmeVersion: string
  busyboxVersion: string
  libs: string[]
  loader: string
  init: Buffer
  lib: Buffer
}

async function gatherInputs(root: string): Promise<Inputs> {
  const tools = await findTools()
  if (tools.busybox === undefined || tools.nvme === undefined) {
    throw new Error(`cannot build the VM image: ${tools.missing.map((m) => m.what).join(', ')} missing`)
  }
  const deb = await chooseKernelDeb(root)
  if (deb === undefined) throw new Error('cannot build the VM image: no linux-image-amd64 package')
  const nvmeVersion = (await execText(tools.nvme, ['version'], { timeoutMs: 10_000 })).trim().replace(/\s*\n\s*/g, '; ')
  const bbHead = (await execCapture(tools.busybox, [], { timeoutMs: 10_000 })).stdout.toString().split('\n')[0] ?? ''
  const busyboxVersion = /BusyBox (v\S+(?: \([^)]*\))?)/.exec(bbHead)?.[1] ?? bbHead
  const { libs, loader } = await nvmeLibraries(tools.nvme)
  return {
    deb,
    busybox: tools.busybox,
    nvme: tools.nvme,
    nvmeVersion,
    busyboxVersion,
    libs,
    loader,
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
    `deb=${basename(i.deb.path)}`,
    `nvme=${i.nvmeVersion} ${fileId(i.nvme)}`,
    `busybox=${i.busyboxVersion} ${fileId(i.busybox)}`,
    ...i.libs.map((l) => `lib=${fileId(l)}`),
    `loader=${fileId(i.loader)}`,
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
  return {
    dir,
    kernel,
    bootMode: img.bootMode,
    initramfs,
    kernelRelease: img.kernelRelease,
    kernelPackage: img.kernelPackage,
    nvmeCliVersion: img.nvmeCliVersion,
    busyboxVersion: img.busyboxVersion,
    modules: img.modules,
    fingerprint: img.fingerprint,
    buildMs: 0,
  }
}

/**
 * Return the cached image for the current inputs, building it first if needed.
 * `log` receives progress lines (the build takes ~15 s, plus the kernel download once).
 */
export async function ensureVmImage(opts: { log?: (line: string) => void; force?: boolean } = {}): Promise<VmImage> {
  const log = opts.log ?? (() => {})
  const root = vmCacheRoot()
  mkdirSync(join(root, 'debs'), { recursive: true })
  const inputs = await gatherInputs(root)
  const fp = fingerprint(inputs)
  const dir = join(root, fp)
  if (opts.force !== true) {
    const cached = readImage(dir)
    if (cached !== undefined) return cached
  }
  // One builder at a time (parallel test files): the others wait for its result.
  const lock = join(root, `build.${fp}.lock`)
  for (let waited = 0; ; waited += 500) {
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, 'pid'), String(process.pid))
      break
    } catch {
      const done = opts.force === true ? undefined : readImage(dir)
      if (done !== undefined) return done
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now())
      if (age > 15 * 60_000 || (age > 2000 && !builderAlive(lock))) rmSync(lock, { recursive: true, force: true })
      if (waited > 20 * 60_000) throw new Error(`timed out waiting for another process to build ${dir} (lock ${lock})`)
      await new Promise((r) => setTimeout(r, 500))
    }
  }
  try {
    if (opts.force !== true) {
      const cached = readImage(dir)
      if (cached !== undefined) return cached
    }
    return await buildImage(root, dir, fp, inputs, opts.force === true, log)
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

async function buildImage(root: string, dir: string, fp: string, inputs: Inputs, force: boolean, log: (line: string) => void): Promise<VmImage> {
  const t0 = performance.now()
  if (inputs.deb.download !== undefined) {
    log(`apt-get download ${inputs.deb.download}`)
    // Download into a private directory and rename: concurrent test processes never see a partial .deb.
    const dl = join(root, 'debs', `dl.${process.pid}.${randomBytes(4).toString('hex')}`)
    mkdirSync(dl)
    try {
      await execText('apt-get', ['download', '-qq', inputs.deb.download], { timeoutMs: 600_000, cwd: dl })
      const got = join(dl, basename(inputs.deb.path))
      if (!existsSync(got)) throw new Error(`apt-get download ${inputs.deb.download} did not produce ${basename(inputs.deb.path)}`)
      renameSync(got, inputs.deb.path)
    } finally {
      rmSync(dl, { recursive: true, force: true })
    }
  }
  const work = join(root, `build.${process.pid}.${randomBytes(4).toString('hex')}`)
  mkdirSync(work, { recursive: true })
  try {
    await buildInto(work, inputs, fp, log)
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
  log(`built ${dir} in ${(img.buildMs / 1000).toFixed(1)} s`)
  return img
}

function builderAlive(lock: string): boolean {
  try {
    process.kill(Number(readFileSync(join(lock, 'pid'), 'utf8')), 0)
    return true
  } catch (e) {
    // EPERM: it exists but is not ours to signal.
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Remove images of other fingerprints not touched for a day (old kernels, old guest scripts). */
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

async function buildInto(work: string, i: Inputs, fp: string, log: (line: string) => void): Promise<void> {
  log(`building the guest image from ${basename(i.deb.path)}`)
  const kroot = join(work, 'kroot')
  mkdirSync(kroot)
  // Only /boot and the modules are needed from the package.
  try {
    await execText(
      'bash',
      ['-c', 'set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "./boot/vmlinuz-*" "./boot/config-*" "*/modules/*"', 'bash', i.deb.path, kroot],
      { timeoutMs: 300_000 },
    )
  } catch (e) {
    // A damaged download must not stay in the cache for ever: the next run fetches it again.
    if (i.deb.download !== undefined || dirname(i.deb.path) === join(vmCacheRoot(), 'debs')) rmSync(i.deb.path, { force: true })
    throw e
  }
  const modBase = existsSync(join(kroot, 'lib', 'modules')) ? join(kroot, 'lib', 'modules') : join(kroot, 'usr', 'lib', 'modules')
  const release = readdirSync(modBase)[0]
  const vmlinuzName = readdirSync(join(kroot, 'boot')).find((f) => f.startsWith('vmlinuz-'))
  const configName = readdirSync(join(kroot, 'boot')).find((f) => f.startsWith('config-'))
  if (release === undefined || vmlinuzName === undefined) throw new Error(`${i.deb.path}: no kernel image or modules inside`)
  const kmod = join(modBase, release)

  // name (dashes as underscores) -> path relative to /lib/modules/<release>
  const byName = new Map<string, string>()
  for (const p of walk(kmod)) {
    const m = /\/([^/]+)\.ko(\.xz|\.zst|\.gz)?$/.exec(p)
    if (m?.[1] !== undefined) byName.set(m[1].replace(/-/g, '_'), relative(kmod, p))
  }
  const builtinFile = join(kmod, 'modules.builtin')
  const builtin = new Set(
    existsSync(builtinFile)
      ? readFileSync(builtinFile, 'utf8')
          .split('\n')
          .map((l) => basename(l).replace(/\.ko$/, '').replace(/-/g, '_'))
      : [],
  )

  // Resolve dependencies; `order` is a load order (every module after its dependencies).
  const contents = new Map<string, Buffer>()
  const depsOf = new Map<string, string[]>()
  const order: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const notFound: string[] = []
  const visit = async (name: string): Promise<void> => {
    if (state.has(name)) return
    const rel = byName.get(name)
    if (rel === undefined) {
      if (!builtin.has(name)) notFound.push(name)
      state.set(name, 'done')
      return
    }
    state.set(name, 'visiting')
    const ko = await readModule(join(kmod, rel))
    contents.set(name, ko)
    const deps = moduleDeps(ko)
    depsOf.set(name, deps.filter((d) => byName.has(d)))
    for (const d of deps) await visit(d)
    state.set(name, 'done')
    order.push(name)
  }
  for (const m of [...BOOT_MODULES, ...ON_DEMAND_MODULES]) await visit(m)
  const essential = ['configfs', 'nvme_core', 'nvme_fabrics', 'nvme_tcp', 'nvmet', 'nvmet_tcp', 'virtio_net', '9p', '9pnet_virtio']
  const lost = essential.filter((m) => notFound.includes(m))
  if (lost.length > 0) throw new Error(`kernel ${release} lacks modules: ${lost.join(', ')}`)
  const wantedMissing = notFound.filter((m) => BOOT_MODULES.includes(m) || ON_DEMAND_MODULES.includes(m))
  if (wantedMissing.length > 0) log(`note: not in kernel ${release}: ${wantedMissing.join(', ')}`)

  // Boot-time load list: the closure of BOOT_MODULES only, in dependency order.
  const bootSet = new Set<string>()
  const addClosure = (n: string): void => {
    if (bootSet.has(n) || !contents.has(n)) return
    bootSet.add(n)
    for (const d of depsOf.get(n) ?? []) addClosure(d)
  }
  for (const m of BOOT_MODULES) addClosure(m)
  const modPath = (n: string): string => (byName.get(n) ?? '').replace(/\.(xz|zst|gz)$/, '')

  // ---- the root file system (deterministic: sorted, fixed metadata)
  const files = new Map<string, CpioEntry>()
  const addDir = (p: string): void => {
    const parts = p.split('/').filter((s) => s !== '')
    for (let k = 1; k <= parts.length; k++) {
      const d = parts.slice(0, k).join('/')
      if (!files.has(d)) files.set(d, { kind: 'dir', path: d })
    }
  }
  const addFile = (p: string, data: Buffer, mode = 0o644): void => {
    addDir(dirname(p))
    files.set(p, { kind: 'file', path: p, data, mode })
  }
  const addLink = (p: string, target: string): void => {
    addDir(dirname(p))
    files.set(p, { kind: 'symlink', path: p, target })
  }
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'run', 'host', 'root', 'etc/nvme', 'var/log', 'mnt']) addDir(d)
  files.set('dev/console', { kind: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 })
  files.set('dev/null', { kind: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 })

  addFile('bin/busybox', readFileSync(i.busybox), 0o755)
  const applets = (await execText(i.busybox, ['--list-full'], { timeoutMs: 10_000 })).split('\n').filter((a) => a !== '' && a !== 'bin/busybox')
  for (const a of applets) if (!files.has(a)) addLink(a, '/bin/busybox')

  addFile('usr/sbin/nvme', readFileSync(i.nvme), 0o755)
  for (const l of i.libs) addFile(`lib/x86_64-linux-gnu/${basename(l)}`, readFileSync(l), 0o755)
  addFile(`lib64/${basename(i.loader)}`, readFileSync(i.loader), 0o755)
  addLink('usr/lib', '../lib')

  const mdir = `lib/modules/${release}`
  for (const n of order) addFile(`${mdir}/${modPath(n)}`, contents.get(n) ?? Buffer.alloc(0))
  // modules.dep in kmod's format (dependencies listed after the module, deepest last) for the
  // jobs' `modprobe`; init itself uses insmod in the order computed here.
  const depLine = (n: string): string => {
    const seen: string[] = []
    const add = (m: string): void => {
      for (const d of depsOf.get(m) ?? []) {
        if (!seen.includes(d)) {
          seen.push(d)
          add(d)
        }
      }
    }
    add(n)
    return `${modPath(n)}:${seen.map((d) => ` ${modPath(d)}`).join('')}`
  }
  addFile(`${mdir}/modules.dep`, Buffer.from(order.map(depLine).join('\n') + '\n'))
  if (existsSync(builtinFile)) addFile(`${mdir}/modules.builtin`, readFileSync(builtinFile))
  for (const f of ['modules.alias', 'modules.symbols']) addFile(`${mdir}/${f}`, Buffer.alloc(0))
  addFile(
    'etc/nvmf-fault/modules.load',
    Buffer.from(
      order
        .filter((n) => bootSet.has(n))
        .map((n) => `${mdir}/${modPath(n)}`)
        .join('\n') + '\n',
    ),
  )

  addFile('init', i.init, 0o755)
  addFile('usr/share/nvmf-fault/lib.sh', i.lib)
  addFile('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'))
  addFile('etc/group', Buffer.from('root:x:0:\n'))
  addFile('etc/hosts', Buffer.from('127.0.0.1 localhost\n10.0.2.2 host\n10.0.2.15 guest\n'))
  addFile('etc/hostname', Buffer.from('nvmf-fault-vm\n'))
  addFile(
    'etc/nvmf-fault/release',
    Buffer.from(`kernel_package=${basename(i.deb.path)}\nkernel_release=${release}\nnvme_cli=${i.nvmeVersion}\nbusybox=${i.busyboxVersion}\n`),
  )

  const entries = [...files.keys()].sort().map((k) => files.get(k) as CpioEntry)
  writeFileSync(join(work, 'initramfs.cpio'), encodeCpio(entries))

  // ---- kernel: prefer the uncompressed vmlinux through its PVH entry (no in-guest
  // decompression, which costs ~4 s under TCG); same kernel, same code.
  const bzImage = readFileSync(join(kroot, 'boot', vmlinuzName))
  writeFileSync(join(work, 'vmlinuz'), bzImage)
  let kernelFile = 'vmlinuz'
  let bootMode: 'pvh' | 'bzimage' = 'bzimage'
  const config = configName !== undefined ? readFileSync(join(kroot, 'boot', configName), 'utf8') : ''
  if (/^CONFIG_PVH=y$/m.test(config)) {
    const vmlinux = await extractVmlinux(bzImage)
    if (vmlinux !== undefined) {
      writeFileSync(join(work, 'vmlinux'), vmlinux)
      kernelFile = 'vmlinux'
      bootMode = 'pvh'
    } else {
      log('note: could not extract vmlinux; booting the bzImage')
    }
  }
  rmSync(kroot, { recursive: true, force: true })
  writeFileSync(
    join(work, 'image.json'),
    JSON.stringify(
      {
        kernelFile,
        bootMode,
        kernelRelease: release,
        kernelPackage: basename(i.deb.path),
        nvmeCliVersion: i.nvmeVersion,
        busyboxVersion: i.busyboxVersion,
        modules: order,
        fingerprint: fp,
      },
      null,
      2,
    ) + '\n',
  )
}
