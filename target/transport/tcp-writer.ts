/**
 * The only place the TCP transport writes PDUs. `send(pdu)` encodes (header + HDGST + PAD, the
 * caller's data buffer uncopied, DDGST: wire spec 1.3), passes the PDU through the onPduSend seam
 * and the send-side shaper its decision picks (tcp-send-shaping.ts), and writes the parts as
 * separate buffers inside one cork/uncork. The socket is corked at the first PDU written and
 * uncorked once: at the end of the socket read that produced it when it was written synchronously
 * inside one (`batch`: every response a chunk of capsules completed at once leaves in one `writev`,
 * without waiting for the check phase, which at QD1 is the whole round trip's latency), otherwise
 * on `setImmediate`, so the PDUs completed by the store callbacks and hook decisions of one poll
 * phase still leave together (docs/performance.md: one socket write per turn, not per PDU) — or,
 * once SEND_BATCH bytes are corked, at once, and the rest in the next `writev` (round 3). Small PDUs
 * are copied (or, for responses, encoded: `sendEncoded`) into the connection's send arena instead
 * and leave as one `write` at the same moments (tcp-send-arena.ts; round 4); a larger PDU first
 * flushes what the arena holds, so wire order is the order of `send` calls.
 *
 * Order: with no onPduSend hook and nothing queued, a PDU is written synchronously. Otherwise it
 * waits behind the PDUs before it (an asynchronous decision must not let a later PDU overtake).
 * Backpressure: once SEND_BACKLOG bytes wait unsent in the socket, `needDrain` is set until the
 * socket's 'drain'; the connection stops reading from a host that does not read what we send.
 */
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import type { Clock } from '../../lib/clock.js'
import { encodePduParts, PduType, type Pdu } from '../../lib/pdu/index.js'
import type { PduEncodeOptions } from '../../lib/pdu/common.js'
import { SEAMS, type ConnectionFault, type HookContext, type HookSlot, type SendDecision, type SendSubject } from '../seams/index.js'
import { shaperFor, type WireOps } from './tcp-send-shaping.js'
import { ARENA_PDU_MAX, SendArena } from './tcp-send-arena.js'
import { tracePdu } from './tcp-trace.js'

const NO_DIGESTS: PduEncodeOptions = Object.freeze({})

/**
 * Corked bytes at which the writer sends without waiting for the end of the turn: 16 KiB (Node 20's
 * socket high-water mark; Node 22 raised that default to 64 KiB, which measured as bad as no limit).
 */
export const SEND_BATCH = 16 * 1024

/** Unsent bytes on a socket at which the connection stops reading (a host not reading what we send). */
export const SEND_BACKLOG = 256 * 1024

export interface TcpWriterOptions {
  socket: Socket
  clock: Clock
  hooks: HookSlot
  /** The hook context of the connection's queue (grows once Connect binds it). */
  context: () => HookContext
  logger: () => Logger
  tracePdu: boolean
  /** A connection fault decided at onPduSend (stall, close, reset, termReq). */
  onFault: (d: ConnectionFault) => void
  /** A write needs 'drain' (`true`) or the socket drained (`false`). */
  onDrainNeeded: (needed: boolean) => void
}

export class TcpWriter implements WireOps {
  readonly #o: TcpWriterOptions
  /** Encode options after ICReq (digests, HPDA): one object per connection, not one per PDU. */
  #encodeOpts: PduEncodeOptions = NO_DIGESTS
  /** The socket is corked by this writer (one cork, undone by `#uncork`). */
  #corked = false
  /** Small PDUs, copied to leave in one write (tcp-send-arena.ts); flushed in order with the corked parts. */
  readonly #arena = new SendArena()
  /** The pending end-of-turn flush, for PDUs written outside a receive batch. */
  #flushAt: NodeJS.Immediate | undefined
  /** Inside `batch`: the batch's end uncorks. */
  #batching = false
  /**
   * A batch ended with hooks installed: PDUs its commands' hook decisions write (on the microtasks
   * that follow the read) are flushed once those microtasks are done, by a `process.nextTick`
   * queued from a microtask (Node runs it after the microtask queue drains), not in the check phase.
   */
  #afterDecisions = false
  readonly #queueDecisionsFlush = (): void => {
    process.nextTick(this.#decisionsFlush)
  }
  readonly #decisionsFlush = (): void => {
    this.#afterDecisions = false
    if (this.#corked || this.#arena.pending > 0) this.#uncork()
  }
  /** Sends what this turn wrote: the arena's bytes (into the cork when corked), then the uncork. */
  readonly #uncork = (): void => {
    if (this.#flushAt !== undefined) clearImmediate(this.#flushAt)
    this.#flushAt = undefined
    if (this.#arena.pending > 0) this.#flushArena()
    if (!this.#corked) return
    this.#corked = false
    this.#o.socket.uncork()
  }
  #needDrain = false
  /** Wire parts of PDUs a `hold` decision kept back; they precede the next write. */
  #held: Buffer[] = []
  /** Sends waiting behind an asynchronous onPduSend decision (keeps PDU order). */
  #chain: Promise<void> = Promise.resolve()
  #chainDepth = 0

  constructor(o: TcpWriterOptions) {
    this.#o = o
    o.socket.on('drain', () => {
      this.#needDrain = false
      o.onDrainNeeded(false)
    })
  }

  /**
   * Runs `fn` (the handling of one socket read) as one batch: what it writes synchronously leaves in
   * one `writev` when it returns, together with anything the turn corked before it.
   */
  batch<A>(fn: (arg: A) => void, arg: A): void {
    if (this.#batching) return fn(arg)
    this.#batching = true
    try {
      fn(arg)
    } finally {
      this.#batching = false
      if (this.#corked || this.#arena.pending > 0) this.#uncork()
      if (this.#o.hooks.hooks !== undefined && !this.#afterDecisions) {
        this.#afterDecisions = true
        queueMicrotask(this.#queueDecisionsFlush)
      }
    }
  }

  /** Hands what this turn wrote to the socket now (before a FIN: `end()` would not see the arena). */
  flush(): void {
    if (this.#corked || this.#arena.pending > 0) this.#uncork()
  }

  /** Writes wait for the socket's 'drain'. */
  get needDrain(): boolean {
    return this.#needDrain
  }

  /** After ICReq/ICResp: the digests the host asked for and its PDU data alignment (HPDA). */
  setDigests(o: { hdgst: boolean; ddgst: boolean; hpda: number }): void {
    this.#encodeOpts = { hdgst: o.hdgst, ddgst: o.ddgst, pda: o.hpda }
  }

  /**
   * Encodes and sends `pdu`; `written` runs once its bytes are handed to the kernel (or never will be).
   * True when the PDU went straight to the socket; false when it waits for an onPduSend decision
   * (then `written` runs once decided, and a fault may still hold the parts).
   */
  send(pdu: Pdu, written?: () => void): boolean {
    // ICResp and TermReq carry no digests (wire spec 1.3: digests start after the ICResp).
    const bare = pdu.type === PduType.IC_RESP || pdu.type === PduType.C2H_TERM_REQ
    const parts = encodePduParts(pdu, bare ? NO_DIGESTS : this.#encodeOpts)
    if (this.#o.tracePdu) tracePdu(this.#o.logger(), 'tx', pdu, parts.reduce((n, p) => n + p.length, 0))
    if (this.#chainDepth === 0 && !SEAMS.send.installed(this.#o.hooks)) {
      this.#write(parts, written)
      return true
    }
    this.#chainDepth++
    this.#chain = this.#chain
      .then(
        () =>
          new Promise<void>((resolve) => {
            const tx: SendSubject = { pdu, parts }
            SEAMS.send.run(this.#o.hooks, this.#o.logger(), this.#o.context(), tx, (d) => this.#shape(d, parts, resolve))
          }),
      )
      .catch((err: unknown) => this.#o.logger().error({ err }, 'sending a PDU failed'))
      .finally(() => {
        this.#chainDepth--
        // Fault paths (held, dropped, segmented PDUs): the budget is given back once decided.
        written?.()
      })
    return false
  }

  /**
   * Small PDUs encoded in place: when nothing sits between the caller and the socket (no onPduSend
   * hook, no PDU waiting for a decision or held, no PDU tracing) and `bytes` fit the send arena,
   * `encode(buffer, offset, arg, opts)` writes them there and they leave with the batch, as `send`'s
   * would; `written` as for `send`. False when the caller must `send` PDU objects instead.
   */
  sendEncoded<A>(bytes: number, encode: (buf: Buffer, at: number, arg: A, opts: PduEncodeOptions) => void, arg: A, written?: () => void): boolean {
    if (bytes > ARENA_PDU_MAX || this.#chainDepth !== 0 || this.#held.length !== 0 || this.#o.tracePdu || SEAMS.send.installed(this.#o.hooks)) return false
    const s = this.#o.socket
    if (s.destroyed || !s.writable) {
      written?.()
      return true
    }
    const arena = this.#arena
    if (arena.pending > 0 && !arena.fits(bytes)) this.#outgrown()
    const at = arena.claim(bytes, s.writableLength === 0, written)
    encode(arena.buffer, at, arg, this.#encodeOpts)
    this.#afterCopy()
    return true
  }

  /** The encode options in effect (digests and HPDA after ICReq). */
  get encodeOptions(): PduEncodeOptions {
    return this.#encodeOpts
  }

  /** Carries out the onPduSend decision for one PDU; `resolve` lets the next PDU go. */
  #shape(d: SendDecision, parts: Buffer[], resolve: () => void): void {
    const shaper = shaperFor(d, this)
    let done: void | Promise<void> = undefined
    if (shaper !== undefined) done = shaper((p) => this.#write(p))(parts)
    else if (d.action === 'stall') {
      // The connection stops reading for `ms`; this PDU goes out after it.
      this.#o.onFault(d)
      done = this.sleep(d.ms).then(() => this.#write(parts))
    } else this.#o.onFault(d as ConnectionFault) // close, reset, termReq: the PDU is not sent
    void Promise.resolve(done).then(resolve, (err: unknown) => {
      this.#o.logger().error({ err }, 'send-side fault shaping failed')
      resolve()
    })
  }

  /** A TermReq goes out at once, without the seams (the connection closes right after it). */
  sendTermReq(fes: number, fei: number, header: Buffer): void {
    const data = header.subarray(0, 128)
    const pdu: Pdu = { type: PduType.C2H_TERM_REQ, fes, fei, data }
    const parts = encodePduParts(pdu)
    if (this.#o.tracePdu) tracePdu(this.#o.logger(), 'tx', pdu, parts[0]!.length)
    this.writeNow(parts)
  }

  // ---- WireOps (used by the send-side shapers) -------------------------------------------------

  write(parts: Buffer[]): void {
    this.#write(parts)
  }

  hold(parts: Buffer[]): void {
    this.#held.push(...parts)
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#o.clock.setTimeout(resolve, ms))
  }

  writeNow(parts: Buffer[]): void {
    const s = this.#o.socket
    if (s.destroyed || !s.writable) return
    // What this turn corked goes out first, and these bytes in writes of their own (segment shaper).
    if (this.#corked || this.#arena.pending > 0) this.#uncork()
    const held = this.#takeHeld([])
    if (held.length > 0) {
      // Keep wire order: what was held goes out, as one corked write, before these bytes.
      s.cork()
      for (const p of held) this.#push(p)
      s.uncork()
    }
    for (const p of parts) this.#push(p)
  }

  // ---- the socket ------------------------------------------------------------------------------

  /** Parts held by `hold` decisions, taken (in order) to go out in front of `parts`. */
  #takeHeld(parts: Buffer[]): Buffer[] {
    if (this.#held.length === 0) return parts
    const all = [...this.#held, ...parts]
    this.#held = []
    return all
  }

  /**
   * Corked scatter-gather: header, data and digest as separate buffers, uncorked at the end of the
   * turn. A socket destroyed meanwhile discards what it buffered (nothing is written after close).
   */
  #write(parts: Buffer[], written?: () => void): void {
    const s = this.#o.socket
    if (s.destroyed || !s.writable) {
      written?.()
      return
    }
    if (this.#held.length === 0) {
      let bytes = 0
      for (let i = 0; i < parts.length; i++) bytes += parts[i]!.length
      if (bytes <= ARENA_PDU_MAX) {
        this.#copy(parts, bytes, written)
        return
      }
    }
    parts = this.#takeHeld(parts)
    // Wire order: the small PDUs copied before these parts go first.
    if (this.#arena.pending > 0) this.#flushArena()
    if (!this.#corked) {
      s.cork()
      this.#corked = true
    }
    if (!this.#batching && !this.#afterDecisions && this.#flushAt === undefined) this.#flushAt = setImmediate(this.#uncork)
    const last = parts.length - 1
    for (let i = 0; i <= last; i++) this.#push(parts[i]!, i === last ? written : undefined)
    // Past SEND_BATCH the batch goes to the kernel now, not at the end of the turn: the host starts on
    // these responses while the turn's other commands execute. Waiting for the whole turn made QD32
    // with digests ping-pong one 32-command batch (docs/performance.md, round 3: digest cost).
    // Inside a read's batch too: the next PDU corks again and the batch's end sends the rest.
    if (this.#corked && s.writableLength >= SEND_BATCH) this.#uncork()
    // A host that does not read what we send gets nothing more read from it until 'drain'.
    if (this.#needDrain) this.#o.onDrainNeeded(true)
  }

  /** A small PDU into the arena; it leaves with the arena's bytes at the end of the batch (or turn). */
  #copy(parts: Buffer[], bytes: number, written: (() => void) | undefined): void {
    const s = this.#o.socket
    const arena = this.#arena
    if (arena.pending > 0 && !arena.fits(bytes)) this.#outgrown()
    arena.copy(parts, bytes, s.writableLength === 0, written)
    this.#afterCopy()
  }

  /** Bytes went into the arena: flushed at the batch's or turn's end, or now past SEND_BATCH. */
  #afterCopy(): void {
    const s = this.#o.socket
    if (!this.#batching && !this.#afterDecisions && this.#flushAt === undefined) this.#flushAt = setImmediate(this.#uncork)
    // Past SEND_BATCH the bytes go to the kernel now, as corked parts do (see #write). Uncorked, only
    // the arena counts: bytes the socket still holds from earlier writes are the kernel's to take,
    // and a CapsuleResp behind a large read then waits for the batch's end, not a write of its own.
    if (this.#arena.pending + (this.#corked ? s.writableLength : 0) >= SEND_BATCH) this.#uncork()
  }

  /** A batch did not fit the arena: what it holds goes now, and the next arena is larger. */
  #outgrown(): void {
    this.#arena.outgrown()
    this.#flushArena()
  }

  /** The arena's pending bytes to the socket: one write (or one more buffer in the cork). */
  #flushArena(): void {
    const s = this.#o.socket
    const bytes = this.#arena.take()
    const written = this.#arena.takeWritten()
    if (bytes === undefined) return
    if (s.destroyed || !s.writable) {
      written?.()
      return
    }
    this.#push(bytes, written)
    if (this.#needDrain) this.#o.onDrainNeeded(true)
  }

  #push(p: Buffer, written?: () => void): void {
    const s = this.#o.socket
    // write() turns false past the socket's 16 KiB high-water mark, which one turn's batch of
    // responses passes at QD32 (32 x 4 KiB): stopping there would split the batch over several
    // writes and pause/resume reading every turn. Reading stops once SEND_BACKLOG bytes are unsent;
    // the stream still emits 'drain' (its own flag is set), which clears ours.
    if (!s.write(p, written) && s.writableLength >= SEND_BACKLOG) this.#needDrain = true
  }
}
