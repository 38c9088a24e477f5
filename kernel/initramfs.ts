/**
 * The guest's root file system, written as one uncompressed newc cpio: static busybox + applet
 * links, nvme-cli with its libraries and loader, the boot modules with their dependency closure
 * (decompressed: busybox insmod reads plain .ko only) and a generated modules.dep, our `init` and
 * `lib.sh`. Deterministic: same inputs, same bytes.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import { ConfigError } from '../lib/errors.js'
import { encodeCpio, type CpioEntry } from './cpio.js'
import { execCapture, execText } from './exec.js'
import type { NvmeCliFiles } from './guest-nvme-cli.js'
import type { KernelParts } from './kernel-extract.js'

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

/** Modules the guest cannot work without, and the config symbol that builds each in. */
const ESSENTIAL: Readonly<Record<string, string>> = {
  configfs: 'CONFIGFS_FS',
  nvme_core: 'NVME_CORE',
  nvme_fabrics: 'NVME_FABRICS',
  nvme_tcp: 'NVME_TCP',
  nvmet: 'NVME_TARGET',
  nvmet_tcp: 'NVME_TARGET_TCP',
  virtio_net: 'VIRTIO_NET',
  '9p': '9P_FS',
  '9pnet_virtio': 'NET_9P_VIRTIO',
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

export interface InitramfsInputs {
  kernel: KernelParts
  kernelLabel: string
  busybox: string
  busyboxVersion: string
  nvmeCli: NvmeCliFiles
  init: Buffer
  lib: Buffer
}

/** Write `initramfs.cpio` into `work`; returns the modules in the image, in load order. */
export async function buildInitramfs(work: string, i: InitramfsInputs, log: (l: string) => void): Promise<string[]> {
  const { release, kmod, config } = i.kernel
  // name (dashes as underscores) -> path relative to .../modules/<release>
  const byName = new Map<string, string>()
  if (kmod !== undefined) {
    for (const p of walk(kmod)) {
      const m = /\/([^/]+)\.ko(\.xz|\.zst|\.gz)?$/.exec(p)
      if (m?.[1] !== undefined) byName.set(m[1].replace(/-/g, '_'), relative(kmod, p))
    }
  }
  const builtinFile = kmod !== undefined ? join(kmod, 'modules.builtin') : ''
  const builtin = new Set(
    builtinFile !== '' && existsSync(builtinFile)
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
    if (rel === undefined || kmod === undefined) {
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
  // Missing as a module is fine when the config builds it in (a kernel developer's all-built-in
  // kernel has no modules at all); without a config, trust a module-less kernel.
  const builtIn = (m: string): boolean => new RegExp(`^CONFIG_${ESSENTIAL[m]}=y$`, 'm').test(config) || (config === '' && kmod === undefined)
  const lost = Object.keys(ESSENTIAL).filter((m) => notFound.includes(m) && !builtIn(m))
  if (lost.length > 0) throw new ConfigError('kernel', `kernel ${release} lacks ${lost.join(', ')} (neither a module nor built in)`)
  const optionalMissing = notFound.filter((m) => ESSENTIAL[m] === undefined && (BOOT_MODULES.includes(m) || ON_DEMAND_MODULES.includes(m)))
  if (optionalMissing.length > 0 && kmod !== undefined) log(`note: not in kernel ${release} as modules: ${optionalMissing.join(', ')}`)

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

  addFile('usr/sbin/nvme', readFileSync(i.nvmeCli.nvme), 0o755)
  for (const l of i.nvmeCli.libs) addFile(`lib/x86_64-linux-gnu/${l.name}`, readFileSync(l.path), 0o755)
  addFile(`lib64/${basename(i.nvmeCli.loader)}`, readFileSync(i.nvmeCli.loader), 0o755)
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
  addFile(`${mdir}/modules.builtin`, builtinFile !== '' && existsSync(builtinFile) ? readFileSync(builtinFile) : Buffer.alloc(0))
  for (const f of ['modules.alias', 'modules.symbols']) addFile(`${mdir}/${f}`, Buffer.alloc(0))
  const loadList = order.filter((n) => bootSet.has(n)).map((n) => `${mdir}/${modPath(n)}`)
  addFile('etc/nvmf-fault/modules.load', Buffer.from(loadList.length > 0 ? loadList.join('\n') + '\n' : ''))

  addFile('init', i.init, 0o755)
  addFile('usr/share/nvmf-fault/lib.sh', i.lib)
  addFile('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'))
  addFile('etc/group', Buffer.from('root:x:0:\n'))
  addFile('etc/hosts', Buffer.from('127.0.0.1 localhost\n10.0.2.2 host\n10.0.2.15 guest\n'))
  addFile('etc/hostname', Buffer.from('nvmf-fault-vm\n'))
  addFile(
    'etc/nvmf-fault/release',
    Buffer.from(`kernel=${i.kernelLabel}\nkernel_release=${release}\nnvme_cli=${i.nvmeCli.version} (${i.nvmeCli.source})\nbusybox=${i.busyboxVersion}\n`),
  )

  const entries = [...files.keys()].sort().map((k) => files.get(k) as CpioEntry)
  writeFileSync(join(work, 'initramfs.cpio'), encodeCpio(entries))
  return order
}
