/**
 * Where a queue pair's socket reads land: consecutive regions of one slab, a new slab when the tail
 * left is short. The socket reads straight into them (`net.connect`'s `onread`), so a read costs
 * neither a fresh 64 KiB buffer nor the Readable stream's push/'data'/read-more steps per chunk
 * (docs/performance.md, round 3). Nothing handed out is ever written again: the framer's PDUs and a
 * read's data stay views of the slab (the caller's buffer keeps its slab alive, as it kept its
 * socket chunk before: docs/design.md).
 */
export class ReceiveSlab {
  readonly #size: number
  readonly #minTail: number
  #slab: Buffer
  #used = 0

  /** `size`: bytes per slab; `minTail`: a shorter tail is left unused and a new slab begun. */
  constructor(o: { size: number; minTail: number }) {
    this.#size = o.size
    this.#minTail = o.minTail
    this.#slab = Buffer.allocUnsafe(o.size)
  }

  /** The region the next read goes into (`onread.buffer`). */
  next(): Buffer {
    if (this.#size - this.#used < this.#minTail) {
      this.#slab = Buffer.allocUnsafe(this.#size)
      this.#used = 0
    }
    return this.#slab.subarray(this.#used)
  }

  /** `n` bytes were read into the region from {@link next}: they are the caller's, as a view. */
  take(region: Buffer, n: number): Buffer {
    this.#used += n
    return region.subarray(0, n)
  }
}
