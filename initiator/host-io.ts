/**
 * One host I/O as it travels through the multipath stack (the counterpart of a Linux `bio`). It is
 * created by a device, submitted to its head, issued on a path, and may be failed over back to the
 * head's requeue list any number of times before it settles exactly once.
 *
 * `qos` records which path's QoS chain charged it (Linux `BIO_QOS_THROTTLED` / `BIO_QOS_MERGED`), and
 * `device` is where the I/O currently sits. Keeping both lets the invariant checker prove that an I/O
 * never completes against a device that did not charge it (anchors 0.1).
 */
import type { QosChain } from './qos/chain.js'

export type IoOp = 'read' | 'write' | 'flush' | 'write-zeroes' | 'discard'

export interface QosFlags {
  /** Id of the path whose QoS chain charged this I/O, if any. */
  chargedBy: string | undefined
  /** Set by the throttle hook (BIO_QOS_THROTTLED). */
  throttled: boolean
  /** Set by the merge hook (BIO_QOS_MERGED). */
  merged: boolean
}

/** Where an I/O currently sits: a multipath head (no QoS) or a path (with its QoS chain). */
export interface IoDevice {
  readonly id: string
  readonly kind: 'head' | 'path'
  readonly qos: QosChain | undefined
}

export interface HostIo {
  readonly id: number
  readonly op: IoOp
  readonly slba: bigint
  /** Number of logical blocks (1-based). 0 for flush. */
  readonly nlb: number
  /** Write payload (exactly nlb × block size bytes). */
  readonly data: Buffer | undefined
  /** Bytes transferred (read/write). */
  readonly length: number
  readonly submittedAt: number
  device: IoDevice
  qos: QosFlags
  /** Same-path retries so far (disposition retry limit). */
  retries: number
  failovers: number
  /** Path ids this I/O was issued on, in order. */
  readonly history: string[]
  /** Request-level issue time on the current path (ms, clock time). */
  issuedAt: number
  /**
   * Id of the path whose QoS chain has this I/O's request in flight (issued, not yet done); the
   * chain's double-done check. A field, not a per-chain Set: a Set emptied and refilled per I/O at
   * QD1 cost about 0.5 µs per delete (docs/performance.md, round 3).
   */
  issuedOn?: string | undefined
  settled: boolean
  resolve(buf: Buffer): void
  reject(err: Error): void
}

export function isWriteLike(op: IoOp): boolean {
  return op === 'write' || op === 'write-zeroes' || op === 'discard'
}

export function emptyQosFlags(): QosFlags {
  return { chargedBy: undefined, throttled: false, merged: false }
}

export function hasQosFlags(io: HostIo): boolean {
  return io.qos.throttled || io.qos.merged
}
