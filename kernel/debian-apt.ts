/**
 * A private apt configuration for fetching Debian kernels and tools without touching this
 * machine's apt setup: its own sources.list, package lists, archive cache and an empty dpkg
 * status under `${NVMF_FAULT_CACHE:-~/.cache/nvmf-fault}/apt`, passed to apt-get / apt-cache with
 * `-o Dir::...` on every call. Nothing is installed; packages are only downloaded.
 *
 * The mirror is whatever Debian mirror this machine's apt sources already use (read at run time,
 * so no host name lives in the repository); `NVMF_FAULT_DEBIAN_MIRROR` overrides it.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, InvalidArgumentError } from '../lib/errors.js'
import { cacheRoot, withDirLock } from './cache.js'
import { execCapture, execText } from './exec.js'

/**
 * apt-cache rebuilds its binary cache after every `update`; on a loaded 2-core machine that first
 * query took over 2 minutes (measured: `pkgnames` killed at 120 s under load 20), so queries get 10.
 */
const APT_QUERY_TIMEOUT_MS = 600_000

/** Suites the private configuration lists (component main). */
export const DEFAULT_SUITES: readonly string[] = ['bookworm', 'trixie', 'trixie-backports', 'sid']

/** Lists older than this are refreshed by `update()` (unless `force`). */
const LISTS_MAX_AGE_MS = 12 * 3600 * 1000

/** Debian release names a main-archive source line uses (to tell the mirror from other sources). */
const DEBIAN_SUITE = /^(buster|bullseye|bookworm|trixie|forky|duke|sid|stable|testing|unstable|oldstable)(-updates|-backports|-proposed-updates|-security)?$/

export interface AptSource {
  uri: string
  suites: string[]
  signedBy?: string
}

/** Parse one-line (`deb URI suite comp...`) and deb822 (`Types:/URIs:/Suites:`) source files. */
export function parseAptSources(text: string, deb822: boolean): AptSource[] {
  const out: AptSource[] = []
  if (!deb822) {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim()
      const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line)
      if (m?.[2] === undefined || m[3] === undefined) continue
      const signedBy = /signed-by=(\S+)/.exec(m[1] ?? '')?.[1]
      out.push({ uri: m[2], suites: [m[3]], ...(signedBy !== undefined ? { signedBy } : {}) })
    }
    return out
  }
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>()
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(raw)
      if (m?.[1] !== undefined && m[2] !== undefined) fields.set(m[1].toLowerCase(), m[2].trim())
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb') || fields.get('enabled') === 'no') continue
    const suites = (fields.get('suites') ?? '').split(/\s+/).filter((s) => s !== '')
    const signedBy = fields.get('signed-by')
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter((s) => s !== '')) {
      out.push({ uri, suites, ...(signedBy !== undefined && signedBy.startsWith('/') ? { signedBy } : {}) })
    }
  }
  return out
}

/** This machine's Debian sources (main archive and security), in file order. */
export function systemDebianSources(etcApt = '/etc/apt'): AptSource[] {
  const files: { path: string; deb822: boolean }[] = []
  if (existsSync(join(etcApt, 'sources.list'))) files.push({ path: join(etcApt, 'sources.list'), deb822: false })
  const parts = join(etcApt, 'sources.list.d')
  if (existsSync(parts)) {
    for (const f of readdirSync(parts).sort()) {
      if (f.endsWith('.list')) files.push({ path: join(parts, f), deb822: false })
      else if (f.endsWith('.sources')) files.push({ path: join(parts, f), deb822: true })
    }
  }
  const out: AptSource[] = []
  for (const f of files) {
    for (const s of parseAptSources(readFileSync(f.path, 'utf8'), f.deb822)) {
      const suites = s.suites.filter((x) => DEBIAN_SUITE.test(x))
      if (/^https?:\/\//.test(s.uri) && suites.length > 0) out.push({ ...s, suites })
    }
  }
  return out
}

/** The Debian mirror (main archive) of this machine's apt sources; `NVMF_FAULT_DEBIAN_MIRROR` overrides. */
export function systemDebianMirror(etcApt = '/etc/apt'): AptSource | undefined {
  const env = process.env.NVMF_FAULT_DEBIAN_MIRROR
  if (env !== undefined && env !== '') return { uri: env, suites: [] }
  return systemDebianSources(etcApt).find((s) => s.suites.some((x) => !x.endsWith('-security')))
}

export interface DebianAptOptions {
  /** Default `${cacheRoot()}/apt`. */
  dir?: string
  /** Default: the system's Debian mirror (systemDebianMirror()). */
  mirror?: string
  suites?: readonly string[]
  log?: (line: string) => void
}

export interface PackageVersion {
  pkg: string
  version: string
  /** Suites (archive names) the version is in, e.g. ['trixie-backports']. */
  suites: string[]
}

/** apt-get / apt-cache over the private configuration. Construct with `DebianApt.open()`. */
export class DebianApt {
  readonly dir: string
  readonly mirror: string
  readonly suites: readonly string[]
  readonly #log: (line: string) => void

  private constructor(dir: string, mirror: string, suites: readonly string[], log: (line: string) => void) {
    this.dir = dir
    this.mirror = mirror
    this.suites = suites
    this.#log = log
  }

  /** Write the private configuration (idempotent); no network access yet. */
  static open(opts: DebianAptOptions = {}): DebianApt {
    const dir = opts.dir ?? join(cacheRoot(), 'apt')
    const sys = opts.mirror !== undefined ? { uri: opts.mirror, suites: [] } : systemDebianMirror()
    if (sys === undefined) {
      throw new ConfigError('apt sources', 'no Debian mirror in /etc/apt/sources.list{,.d}; set NVMF_FAULT_DEBIAN_MIRROR=http://<mirror>/debian')
    }
    const suites = opts.suites ?? DEFAULT_SUITES
    for (const s of suites) if (!/^[a-z0-9-]+$/.test(s)) throw new InvalidArgumentError('suites', `has a bad suite name '${s}'`)
    for (const d of ['lists/partial', 'cache/archives/partial', 'etc/sources.list.d', 'etc/preferences.d', 'debs']) mkdirSync(join(dir, d), { recursive: true })
    // The system's own Debian sources too (e.g. bookworm-security): a kernel alias then finds the
    // same newest package the system's apt would, and the suites asked for on the mirror.
    const line = (uri: string, suite: string, signedBy: string | undefined): string =>
      `deb${signedBy !== undefined ? ` [signed-by=${signedBy}]` : ''} ${uri} ${suite} main\n`
    const lines = new Set<string>()
    if (opts.mirror === undefined && process.env.NVMF_FAULT_DEBIAN_MIRROR === undefined) {
      for (const src of systemDebianSources()) for (const suite of src.suites) lines.add(line(src.uri, suite, src.signedBy))
    }
    for (const suite of suites) lines.add(line(sys.uri, suite, sys.signedBy))
    const sources = [...lines].join('')
    const put = (p: string, text: string): void => {
      const path = join(dir, p)
      if (existsSync(path) && readFileSync(path, 'utf8') === text) return
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
      writeFileSync(tmp, text)
      renameSync(tmp, path)
    }
    put('etc/sources.list', sources)
    put('status', '')
    put('etc/preferences', '')
    return new DebianApt(dir, sys.uri, suites, opts.log ?? (() => {}))
  }

  /** The `-o` options that point apt at the private configuration (and nowhere else). */
  aptOptions(): string[] {
    const o = (k: string, v: string): string[] => ['-o', `${k}=${v}`]
    const root = typeof process.getuid === 'function' && process.getuid() === 0
    return [
      ...o('Dir::Etc::SourceList', join(this.dir, 'etc/sources.list')),
      ...o('Dir::Etc::SourceParts', join(this.dir, 'etc/sources.list.d')),
      ...o('Dir::Etc::Preferences', join(this.dir, 'etc/preferences')),
      ...o('Dir::Etc::PreferencesParts', join(this.dir, 'etc/preferences.d')),
      ...o('Dir::State::Lists', join(this.dir, 'lists')),
      ...o('Dir::State::status', join(this.dir, 'status')),
      ...o('Dir::Cache', join(this.dir, 'cache')),
      ...o('Acquire::Languages', 'none'),
      ...o('APT::Get::List-Cleanup', 'true'),
      // apt's download sandbox user (_apt) cannot enter a private cache under /root.
      ...(root ? o('APT::Sandbox::User', 'root') : []),
    ]
  }

  /** When the lists were last fetched for the current sources (ms since the epoch), 0 if never. */
  listsTime(): number {
    const stamp = join(this.dir, 'lists', 'updated')
    const st = statSync(stamp, { throwIfNoEntry: false })
    if (st === undefined || readFileSync(stamp, 'utf8') !== this.#sourcesText()) return 0
    return st.mtimeMs
  }

  #sourcesText(): string {
    return readFileSync(join(this.dir, 'etc/sources.list'), 'utf8')
  }

  /** `apt-get update` over the private sources, unless the lists are fresh (one process at a time). */
  async update(opts: { force?: boolean } = {}): Promise<void> {
    const fresh = (): true | undefined => (opts.force !== true && Date.now() - this.listsTime() < LISTS_MAX_AGE_MS ? true : undefined)
    if (fresh() !== undefined) return
    await withDirLock(join(this.dir, 'update.lock'), { waitMs: 15 * 60_000, staleMs: 15 * 60_000, poll: fresh }, async () => {
      if (fresh() !== undefined) return true
      this.#log(`apt-get update (${this.suites.join(' ')} from ${this.mirror})`)
      await execText('apt-get', [...this.aptOptions(), '-qq', 'update'], { timeoutMs: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
      // The stamp holds the sources it was fetched for: changed sources mean stale lists.
      writeFileSync(join(this.dir, 'lists', 'updated'), this.#sourcesText())
      return true
    })
  }

  /** Run apt-cache over the private configuration; stdout. */
  async aptCache(args: readonly string[]): Promise<string> {
    return execText('apt-cache', [...this.aptOptions(), ...args], { timeoutMs: APT_QUERY_TIMEOUT_MS })
  }

  /** Package names matching a regular expression (apt-cache pkgnames + filter). */
  async packageNames(re: RegExp): Promise<string[]> {
    const out = await this.aptCache(['pkgnames'])
    return out.split('\n').filter((n) => n !== '' && re.test(n)).sort()
  }

  /** Every version of `pkg` the lists know, newest first, with the suites carrying it. */
  async versions(pkg: string): Promise<PackageVersion[]> {
    checkPackageName(pkg)
    const r = await execCapture('apt-cache', [...this.aptOptions(), 'policy', pkg], { timeoutMs: APT_QUERY_TIMEOUT_MS })
    if (r.code !== 0) return []
    const out: PackageVersion[] = []
    let cur: PackageVersion | undefined
    let inTable = false
    for (const line of r.stdout.toString().split('\n')) {
      if (/^\s+Version table:/.test(line)) {
        inTable = true
        continue
      }
      if (!inTable) continue
      const v = /^\s+(?:\*\*\* )?(\S+) -?\d+$/.exec(line)
      if (v?.[1] !== undefined) {
        cur = { pkg, version: v[1], suites: [] }
        out.push(cur)
        continue
      }
      // "        500 http://mirror/debian trixie-backports/main amd64 Packages"
      const s = /^\s+-?\d+ \S+ ([^/\s]+)\/\S+ \S+ Packages$/.exec(line)
      if (s?.[1] !== undefined && cur !== undefined) cur.suites.push(s[1])
    }
    return out
  }

  /** Every version of each package (apt-cache madison: one call for many packages). */
  async madison(pkgs: readonly string[]): Promise<PackageVersion[]> {
    if (pkgs.length === 0) return []
    for (const p of pkgs) checkPackageName(p)
    const r = await execCapture('apt-cache', [...this.aptOptions(), 'madison', ...pkgs], { timeoutMs: APT_QUERY_TIMEOUT_MS })
    const byKey = new Map<string, PackageVersion>()
    // "  nvme-cli |     2.13-2 | http://mirror/debian trixie/main amd64 Packages" (columns padded)
    for (const line of r.stdout.toString().split('\n')) {
      const m = /^\s*(\S+)\s+\|\s+(\S+)\s+\|\s+\S+\s+([^/\s]+)\/\S+\s+\S+\s+Packages$/.exec(line)
      if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) continue
      const key = `${m[1]}=${m[2]}`
      const cur = byKey.get(key) ?? { pkg: m[1], version: m[2], suites: [] }
      if (!cur.suites.includes(m[3])) cur.suites.push(m[3])
      byKey.set(key, cur)
    }
    return [...byKey.values()]
  }

  /** The Depends: field of one version (apt-cache show), split into package names. */
  async depends(pkg: string, version: string): Promise<string[]> {
    checkPackageName(pkg)
    const out = await this.aptCache(['show', `${pkg}=${version}`])
    const field = /^Depends: (.*)$/m.exec(out)?.[1] ?? ''
    return field
      .split(',')
      .map((d) => d.trim().split(/[\s|]/)[0] ?? '')
      .filter((d) => d !== '')
  }

  /** The file name a download of `pkg=version` produces (apt's `:` escaping). */
  static debFileName(pkg: string, version: string, arch = 'amd64'): string {
    return `${pkg}_${version.replace(/:/g, '%3a')}_${arch}.deb`
  }

  /**
   * Download `pkg=version` into the private `debs/` directory (once; later calls return the cached
   * file). Downloads go to a scratch directory renamed into place: nobody sees a partial .deb.
   */
  async download(pkg: string, version: string): Promise<string> {
    checkPackageName(pkg)
    const r = await execCapture('apt-cache', [...this.aptOptions(), 'show', '--no-all-versions', `${pkg}=${version}`], { timeoutMs: APT_QUERY_TIMEOUT_MS })
    const arch = /^Architecture: (\S+)$/m.exec(r.stdout.toString())?.[1] ?? 'amd64'
    const file = DebianApt.debFileName(pkg, version, arch)
    const dest = join(this.dir, 'debs', file)
    if (existsSync(dest)) return dest
    const dl = join(this.dir, 'debs', `dl.${process.pid}.${randomBytes(4).toString('hex')}`)
    mkdirSync(dl)
    try {
      this.#log(`apt-get download ${pkg}=${version}`)
      await execText('apt-get', [...this.aptOptions(), '-qq', 'download', `${pkg}=${version}`], { timeoutMs: 900_000, cwd: dl })
      const got = readdirSync(dl).find((f) => f.endsWith('.deb'))
      if (got === undefined) throw new Error(`apt-get download ${pkg}=${version} produced no .deb`)
      renameSync(join(dl, got), dest)
    } finally {
      rmSync(dl, { recursive: true, force: true })
    }
    return dest
  }
}

function checkPackageName(pkg: string): void {
  // Debian policy 5.6.1: lower case letters, digits, + - . ; at least two characters.
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(pkg)) throw new InvalidArgumentError('package', `is not a Debian package name: '${pkg}'`)
}
