/**
 * The package root, for the non-TypeScript files that tsc does not copy to dist/ (kernel/config,
 * kernel/patches, examples/scenarios): `..` from kernel/ when run from source, `../..` from
 * dist/kernel/.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, '..'), join(here, '..', '..')]
  return candidates.find((d) => existsSync(join(d, 'kernel', 'config'))) ?? (candidates[0] as string)
}

export const PROJECT_DIR: string = findRoot()

/** A file of the package by its path from the root ("examples/scenarios/nvme-058.yaml"). */
export function projectFile(rel: string): string {
  return join(PROJECT_DIR, rel)
}
