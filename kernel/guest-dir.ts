/**
 * Where the guest's non-TypeScript files (`init`, `lib.sh`, shipped job scripts) live. tsc does not
 * copy them to dist/, so a built package reads them from its root (`kernel/guest` is listed in
 * package.json `files`): next to this module when run from source, `../../kernel/guest` from
 * `dist/kernel/`.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findGuestDir(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, 'guest'), join(here, '..', '..', 'kernel', 'guest')]
  return candidates.find((d) => existsSync(join(d, 'init'))) ?? (candidates[0] as string)
}

export const KERNEL_GUEST_DIR: string = findGuestDir()
