/** Bounded child-process helpers for the interop harness (every call has a time limit). */
import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

export interface ExecResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
}

export interface ExecOptions {
  timeoutMs: number
  input?: Buffer
  cwd?: string
  env?: NodeJS.ProcessEnv
}

/** Run a program, collect its output; never rejects on a non-zero exit (callers judge `code`). */
export function execCapture(file: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let errLen = 0
    child.stdout?.on('data', (b: Buffer) => out.push(b))
    child.stderr?.on('data', (b: Buffer) => {
      // Keep the first 64 KiB of stderr: enough for a diagnosis, bounded.
      if (errLen < 65536) err.push(b)
      errLen += b.length
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') })
    })
    if (opts.input !== undefined && child.stdin !== null) {
      // A child that exits early (xz on trailing garbage) closes its stdin: not our error.
      child.stdin.on('error', () => {})
      child.stdin.end(opts.input)
    }
  })
}

/** Like execCapture, but rejects unless the program exits 0; returns stdout as text. */
export async function execText(file: string, args: readonly string[], opts: ExecOptions): Promise<string> {
  const r = await execCapture(file, args, opts)
  if (r.code !== 0) {
    const why = r.signal !== null ? `killed by ${r.signal}` : `exit ${r.code}`
    throw new Error(`${file} ${args.join(' ')}: ${why}: ${r.stderr.trim().slice(0, 2000)}`)
  }
  return r.stdout.toString('utf8')
}

/** The first executable named `name` on PATH (plus the sbin directories a root shell has). */
export function which(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'])
  for (const d of dirs) {
    if (d === '') continue
    const p = join(d, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // not here
    }
  }
  return undefined
}
