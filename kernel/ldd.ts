/**
 * The shared libraries and dynamic loader a host binary needs, as `ldd` lists them: what goes into
 * the guest beside a binary copied from this machine (nvme-cli, fio).
 */
import { basename } from 'node:path'
import { execText } from './exec.js'

export interface LddFiles {
  /** File name in the guest's library directory, and the host file to copy. */
  libs: { name: string; path: string }[]
  /** The dynamic loader. */
  loader: string
}

export async function lddLibraries(binary: string): Promise<LddFiles> {
  const out = await execText('ldd', [binary], { timeoutMs: 10_000 })
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
  if (loader === '') throw new Error(`ldd ${binary}: no dynamic loader listed`)
  return { libs: [...new Set(libs)].sort().map((path) => ({ name: basename(path), path })), loader }
}
