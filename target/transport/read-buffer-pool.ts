/**
 * Buffers for read data that spans memory-store chunks (a 128 KiB read covers two 64 KiB chunks and
 * is copied), reused per connection instead of allocated per read. A fresh 128 KiB Buffer per read is
 * a new ArrayBuffer each time, and the external memory it adds makes V8 run a full mark-compact every
 * few hundred reads: 39% of the process's busy time in a 128 KiB QD8 read profile
 * (docs/performance.md).
 *
 * A buffer comes back only once nobody can see it any more: its PDUs were written straight to the
 * socket (no onPduSend decision, which could hold or delay them) and the socket's write callback ran
 * (the kernel has the bytes, or the socket was destroyed and dropped them). Anything else is left to
 * the garbage collector. Small reads stay on Node's shared pool; the free list is bounded in bytes.
 * The data of R2T writes is gathered in buffers from here too (tcp-data-transfer.ts), given back
 * when the write's response is sent (tcp-response.ts).
 */

/** Reads smaller than this use `Buffer.allocUnsafe` (Node's 8 KiB pool serves them without a new ArrayBuffer). */
const MIN_POOLED = 16 * 1024

export class ReadBufferPool {
  readonly #maxFreeBytes: number
  readonly #free = new Map<number, Buffer[]>()
  #freeBytes = 0
  /** Buffers handed out and not yet given back (weak: one whose command ended otherwise is simply collected). */
  readonly #lent = new WeakSet<Buffer>()

  constructor(o: { maxFreeBytes: number }) {
    this.#maxFreeBytes = o.maxFreeBytes
  }

  /** An uninitialised buffer of `bytes` (the store copies the range into it). */
  readonly take = (bytes: number): Buffer => {
    if (bytes < MIN_POOLED) return Buffer.allocUnsafe(bytes)
    const list = this.#free.get(bytes)
    let b = list?.pop()
    if (b !== undefined) this.#freeBytes -= bytes
    else b = Buffer.allocUnsafeSlow(bytes)
    this.#lent.add(b)
    return b
  }

  /** `b` came from {@link take} and is still out. */
  lent(b: Buffer | undefined): b is Buffer {
    return b !== undefined && this.#lent.has(b)
  }

  /** Nobody refers to `b` any more: keep it for the next read of its size (within the byte bound). */
  giveBack(b: Buffer): void {
    if (!this.#lent.delete(b)) return
    if (this.#freeBytes + b.length > this.#maxFreeBytes) return
    let list = this.#free.get(b.length)
    if (list === undefined) this.#free.set(b.length, (list = []))
    list.push(b)
    this.#freeBytes += b.length
  }
}
