/**
 * fio for a guest job, from this machine (Debian package fio): the binary, the libraries `ldd`
 * names and the dynamic loader are copied into the guest share, and the guest runs it through that
 * loader with the share's library directory, so the image stays as it is (fio's libraries — rados,
 * rbd, gluster — are ten times the image; only the bench's opt-in kernel row uses it).
 */
import { copyFileSync, mkdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import { execText, which } from './exec.js'
import { lddLibraries } from './ldd.js'

/** Where the guest mounts the share (guest/init). */
const GUEST_SHARE = '/host'

export type StagedFio = { ok: true; command: string; version: string } | { ok: false; reason: string }

/** Copy fio into `<shareDir>/fio`; `command` is the guest's command line prefix that runs it. */
export async function stageFio(shareDir: string): Promise<StagedFio> {
  const fio = which('fio')
  if (fio === undefined) return { ok: false, reason: 'fio is not installed on this machine (Debian package fio)' }
  const version = (await execText(fio, ['--version'], { timeoutMs: 10_000 })).trim()
  const { libs, loader } = await lddLibraries(fio)
  const dir = join(shareDir, 'fio')
  mkdirSync(join(dir, 'lib'), { recursive: true })
  copyFileSync(fio, join(dir, 'fio'))
  copyFileSync(loader, join(dir, basename(loader)))
  for (const l of libs) copyFileSync(l.path, join(dir, 'lib', l.name))
  const g = `${GUEST_SHARE}/fio`
  return { ok: true, command: `${g}/${basename(loader)} --library-path ${g}/lib ${g}/fio`, version }
}
