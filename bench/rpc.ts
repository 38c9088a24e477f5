/**
 * Parent ↔ child plumbing for the process benchmarks: every measured party (echo server and client,
 * target, initiator) runs in its own process, forked from `dist/bench/worker.js ROLE`, and answers
 * requests over the IPC channel. Each reply carries the child's CPU time and peak RSS, so a row can
 * state CPU seconds per I/O and peak memory for each side.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export interface ProcUsage {
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number
  /** Peak resident set size (bytes, getrusage maxrss). */
  maxRss: number
  rss: number
}

export function procUsage(): ProcUsage {
  const c = process.cpuUsage()
  return { cpuSeconds: (c.user + c.system) / 1e6, maxRss: process.resourceUsage().maxRSS * 1024, rss: process.memoryUsage().rss }
}

export interface SettledMemory {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

function settledMemory(): SettledMemory {
  const g = (globalThis as { gc?: () => void }).gc
  g?.()
  g?.()
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers }
}

interface Request {
  id: number
  method: string
  args: unknown
}
interface Reply {
  id: number
  result?: unknown
  error?: string
  usage: ProcUsage
}

export type Handlers = Record<string, (args: never) => unknown>

/** Child side: answer requests with `handlers` until the parent disconnects or calls `exit`. */
export function serve(handlers: Handlers): void {
  process.on('message', (m: Request) => {
    // Every role answers `usage` (the reply carries the CPU and memory figures) and `memory`
    // (after a full GC, so that a difference between two calls is live memory, not garbage).
    const h = m.method === 'usage' ? () => ({}) : m.method === 'memory' ? settledMemory : (handlers[m.method] as ((a: unknown) => unknown) | undefined)
    Promise.resolve()
      .then(() => {
        if (h === undefined) throw new Error(`unknown method '${m.method}'`)
        return h(m.args)
      })
      .then(
        (result) => process.send?.({ id: m.id, result, usage: procUsage() } satisfies Reply),
        (e: unknown) => process.send?.({ id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e), usage: procUsage() } satisfies Reply),
      )
  })
  // The parent going away ends the child (a profile, when asked for, is written on the way out).
  process.on('disconnect', () => process.exit(0))
}

export interface WorkerOptions {
  role: string
  /** Write a V8 CPU profile of this child into this directory (`node --cpu-prof`). */
  profileDir?: string
  /** Deadline for any single request (ms); a child that does not answer is killed. */
  timeoutMs?: number
}

export class Worker {
  readonly role: string
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>()
  readonly #timeoutMs: number
  #next = 1
  #exited: Promise<void>
  lastUsage: ProcUsage | undefined

  constructor(o: WorkerOptions) {
    this.role = o.role
    this.#timeoutMs = o.timeoutMs ?? 600_000
    // Built (dist/bench/worker.js) or run from source under a TypeScript loader (the tests): the
    // child gets this process's flags, so the same loader applies to it.
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
    const script = fileURLToPath(new URL(`./worker${ext}`, import.meta.url))
    // --expose-gc: `memory` collects garbage before it measures.
    const execArgv = [...process.execArgv, '--expose-gc', ...(o.profileDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`, `--cpu-prof-name=${o.role}-${process.pid}-${Date.now()}.cpuprofile`] : [])]
    this.#child = fork(script, [o.role], { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    this.#child.on('message', (r: Reply) => {
      const p = this.#pending.get(r.id)
      if (p === undefined) return
      this.#pending.delete(r.id)
      clearTimeout(p.timer)
      p.resolve(r)
    })
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        for (const p of this.#pending.values()) {
          clearTimeout(p.timer)
          p.reject(new Error(`bench ${this.role} process exited (${code ?? signal}) during a request`))
        }
        this.#pending.clear()
        resolve()
      })
    })
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  /** This child's CPU and memory now. */
  async usage(): Promise<ProcUsage> {
    await this.call('usage')
    return this.lastUsage!
  }

  async call<T>(method: string, args: unknown = {}, timeoutMs = this.#timeoutMs): Promise<T> {
    const id = this.#next++
    const reply = await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`bench ${this.role}: '${method}' did not answer within ${timeoutMs} ms`))
        this.#child.kill('SIGKILL')
      }, timeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
      this.#child.send({ id, method, args } satisfies Request)
    })
    this.lastUsage = reply.usage
    if (reply.error !== undefined) throw new Error(`bench ${this.role}: ${method}: ${reply.error}`)
    return reply.result as T
  }

  /** Ask the child to end (it closes what it holds), then wait; kill it if it lingers. */
  async stop(graceMs = 30_000): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    await this.call('close', {}, graceMs).catch(() => undefined)
    if (this.#child.connected) this.#child.disconnect()
    const t = setTimeout(() => this.#child.kill('SIGKILL'), graceMs)
    await this.#exited
    clearTimeout(t)
  }
}
