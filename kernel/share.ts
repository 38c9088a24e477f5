/**
 * Host side of the host <-> guest synchronisation through the 9p share (the guest side is
 * guest/lib.sh; the layout is described there). Files are written to a temporary name and renamed,
 * so neither side ever reads half a message. Every wait is bounded and gives up early when the VM
 * has ended (`ended` signal).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { AbortedError, TimeoutError } from '../lib/errors.js'

const POLL_MS = 20

export type CallHandler = (cmd: string) => string | Promise<string>

export class GuestShare {
  readonly dir: string
  readonly #ended: AbortSignal
  #requestSeq = 0

  constructor(options: { dir: string; ended: AbortSignal }) {
    this.dir = options.dir
    this.#ended = options.ended
    for (const d of ['to-host', 'to-guest', 'call', 'serve']) mkdirSync(join(this.dir, d), { recursive: true })
  }

  #put(path: string, text: string): void {
    const tmp = `${path}.tmp.host`
    writeFileSync(tmp, text)
    renameSync(tmp, path)
  }

  async #waitFile(path: string, timeoutMs: number, what: string): Promise<string> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      if (existsSync(path)) return readFileSync(path, 'utf8')
      if (this.#ended.aborted) throw new AbortedError(`${what}: the VM ended first`)
      if (performance.now() > deadline) throw new TimeoutError(`${what}: nothing after ${timeoutMs} ms`)
      await sleep(POLL_MS)
    }
  }

  /** Whether the guest has sent signal `name` (vm_signal). */
  hasSignal(name: string): boolean {
    return existsSync(join(this.dir, 'to-host', name))
  }

  /** Wait for the guest's `vm_signal NAME [TEXT]`; resolves with TEXT. */
  waitSignal(name: string, timeoutMs: number): Promise<string> {
    return this.#waitFile(join(this.dir, 'to-host', name), timeoutMs, `waiting for guest signal '${name}'`)
  }

  /** Wait for whichever of several guest signals comes first. */
  async waitAnySignal(names: readonly string[], timeoutMs: number): Promise<{ name: string; text: string }> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      for (const name of names) {
        const path = join(this.dir, 'to-host', name)
        if (existsSync(path)) return { name, text: readFileSync(path, 'utf8') }
      }
      if (this.#ended.aborted) throw new AbortedError(`waiting for guest signal ${names.join('|')}: the VM ended first`)
      if (performance.now() > deadline) throw new TimeoutError(`waiting for guest signal ${names.join('|')}: nothing after ${timeoutMs} ms`)
      await sleep(POLL_MS)
    }
  }

  /** Send signal `name` to the guest (its `vm_wait NAME` returns, printing `text`). */
  signal(name: string, text = ''): void {
    this.#put(join(this.dir, 'to-guest', name), text)
  }

  /**
   * Ask the guest to run a command through its `vm_serve HANDLER` loop; resolves with the reply,
   * rejects with an Error carrying the reply when the handler failed.
   */
  async request(cmd: string, timeoutMs: number): Promise<string> {
    const seq = ++this.#requestSeq
    this.#put(join(this.dir, 'serve', `req.${seq}`), cmd)
    const ack = await this.#waitFile(join(this.dir, 'serve', `ack.${seq}`), timeoutMs, `guest request '${cmd}'`)
    const nl = ack.indexOf('\n')
    const status = nl < 0 ? ack : ack.slice(0, nl)
    const body = nl < 0 ? '' : ack.slice(nl + 1)
    if (status !== 'ok') throw new Error(`guest request '${cmd}' failed: ${body.trim()}`)
    return body
  }

  /**
   * Answer the guest's `vm_call CMD...` requests in order with `handler` until the VM ends or
   * `stop()` is called. A handler that throws answers "err" with the message.
   */
  serveCalls(handler: CallHandler): { stop(): void; served: Promise<number> } {
    let stopped = false
    const served = (async (): Promise<number> => {
      let seq = 1
      while (!stopped && !this.#ended.aborted) {
        const req = join(this.dir, 'call', `req.${seq}`)
        if (!existsSync(req)) {
          await sleep(POLL_MS)
          continue
        }
        const cmd = readFileSync(req, 'utf8').trim()
        let reply: string
        try {
          reply = `ok\n${await handler(cmd)}`
        } catch (e) {
          reply = `err\n${e instanceof Error ? e.message : String(e)}`
        }
        this.#put(join(this.dir, 'call', `ack.${seq}`), reply)
        seq++
      }
      return seq - 1
    })()
    return {
      stop: () => {
        stopped = true
      },
      served,
    }
  }
}
