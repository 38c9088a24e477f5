// The private apt configuration: source parsing, the mirror taken from this machine's sources, and
// apt-cache over the private lists without ever touching /etc/apt or the system's lists.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { which } from '../../kernel/exec.js'
import { DebianApt, parseAptSources, systemDebianMirror, systemDebianSources } from '../../kernel/debian-apt.js'

t.test('one-line and deb822 sources parse', async (t) => {
  t.same(parseAptSources('# c\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\ndeb-src http://x/ y main\n', false), [
    { uri: 'http://m.example/debian', suites: ['bookworm'], signedBy: '/k.gpg' },
  ])
  const deb822 = 'Types: deb\nURIs: http://m.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /k.gpg\n\n' +
    'Types: deb-src\nURIs: http://m.example/debian\nSuites: sid\n\nTypes: deb\nURIs: http://o.example/x\nSuites: trixie\nEnabled: no\n'
  t.same(parseAptSources(deb822, true), [{ uri: 'http://m.example/debian', suites: ['bookworm', 'bookworm-updates'], signedBy: '/k.gpg' }])
})

t.test('the mirror comes from the apt sources, third-party sources are ignored', async (t) => {
  const etc = mkdtempSync(join(tmpdir(), 'nvmf-apt-etc-'))
  t.teardown(() => rmSync(etc, { recursive: true, force: true }))
  mkdirSync(join(etc, 'sources.list.d'))
  writeFileSync(join(etc, 'sources.list.d', 'a-vendor.list'), 'deb https://vendor.example/apt nodistro main\n')
  writeFileSync(join(etc, 'sources.list.d', 'b-debian.sources'),
    'Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n' +
    'Types: deb\nURIs: http://m.example/debian\nSuites: bookworm\nComponents: main\n')
  writeFileSync(join(etc, 'sources.list.d', 'c-off.sources.disabled'), 'Types: deb\nURIs: http://off.example/debian\nSuites: sid\n')
  const saved = process.env.NVMF_FAULT_DEBIAN_MIRROR
  delete process.env.NVMF_FAULT_DEBIAN_MIRROR
  t.teardown(() => {
    if (saved !== undefined) process.env.NVMF_FAULT_DEBIAN_MIRROR = saved
  })
  t.equal(systemDebianMirror(etc)?.uri, 'http://m.example/debian')
  t.same(systemDebianSources(etc).map((s) => s.uri), ['http://sec.example/debian-security', 'http://m.example/debian'])
  process.env.NVMF_FAULT_DEBIAN_MIRROR = 'http://override.example/debian'
  t.equal(systemDebianMirror(etc)?.uri, 'http://override.example/debian')
})

t.test('apt-cache runs over the private configuration only', { skip: which('apt-cache') === undefined ? 'apt-cache missing (Debian package apt)' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-apt-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const etcHash = (): string => {
    const h = createHash('sha256')
    for (const f of ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)) : [])]) {
      if (existsSync(f)) h.update(f).update(readFileSync(f))
    }
    return h.digest('hex')
  }
  const before = etcHash()
  const apt = DebianApt.open({ dir, mirror: 'http://mirror.invalid/debian', suites: ['trixie', 'sid'] })
  t.equal(readFileSync(join(dir, 'etc/sources.list'), 'utf8'), 'deb http://mirror.invalid/debian trixie main\ndeb http://mirror.invalid/debian sid main\n')
  t.equal(readFileSync(join(dir, 'status'), 'utf8'), '', 'an empty dpkg status: nothing counts as installed')
  const opts = apt.aptOptions().join(' ')
  for (const k of ['Dir::Etc::SourceList', 'Dir::Etc::SourceParts', 'Dir::State::Lists', 'Dir::Cache', 'Dir::State::status']) t.match(opts, `${k}=${dir}`)
  // No lists fetched yet: the private apt knows no packages, whatever the system's apt knows.
  t.same(await apt.versions('linux-image-amd64'), [])
  t.equal((await apt.packageNames(/^linux-image-/)).length, 0)
  t.equal(apt.listsTime(), 0)
  t.equal(etcHash(), before, '/etc/apt unchanged')
  t.throws(() => DebianApt.open({ dir, mirror: 'http://m/debian', suites: ['bad suite'] }), { code: 'ERR_NVMEOF_INVALID_ARG' })
  await t.rejects(apt.versions('Bad_Name'), { code: 'ERR_NVMEOF_INVALID_ARG' })
})
