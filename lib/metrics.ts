/**
 * Cheap metric series for hot paths, exposed through prom-client's Registry (Prometheus text).
 *
 * prom-client's own Counter/Histogram hash their label object on every `inc()`/`observe()`; on a
 * per-command path that is a string built per command. Here a series is a plain object found once
 * (per connection, per opcode) by numeric key and bumped with `+=`; label strings are built only at
 * scrape time, by the `collect` functions given to {@link CollectedMetric}.
 */
import { Registry } from 'prom-client'

export type Labels = Record<string, string | number>
export interface Sample {
  labels: Labels
  value: number
  metricName?: string
}

/** Latency buckets in seconds (100 us .. 10 s), shared by target and initiator histograms. */
export const LATENCY_BUCKETS_S: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** A fixed-bucket histogram: `observe` is a short linear search and two additions. */
export class Histo {
  readonly counts: Float64Array
  sum = 0
  count = 0
  readonly bounds: readonly number[]
  constructor(bounds: readonly number[] = LATENCY_BUCKETS_S) {
    this.bounds = bounds
    this.counts = new Float64Array(bounds.length)
  }
  observe(v: number): void {
    this.sum += v
    this.count++
    const b = this.bounds
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++
        return
      }
    }
  }
  /** Prometheus samples (cumulative `_bucket`, `+Inf`, `_sum`, `_count`). */
  samples(name: string, labels: Labels): Sample[] {
    const out: Sample[] = []
    let acc = 0
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i]!
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: this.bounds[i]! }, value: acc })
    }
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: this.count })
    out.push({ metricName: `${name}_sum`, labels, value: this.sum })
    out.push({ metricName: `${name}_count`, labels, value: this.count })
    return out
  }
}

/** A metric whose samples are produced at scrape time (the shape prom-client's Registry reads). */
export class CollectedMetric {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  readonly aggregator = 'sum'
  readonly #collect: () => Sample[]
  constructor(o: { name: string; help: string; type: 'counter' | 'gauge' | 'histogram'; collect: () => Sample[] }) {
    this.name = o.name
    this.help = o.help
    this.type = o.type
    this.#collect = o.collect
  }
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.#collect() }
  }
  reset(): void {}
}

/** A prom-client Registry holding collected metrics. */
export function registryOf(metrics: CollectedMetric[], registry: Registry = new Registry()): Registry {
  for (const m of metrics) registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0])
  return registry
}

export { Registry }
