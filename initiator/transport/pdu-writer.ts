/**
 * The host side's PDU writer: honours `socket.write()`'s return value. PDUs go out corked, header,
 * data and digest as separate buffers: the socket is corked at the first PDU of an event-loop turn
 * and uncorked once, on `setImmediate`, so every command submitted in that turn leaves in one
 * `writev` (docs/performance.md: one socket write per turn, not per PDU). Once a write returns false, later PDUs wait here, in order, until the socket's 'drain'
 * — at most `limit` of them; `full` tells the queue pair to refuse more (WriteQueueFullError).
 */
import type { Socket } from 'node:net'

export class PduWriter {
  readonly limit: number
  readonly #socket: Socket
  /** PDUs (their wire parts) waiting for 'drain', oldest first. */
  readonly #queued: Buffer[][] = []
  #needDrain = false
  #stopped = false
  /** The pending end-of-turn uncork while this writer holds the socket corked. */
  #corked: NodeJS.Immediate | undefined
  readonly #uncork = (): void => {
    this.#corked = undefined
    this.#socket.uncork()
  }

  constructor(socket: Socket, limit: number) {
    this.#socket = socket
    this.limit = limit
    socket.on('drain', () => this.#flush())
  }

  /** PDUs waiting for 'drain'. */
  get queued(): number {
    return this.#queued.length
  }
  /** The bound is reached: nothing more may be written until the socket drains. */
  get full(): boolean {
    return this.#queued.length >= this.limit
  }

  /** Writes one PDU, or queues it while the socket needs 'drain'. The caller checks `full` first. */
  write(parts: Buffer[]): void {
    if (this.#stopped) return
    if (this.#needDrain) this.#queued.push(parts)
    else this.#writeNow(parts)
  }

  /**
   * {@link write} for a PDU that nothing else will join in this turn (a queue with one command
   * outstanding, e.g. QD1): it goes out now, in one `write`/`writev`, instead of on the end-of-turn
   * uncork, which cost a `setImmediate` and an extra non-blocking poll per I/O (docs/performance.md,
   * round 3). While the turn already has a batch corked, or the socket needs 'drain', it joins those.
   */
  writeAlone(parts: Buffer[]): void {
    if (this.#stopped) return
    if (this.#needDrain) this.#queued.push(parts)
    else if (this.#corked !== undefined) this.#writeNow(parts)
    else if (parts.length === 1) {
      if (!this.#socket.write(parts[0]!)) this.#needDrain = true
    } else {
      const s = this.#socket
      s.cork()
      for (const b of parts) if (!s.write(b)) this.#needDrain = true
      s.uncork()
    }
  }

  /** The queue is gone: what waits is dropped and nothing more is written. */
  stop(): void {
    this.#stopped = true
    this.#queued.length = 0
  }

  #writeNow(parts: Buffer[]): void {
    const s = this.#socket
    if (this.#corked === undefined) {
      s.cork()
      this.#corked = setImmediate(this.#uncork)
    }
    for (const b of parts) if (!s.write(b)) this.#needDrain = true
  }

  /** 'drain': write what waited, in order, until the socket pushes back again. */
  #flush(): void {
    this.#needDrain = false
    while (!this.#stopped && !this.#needDrain && this.#queued.length > 0) this.#writeNow(this.#queued.shift()!)
  }
}
