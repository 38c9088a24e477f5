/**
 * How tests start our CLI, examples and other shipped scripts as child processes.
 *
 * `npm test` builds `dist/` first; with a build newer than every source file a child is plain
 * `node dist/<script>.js` (a fraction of a second of CPU). Without one (a single test file run after
 * editing sources) the child runs the TypeScript source under tap's loader (several seconds of CPU
 * per start on a loaded machine), so a stale build is never what a test exercises.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { isAbsolute, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const LOADER = `--import=${new URL('../../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url).href}`

/** Environment for a child: no inherited NODE_OPTIONS (tap's own), transpile-only for the loader path. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, NODE_OPTIONS: '', TS_NODE_TRANSPILE_ONLY: '1', ...extra }
}

function newestMtime(dir: string): number {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p))
    else if (e.name.endsWith('.ts') || e.name.endsWith('.proto')) newest = Math.max(newest, statSync(p).mtimeMs)
  }
  return newest
}

function buildIsFresh(): boolean {
  const stamp = join(ROOT, 'dist', 'index.js')
  if (!existsSync(stamp)) return false
  const built = statSync(stamp).mtimeMs
  const include = (JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include
  for (const entry of [...include, 'proto']) {
    const p = join(ROOT, entry)
    if (!existsSync(p)) continue
    const m = statSync(p).isDirectory() ? newestMtime(p) : statSync(p).mtimeMs
    if (m > built) return false
  }
  return true
}

const fresh = buildIsFresh()

/**
 * Node arguments that run `script` (a shipped .ts file, absolute or relative to the repository):
 * `[dist/…/script.js]` when the build is fresh, else `[--import=<tap's TS loader>, script.ts]`.
 * Test-only scripts (not in the build) always take the loader.
 */
export function scriptArgs(script: string): string[] {
  const rel = isAbsolute(script) ? relative(ROOT, script) : script
  const built = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'))
  if (fresh && !rel.startsWith('test/') && existsSync(built)) return [built]
  return [LOADER, join(ROOT, rel)]
}

/** Node arguments that run the `nvmf-fault` CLI. */
export function cliArgs(): string[] {
  return scriptArgs('bin/nvmf-fault.ts')
}

/** Runs the CLI to its end (killed after `timeoutMs`), collecting its output. */
export function runCli(args: string[], timeoutMs = 300_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...cliArgs(), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Polls `cond` every 50 ms for at most `ms`; its last value. */
export async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (cond()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return cond()
}
