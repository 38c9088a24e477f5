/**
 * The project's cache directory and a cross-process lock for the things built in it. Several
 * processes (parallel test files, several people's runs) build kernel images and refresh the
 * private apt lists at once; a lock is an exclusive `mkdir`, released on completion and taken
 * over when its holder has died or it is older than `staleMs`.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { TimeoutError } from '../lib/errors.js'

/** `${NVMF_FAULT_CACHE:-~/.cache/nvmf-fault}` */
export function cacheRoot(): string {
  const env = process.env.NVMF_FAULT_CACHE
  return env !== undefined && env !== '' ? env : join(homedir(), '.cache', 'nvmf-fault')
}

function holderAlive(lock: string): boolean {
  let pid: number
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'))
  } catch {
    return true // being created right now
  }
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but is not ours to signal.
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface DirLockOptions<T> {
  /** Give up waiting after this long. */
  waitMs: number
  /** A lock older than this is taken over even if its holder lives (a hung holder). */
  staleMs: number
  /** Called while waiting; returning a value ends the wait without the lock (someone else did the work). */
  poll?: () => T | undefined
}

/**
 * Run `fn` holding the lock directory `lock`. While another process holds it, `poll` is asked
 * every 500 ms whether the work is already done (then its value is returned and `fn` never runs).
 */
export async function withDirLock<T>(lock: string, opts: DirLockOptions<T>, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now()
  for (;;) {
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, 'pid'), String(process.pid))
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const done = opts.poll?.()
      if (done !== undefined) return done
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now())
      if (age > opts.staleMs || (age > 2000 && !holderAlive(lock))) rmSync(lock, { recursive: true, force: true })
      if (Date.now() - t0 > opts.waitMs) throw new TimeoutError(`timed out after ${opts.waitMs} ms waiting for lock ${lock}`)
      await sleep(500)
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}
