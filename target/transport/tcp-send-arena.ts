/**
 * The send arena of one connection: small PDUs (a 4 KiB read's C2HData and CapsuleResp, R2Ts,
 * CapsuleResps) are copied into one reused buffer and handed to the socket as one `write` of the
 * bytes accumulated, instead of corking the socket for separate header, data and CQE buffers. At
 * QD1 a Read's response is then one `write` → `writeBuffer`, not cork + three writes + uncork → the
 * stream's corked-buffer path (`clearBuffer`, `_writev`): docs/performance.md, round 4.
 *
 * Ownership: bytes handed to the socket stay the socket's until written. The arena starts over at
 * offset 0 only when the socket holds nothing (`writableLength` 0: every earlier write completed,
 * the kernel has the bytes, nothing refers to the arena); when it is full while the socket still
 * holds part of it, a fresh arena is taken and the old one is left to the garbage collector once
 * the socket lets go of it. So no byte is overwritten while a write may still read it.
 */
import { Buffer } from 'node:buffer'

/**
 * The largest arena. A connection's first arena is the power of two that holds its first PDU (at
 * least ARENA_MIN); it doubles, up to this, each time a batch outgrows it (`outgrown`). So a queue
 * that only connected holds 1 KiB, a QD1 4 KiB-read queue 8 KiB, a QD32 one 32 KiB: the memory per
 * connection of a scale run stays what it was for the queues that do no I/O.
 */
export const ARENA_SIZE = 32 * 1024
export const ARENA_MIN = 1024
/** PDUs up to this size (all parts: header, data, digests) are copied; larger ones go out uncopied. */
export const ARENA_PDU_MAX = 8 * 1024

export class SendArena {
  #buf: Buffer | undefined
  /** First byte not yet handed to the socket. */
  #start = 0
  /** End of the bytes copied in. */
  #end = 0
  /** `written` callbacks of the PDUs in [start, end): run once the socket wrote them. */
  #written: (() => void)[] = []
  /** The size of the next arena taken. */
  #size = ARENA_MIN

  /** Bytes copied in and not yet taken. */
  get pending(): number {
    return this.#end - this.#start
  }

  /** Room for `bytes` more after what is pending. */
  fits(bytes: number): boolean {
    return this.#buf !== undefined && this.#buf.length - this.#end >= bytes
  }

  /** A batch did not fit (the caller takes what is pending early): the next arena is twice as large. */
  outgrown(): void {
    this.#size = Math.min(ARENA_SIZE, this.#size * 2)
  }

  /**
   * Room for `bytes` (at most ARENA_PDU_MAX) after what is pending, counted as pending: returns its
   * offset in {@link buffer}, for the caller to fill now. The caller takes what is pending first
   * unless it `fits`. `socketIdle`: the socket holds no unwritten bytes, so none of this arena.
   */
  claim(bytes: number, socketIdle: boolean, written: (() => void) | undefined): number {
    if (this.#start === this.#end) {
      if (socketIdle) this.#start = this.#end = 0
      const buf = this.#buf
      if (buf === undefined || buf.length < this.#size || buf.length - this.#end < bytes) {
        // Too small, or the socket may still be writing from this one: a fresh arena (the old one
        // is collected once the socket lets go of it).
        while (this.#size < bytes) this.#size *= 2
        this.#buf = Buffer.allocUnsafeSlow(this.#size)
        this.#start = this.#end = 0
      }
    }
    const at = this.#end
    this.#end = at + bytes
    if (written !== undefined) this.#written.push(written)
    return at
  }

  /** The current arena (valid after a `claim`, for the bytes it claimed). */
  get buffer(): Buffer {
    return this.#buf!
  }

  /** Copies `parts` (`bytes` in all) after what is pending (as `claim`). */
  copy(parts: readonly Buffer[], bytes: number, socketIdle: boolean, written: (() => void) | undefined): void {
    let at = this.claim(bytes, socketIdle, written)
    const buf = this.#buf!
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!
      buf.set(p, at)
      at += p.length
    }
  }

  /** Takes the pending bytes: a view the socket owns from now on (undefined when none). */
  take(): Buffer | undefined {
    if (this.#start === this.#end) return undefined
    const bytes = this.#buf!.subarray(this.#start, this.#end)
    this.#start = this.#end
    return bytes
  }

  /** Takes the callbacks of the bytes last taken: to run once the socket wrote them. */
  takeWritten(): (() => void) | undefined {
    const cbs = this.#written
    if (cbs.length === 0) return undefined
    this.#written = []
    return cbs.length === 1 ? cbs[0] : () => cbs.forEach((f) => f())
  }
}
