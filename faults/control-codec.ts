/**
 * Length-delimited protobuf framing for the control socket: each message is a varint byte length
 * followed by that many bytes (protobufjs `encodeDelimited`). The decoder is incremental, bounds the
 * declared length before buffering, and never resynchronises after an error.
 */
import { InvalidArgumentError } from '../lib/errors.js'

/** Largest control message accepted (a scenario text or a trace dump fits comfortably). */
export const MAX_CONTROL_MESSAGE = 64 * 1024 * 1024

export class DelimitedDecoder {
  #chunks: Buffer[] = []
  #buffered = 0
  #error: Error | undefined
  readonly #max: number
  readonly #onMessage: (msg: Buffer) => void

  constructor(opts: { onMessage: (msg: Buffer) => void; maxMessage?: number }) {
    this.#onMessage = opts.onMessage
    this.#max = opts.maxMessage ?? MAX_CONTROL_MESSAGE
  }

  push(chunk: Buffer): void {
    if (this.#error !== undefined) throw this.#error
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    for (;;) {
      const buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered)
      this.#chunks = buf.length > 0 ? [buf] : []
      let len = 0
      let shift = 0
      let i = 0
      let complete = false
      while (i < buf.length && i < 5) {
        const b = buf[i++]!
        len += (b & 0x7f) * 2 ** shift
        shift += 7
        if ((b & 0x80) === 0) {
          complete = true
          break
        }
      }
      if (!complete) {
        if (buf.length >= 5) this.#fail('length prefix longer than 5 bytes')
        return
      }
      if (len > this.#max) this.#fail(`message of ${len} bytes exceeds the limit of ${this.#max}`)
      if (buf.length < i + len) return
      const msg = buf.subarray(i, i + len)
      const rest = buf.subarray(i + len)
      this.#chunks = rest.length > 0 ? [rest] : []
      this.#buffered = rest.length
      this.#onMessage(msg)
    }
  }

  #fail(message: string): never {
    this.#error = new InvalidArgumentError('control message', message)
    throw this.#error
  }
}
