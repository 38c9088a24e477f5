/**
 * Prometheus metrics of an initiator (`NvmeHost`): per multipath head and per path — I/Os
 * submitted/completed/failed, failovers, requeues, retries, bytes, QoS in-flight — read from the
 * counters the heads and paths already keep (nothing is added to the I/O path), plus path and
 * controller state transitions and AENs from the initiator's diagnostics channels (events.ts).
 *
 *   const metrics = new InitiatorMetrics({ host })
 *   await metrics.metrics()            // Prometheus text; or metrics.registry with prom-client
 *   metrics.close()                    // unsubscribe
 *
 * `nvmf-fault io --metrics ADDR:PORT` serves it over HTTP for the run (metrics-server.ts).
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type { Registry } from 'prom-client'
import { CollectedMetric, registryOf, type Sample } from '../lib/metrics.js'
import { CHANNELS, type AenEvent, type ControllerStateEvent, type PathStateEvent } from './events.js'
import type { NvmeHost } from './host.js'

export interface InitiatorMetricsOptions {
  host: Pick<NvmeHost, 'id' | 'devices'>
  /** Metric name prefix (default `nvmf_host`). */
  prefix?: string
}

export class InitiatorMetrics {
  readonly registry: Registry
  readonly #host: InitiatorMetricsOptions['host']
  /** `${headId}|${pathId}|${to}` -> transitions (events are rare: string keys are fine). */
  readonly #pathTransitions = new Map<string, number>()
  readonly #ctrlTransitions = new Map<string, number>()
  readonly #aens = new Map<string, number>()
  readonly #subs: Array<[string, (m: unknown) => void]> = []

  constructor(o: InitiatorMetricsOptions) {
    this.#host = o.host
    const mine = (m: { hostId: string }): boolean => m.hostId === this.#host.id
    const bump = (map: Map<string, number>, k: string): void => void map.set(k, (map.get(k) ?? 0) + 1)
    this.#sub(CHANNELS.pathState, (m) => {
      const e = m as PathStateEvent
      if (mine(e)) bump(this.#pathTransitions, `${e.headId}|${e.pathId}|${e.to}`)
    })
    this.#sub(CHANNELS.controllerState, (m) => {
      const e = m as ControllerStateEvent
      if (mine(e)) bump(this.#ctrlTransitions, `${e.controllerId}|${e.to}`)
    })
    this.#sub(CHANNELS.aen, (m) => {
      const e = m as AenEvent
      if (mine(e)) bump(this.#aens, e.controllerId)
    })
    this.registry = registryOf(this.#define(o.prefix ?? 'nvmf_host'))
  }

  #sub(name: string, fn: (m: unknown) => void): void {
    diagnosticsChannel.subscribe(name, fn)
    this.#subs.push([name, fn])
  }

  get contentType(): string {
    return this.registry.contentType
  }

  metrics(): Promise<string> {
    return this.registry.metrics()
  }

  close(): void {
    for (const [name, fn] of this.#subs.splice(0)) diagnosticsChannel.unsubscribe(name, fn)
  }

  #define(p: string): CollectedMetric[] {
    const heads = () => this.#host.devices().map((d) => d.head)
    const headMetric = (name: string, help: string, type: 'counter' | 'gauge', f: (h: ReturnType<typeof heads>[number]) => number): CollectedMetric =>
      new CollectedMetric({ name: `${p}_${name}`, help, type, collect: () => heads().map((h): Sample => ({ labels: { head: h.id, subsystem: h.subnqn, nsid: h.nsid }, value: f(h) })) })
    type PathT = ReturnType<typeof heads>[number]['paths'][number]
    const pathMetric = (name: string, help: string, type: 'counter' | 'gauge', f: (x: PathT) => number): CollectedMetric =>
      new CollectedMetric({
        name: `${p}_${name}`,
        help,
        type,
        collect: () => heads().flatMap((h) => h.paths.map((x): Sample => ({ labels: { head: h.id, path: x.id }, value: f(x) }))),
      })
    const events = (map: Map<string, number>, names: string[]) => () =>
      [...map].map(([k, v]): Sample => {
        const parts = k.split('|')
        return { labels: Object.fromEntries(names.map((n, i) => [n, parts[i] ?? ''])), value: v }
      })
    return [
      headMetric('head_ios_submitted_total', 'I/Os submitted to a multipath head', 'counter', (h) => h.counters.submitted),
      headMetric('head_ios_completed_total', 'I/Os completed successfully by a head', 'counter', (h) => h.counters.completed),
      headMetric('head_ios_failed_total', 'I/Os a head failed to the caller', 'counter', (h) => h.counters.failed),
      headMetric('head_failovers_total', 'Path failures that moved an I/O to the requeue list', 'counter', (h) => h.counters.failovers),
      headMetric('head_requeues_total', 'I/Os put on the requeue list', 'counter', (h) => h.counters.requeued),
      headMetric('head_retries_total', 'Same-path retries', 'counter', (h) => h.counters.retries),
      headMetric('head_no_path_failures_total', 'I/Os failed because no path was usable', 'counter', (h) => h.counters.noPathFailures),
      headMetric('head_inflight', 'I/Os in flight on a head', 'gauge', (h) => h.pending),
      headMetric('head_requeue_length', 'I/Os waiting on the requeue list', 'gauge', (h) => h.requeueLength),
      pathMetric('path_ios_issued_total', 'I/Os issued on a path', 'counter', (x) => x.counters.issued),
      pathMetric('path_ios_completed_total', 'I/Os completed on a path', 'counter', (x) => x.counters.completed),
      pathMetric('path_errors_total', 'I/Os that ended in error on a path', 'counter', (x) => x.counters.errors),
      pathMetric('path_failovers_total', 'Failovers away from a path', 'counter', (x) => x.counters.failovers),
      pathMetric('path_retries_total', 'Retries on a path', 'counter', (x) => x.counters.retries),
      pathMetric('path_read_bytes_total', 'Bytes read through a path', 'counter', (x) => x.counters.bytesRead),
      pathMetric('path_written_bytes_total', 'Bytes written through a path', 'counter', (x) => x.counters.bytesWritten),
      pathMetric('path_ana_state', 'ANA state of a path (NVMe ANA state value: 1 optimized, 2 non-optimized, 3 inaccessible, 4 persistent loss, 15 change)', 'gauge', (x) => x.anaState),
      pathMetric('path_qos_charged_ios', 'QoS: I/Os charged to the path and not yet completed', 'gauge', (x) => x.qos.chargedIos),
      pathMetric('path_qos_inflight_requests', 'QoS: requests issued and not yet done', 'gauge', (x) => x.qos.inflightRequests),
      pathMetric('path_qos_policy_inflight', 'QoS: in-flight count summed over the policies', 'gauge', (x) => x.qos.policyInflight),
      new CollectedMetric({ name: `${p}_path_state_transitions_total`, help: 'Path state transitions, by new state', type: 'counter', collect: events(this.#pathTransitions, ['head', 'path', 'state']) }),
      new CollectedMetric({ name: `${p}_controller_state_transitions_total`, help: 'Controller state transitions, by new state', type: 'counter', collect: events(this.#ctrlTransitions, ['controller', 'state']) }),
      new CollectedMetric({ name: `${p}_aens_total`, help: 'Asynchronous events received, per controller', type: 'counter', collect: events(this.#aens, ['controller']) }),
    ]
  }
}
