/**
 * When a connection reads from its socket (receive-side backpressure). Reading pauses while a fault
 * stalls the queue, while writes wait for 'drain' — whatever the R2T state: a host that does not
 * read its socket gets no more commands read — and at the queue depth unless a command waits for
 * H2C data (its data must still be read; a capsule beyond the depth is a sequence error). The
 * framer pauses delivery on its own when a PDU handler asks it to (its `onPdu` returned false).
 */
import type { Socket } from 'node:net'
import type { Clock } from '../../lib/clock.js'
import type { PduFramer } from '../../lib/framer.js'

export interface ReadGateOptions {
  socket: Socket
  framer: PduFramer
  clock: Clock
  /** Writes wait for 'drain', or the queue is full with no H2C data owed. */
  blocked: () => boolean
  /** Reading may resume at all (CONNECTING or LIVE). */
  open: () => boolean
  /** A PDU's onPduReceived decision is pending (its decision resumes delivery). */
  decisionPending: () => boolean
  /** Delivery resumed (re-check the partial-PDU timer). */
  resumed: () => void
  /** Resuming the framer threw (a queued PDU was bad). */
  fatal: (err: unknown) => void
}

export class ReadGate {
  readonly #o: ReadGateOptions
  #paused = false
  #stalledUntil = 0

  constructor(o: ReadGateOptions) {
    this.#o = o
  }

  /** Reading from the socket is paused. */
  get paused(): boolean {
    return this.#paused
  }

  shouldPause(): boolean {
    return this.#o.clock.now() < this.#stalledUntil || this.#o.blocked()
  }

  pause(): void {
    if (this.#paused) return
    this.#paused = true
    this.#o.socket.pause()
  }

  /** A `stall` fault: no reading for `ms` on the injected clock. */
  stall(ms: number): void {
    this.#stalledUntil = Math.max(this.#stalledUntil, this.#o.clock.now() + ms)
    this.pause()
    this.#o.clock.setTimeout(() => this.maybeResume(), ms)
  }

  maybeResume(): void {
    if (!this.#o.open()) return
    if (!this.#paused && !this.#o.framer.paused) return
    if (this.shouldPause()) return
    if (this.#o.decisionPending() && this.#o.framer.paused && !this.#paused) return
    this.resume()
  }

  /** Resumes delivery (queued PDUs first), then the socket unless a PDU paused delivery again. */
  resume(): void {
    try {
      this.#o.framer.resume()
    } catch (err) {
      this.#o.fatal(err)
      return
    }
    if (this.#o.framer.paused) this.pause()
    else if (this.#paused) {
      this.#paused = false
      this.#o.socket.resume()
    }
    this.#o.resumed()
  }
}
