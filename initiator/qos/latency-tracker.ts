/**
 * Per-path latency tracking with HDR histograms (µs resolution, 3 significant digits): one histogram
 * for reads, one for writes (write, write-zeroes, discard) and one for everything; p50, p99, p99.9.
 * Latency is measured per request (issue → done on this path), including requests that fail over.
 */
import * as hdr from 'hdr-histogram-js'
import { isWriteLike, type HostIo } from '../host-io.js'
import type { QosDoneInfo, QosPolicy } from './chain.js'

export interface LatencySummary {
  count: number
  /** Milliseconds. */
  p50: number
  p99: number
  p999: number
  max: number
  mean: number
}

function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
}

export function summarize(h: hdr.Histogram): LatencySummary {
  const us = (v: number): number => Math.round(v) / 1000
  return {
    count: h.totalCount,
    p50: us(h.getValueAtPercentile(50)),
    p99: us(h.getValueAtPercentile(99)),
    p999: us(h.getValueAtPercentile(99.9)),
    max: us(h.maxValue),
    mean: h.totalCount === 0 ? 0 : Math.round(h.mean) / 1000,
  }
}

export class LatencyTracker implements QosPolicy {
  readonly name = 'latency'
  readonly read = newHistogram()
  readonly write = newHistogram()
  readonly all = newHistogram()
  #errors = 0
  done(io: HostIo, info: QosDoneInfo): void {
    const us = Math.max(1, Math.round(info.latencyMs * 1000))
    this.all.recordValue(us)
    if (io.op === 'read') this.read.recordValue(us)
    else if (isWriteLike(io.op)) this.write.recordValue(us)
    if (info.status !== 0) this.#errors++
  }
  summary(): { all: LatencySummary; read: LatencySummary; write: LatencySummary; errors: number } {
    return { all: summarize(this.all), read: summarize(this.read), write: summarize(this.write), errors: this.#errors }
  }
  stats(): Record<string, unknown> {
    return this.summary()
  }
}
