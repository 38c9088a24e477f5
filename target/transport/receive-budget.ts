/**
 * The per-connection byte budget of the TCP transport (limits.maxBufferedBytes, limits.maxR2T).
 *
 * Every buffer a command needs — the R2T buffer of a write, the data of a read — is reserved here
 * **before** it is allocated, and given back when the command's response has been handed to the
 * kernel. A reservation that does not fit waits, in arrival order, until earlier ones are released;
 * one reservation is always granted when nothing is held, so a command larger than the budget
 * still runs (alone). Together with the queue depth (SQSIZE+1, enforced on receive) this bounds
 * what one connection can make the target hold, whatever the host does with its socket.
 */

export interface Reservation {
  readonly bytes: number
  /** Takes one of the maxR2T slots (a write waiting for H2CData). */
  readonly r2t: boolean
  readonly grant: () => void
  readonly fail: (err: Error) => void
}

export class ReceiveBudget {
  readonly limit: number
  readonly maxR2T: number
  #held = 0
  #r2t = 0
  readonly #waiting: Reservation[] = []

  constructor(o: { limit: number; maxR2T: number }) {
    this.limit = o.limit
    this.maxR2T = o.maxR2T
  }

  /** Bytes reserved now. */
  get held(): number {
    return this.#held
  }
  /** R2T slots in use. */
  get r2t(): number {
    return this.#r2t
  }
  /** Reservations waiting for room. */
  get waiting(): number {
    return this.#waiting.length
  }

  /** Grants `r` now (its `grant` runs before this returns) or queues it. */
  request(r: Reservation): void {
    if (this.#waiting.length === 0 && this.#fits(r)) this.#take(r)
    else this.#waiting.push(r)
  }

  /**
   * Takes `bytes` (no R2T slot) when they fit now and nobody waits: true. The common case of a read's
   * reservation, without the reservation object and its callbacks (one per I/O).
   */
  tryTake(bytes: number): boolean {
    if (this.#waiting.length !== 0 || !(this.#held === 0 || this.#held + bytes <= this.limit)) return false
    this.#held += bytes
    return true
  }

  /** Gives back `bytes` (and an R2T slot when `r2t`), then grants what now fits, in order. */
  release(bytes: number, r2t: boolean): void {
    this.#held = Math.max(0, this.#held - bytes)
    if (r2t) this.#r2t = Math.max(0, this.#r2t - 1)
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0]!)) this.#take(this.#waiting.shift()!)
  }

  /** Gives back an R2T slot only (the write's data is in; its bytes stay held until it completes). */
  releaseR2T(): void {
    this.release(0, true)
  }

  /** The connection is going away: every waiting reservation fails, nothing stays held. */
  failAll(err: Error): void {
    const w = this.#waiting.splice(0)
    this.#held = 0
    this.#r2t = 0
    for (const r of w) r.fail(err)
  }

  #fits(r: Reservation): boolean {
    if (r.r2t && this.#r2t >= this.maxR2T) return false
    return this.#held === 0 || this.#held + r.bytes <= this.limit
  }

  #take(r: Reservation): void {
    this.#held += r.bytes
    if (r.r2t) this.#r2t++
    r.grant()
  }
}
