/**
 * fio staged for a guest (kernel/guest-fio.ts): the share holds the binary, its loader and every
 * library ldd names, and the staged command line runs from those copies alone. Run here on the host,
 * with the share path in place of the guest's /host: the same loader and libraries the guest uses.
 */
import t from 'tap'
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { stageFio } from '../../kernel/guest-fio.js'
import { lddLibraries } from '../../kernel/ldd.js'
import { which } from '../../kernel/exec.js'

const fio = which('fio')

t.test('stageFio copies fio, its loader and libraries; the command runs from the copies', { skip: fio === undefined ? 'fio is not installed (Debian package fio)' : false }, async (t) => {
  const share = mkdtempSync(join(tmpdir(), 'nvmf-guest-fio-'))
  t.teardown(() => rmSync(share, { recursive: true, force: true }))
  const staged = await stageFio(share)
  if (!staged.ok) throw new Error(staged.reason)
  t.match(staged.version, /^fio-\d+\.\d+/, 'version read from the binary')
  t.match(staged.command, /^\/host\/fio\/ld-linux[^ ]* --library-path \/host\/fio\/lib \/host\/fio\/fio$/, 'guest command line through the staged loader')
  const { libs } = await lddLibraries(fio!)
  t.same(readdirSync(join(share, 'fio', 'lib')).sort(), libs.map((l) => l.name).sort(), 'every library ldd names is in the share')
  // The guest sees the share at /host; here a link stands in for it.
  const root = mkdtempSync(join(tmpdir(), 'nvmf-guest-root-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  symlinkSync(share, join(root, 'host'))
  const [loader, ...args] = staged.command.replaceAll('/host/', `${root}/host/`).split(' ')
  const out = execFileSync(loader!, [...args, '--version'], { encoding: 'utf8', env: { PATH: '/nonexistent' } })
  t.equal(out.trim(), staged.version, 'the staged fio runs with only the staged files')
})
