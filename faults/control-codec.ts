/**
 * Length-delimited protobuf framing for the control socket: each message is a varint byte length
 * followed by that many bytes (protobufjs `encodeDelimited`). The decoder is incremental and O(n):
 * chunks are kept in a list and joined once, when a whole message is there (never re-concatenated
 * per chunk); the declared length is bounded before anything is buffered; after an error it never
 * resynchronises. The bound can be raised later (`setMaxMessage`), e.g. once a peer authenticated.
 */
import { InvalidArgumentError } from '../lib/errors.js'

/** Largest control message accepted (a scenario text or a trace dump fits comfortably). */
export const MAX_CONTROL_MESSAGE = 64 * 1024 * 1024

export class DelimitedDecoder {
  #chunks: Buffer[] = []
  #buffered = 0
  /** Length of the message being collected (prefix already consumed), or -1 while reading a prefix. */
  #need = -1
  #error: Error | undefined
  #max: number
  readonly #onMessage: (msg: Buffer) => void

  constructor(opts: { onMessage: (msg: Buffer) => void; maxMessage?: number }) {
    this.#onMessage = opts.onMessage
    this.#max = opts.maxMessage ?? MAX_CONTROL_MESSAGE
  }

  /** Bytes held while waiting for the rest of a message. */
  get buffered(): number {
    return this.#buffered
  }

  setMaxMessage(max: number): void {
    this.#max = max
  }

  push(chunk: Buffer): void {
    if (this.#error !== undefined) throw this.#error
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    for (;;) {
      if (this.#need < 0 && !this.#readPrefix()) return
      if (this.#buffered < this.#need) return
      const msg = this.#take(this.#need)
      this.#need = -1
      this.#onMessage(msg)
    }
  }

  /** Consume a varint prefix (at most 5 bytes) if it is complete; false when more bytes are needed. */
  #readPrefix(): boolean {
    let len = 0
    let shift = 0
    let n = 0
    for (const c of this.#chunks) {
      for (let i = 0; i < c.length; i++) {
        const b = c[i]!
        len += (b & 0x7f) * 2 ** shift
        shift += 7
        n++
        if ((b & 0x80) === 0) {
          if (len > this.#max) this.#fail(`message of ${len} bytes exceeds the limit of ${this.#max}`)
          this.#take(n)
          this.#need = len
          return true
        }
        if (n >= 5) this.#fail('length prefix longer than 5 bytes')
      }
    }
    return false
  }

  /** Remove and return the first `n` buffered bytes (one copy, only when they span chunks). */
  #take(n: number): Buffer {
    const first = this.#chunks[0]
    let out: Buffer
    if (n === 0) out = Buffer.alloc(0)
    else if (first !== undefined && first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let off = 0
      while (off < n) {
        const c = this.#chunks[0]!
        const k = Math.min(c.length, n - off)
        c.copy(out, off, 0, k)
        off += k
        if (k === c.length) this.#chunks.shift()
        else this.#chunks[0] = c.subarray(k)
      }
    }
    this.#buffered -= n
    return out
  }

  #fail(message: string): never {
    this.#error = new InvalidArgumentError('control message', message)
    throw this.#error
  }
}
