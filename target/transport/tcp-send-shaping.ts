/**
 * Send-side fault shaping as small wrappers composed around the wire writer (undici's interceptor
 * shape: `wrapper(next) → writer`). The onPduSend seam picks one per PDU from its decision:
 *
 *   pass     → the wire writer itself (corked scatter-gather)
 *   delay    → delayed(ms)          wait on the injected clock, then write
 *   mutate   → replaced(parts)      write other bytes instead
 *   hold     → held                 keep the parts back; they coalesce with the next PDU written
 *   segment  → segmented(sizes,gap) write the bytes in these sizes, `gapMs` apart
 *   drop     → dropped              write nothing
 *
 * Bandwidth limits are `delay` decisions computed by the fault (faults/builtin/pdu-faults.ts, a
 * token bucket per connection); connection faults (stall, close, reset, termReq) are carried out
 * by the connection, not here.
 */
import type { SendDecision } from '../seams/index.js'

/** Writes one PDU's wire parts; may finish later (a shaper that waits). */
export type SendFn = (parts: Buffer[]) => void | Promise<void>

/** What the shapers need from the writer beneath them. */
export interface WireOps {
  /** Corked scatter-gather write; parts held before go first, in the same write. */
  write(parts: Buffer[]): void
  /** Write now (uncorked); parts held before go first. */
  writeNow(parts: Buffer[]): void
  /** Keep parts back for the next write. */
  hold(parts: Buffer[]): void
  sleep(ms: number): Promise<void>
}

export type SendWrapper = (next: SendFn) => SendFn

export const delayed =
  (ms: number, wire: WireOps): SendWrapper =>
  (next) =>
  async (parts) => {
    await wire.sleep(ms)
    await next(parts)
  }

export const replaced =
  (replacement: Buffer[]): SendWrapper =>
  (next) =>
  (_parts) =>
    next(replacement)

export const dropped: SendWrapper = () => () => undefined

/**
 * Kept back and copied: the data part may be a view of store memory that a later write could
 * change meanwhile. They go out, in order, in front of the next PDU written on the connection.
 */
export const held =
  (wire: WireOps): SendWrapper =>
  () =>
  (parts) =>
    wire.hold([Buffer.concat(parts)])

export const segmented =
  (sizes: readonly number[], gapMs: number | undefined, wire: WireOps): SendWrapper =>
  () =>
  async (parts) => {
    const all = Buffer.concat(parts)
    let off = 0
    for (const size of sizes) {
      if (off >= all.length) break
      const n = Math.max(1, size)
      wire.writeNow([all.subarray(off, off + n)])
      off += n
      if (gapMs !== undefined && gapMs > 0) await wire.sleep(gapMs)
    }
    if (off < all.length) wire.writeNow([all.subarray(off)])
  }

/** The wrapper for a send decision, or undefined for a connection fault (the connection handles it). */
export function shaperFor(d: SendDecision, wire: WireOps): SendWrapper | undefined {
  switch (d.action) {
    case 'pass':
      return (next) => next
    case 'delay':
      return delayed(d.ms, wire)
    case 'mutate':
      return replaced(d.parts)
    case 'hold':
      return held(wire)
    case 'segment':
      return segmented(d.sizes, d.gapMs, wire)
    case 'drop':
      return dropped
    default:
      return undefined
  }
}
