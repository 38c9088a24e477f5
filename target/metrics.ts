/**
 * Prometheus metrics of a running target, observed at the fault seams (target/core/hooks.ts) and
 * from the status snapshot at scrape time — no change to the transport. Per port, subsystem,
 * controller, queue and namespace: connections, commands by opcode and status, bytes, latency
 * histograms, R2Ts, digest errors, TermReqs, AENs; plus ANA state, and (when a fault engine is
 * bound) faults seen/fired by id and the scenario's state.
 *
 * Cost on the hot path: one Map lookup by connection id, one by opcode and one by status, a
 * handful of additions and a bucket search. Label strings are built once per queue and at scrape.
 */
import type { Clock } from '../lib/clock.js'
import { systemClock } from '../lib/clock.js'
import { CollectedMetric, Histo, registryOf, type Labels, type Sample } from '../lib/metrics.js'
import { AdminOpcode, IoOpcode } from '../lib/nvme/opcodes.js'
import { PduType } from '../lib/pdu/common.js'
import { NvmeStatus } from '../lib/status.js'
import type { Registry } from 'prom-client'
import type { CommandKind, Decision, HookCommand, HookCompletion, HookContext, HookResult, TargetHooks } from './core/hooks.js'
import type { TargetHandle } from './index.js'

const KIND_INDEX: Record<CommandKind, number> = { admin: 0, io: 1, fabrics: 2 }
const KIND_NAMES: readonly CommandKind[] = ['admin', 'io', 'fabrics']
/** Termination-request FES 03h: Header Digest Error (NVMe/TCP 1.0 section 3.6.2.9). */
const FES_HDGST = 0x03

const dashed = (k: string): string => k.toLowerCase().replace(/_/g, '-')
const OPCODE_NAMES: ReadonlyArray<ReadonlyMap<number, string>> = [
  new Map(Object.entries(AdminOpcode).map(([k, v]) => [v, dashed(k)])),
  new Map(Object.entries(IoOpcode).map(([k, v]) => [v, dashed(k)])),
  new Map([[0x7f, 'fabrics']]),
]

interface QueueSeries {
  labels: Labels
  /** opkey (kind << 8 | opc) -> status -> count */
  cmds: Map<number, Map<number, number>>
  latency: Map<number, Histo>
  bytesRx: number
  bytesTx: number
  r2ts: number
  aens: number
}

interface PortSeries {
  connections: number
  bytesRx: number
  bytesTx: number
  /** `${direction}:${fes}` is built only when a TermReq passes (rare). */
  termReqs: Map<string, number>
  hdgstErrors: number
  ddgstErrors: number
}

interface NsSeries {
  subnqn: string
  nsid: number
  reads: number
  writes: number
  readBlocks: number
  writeBlocks: number
}

interface Conn {
  port: PortSeries
  q: QueueSeries | undefined
  /** cid -> start time (ms) */
  starts: Map<number, number>
}

export interface FaultMetricsSource {
  faults(): Array<{ id: string; type: string; seen: number; fired: number }>
  scenario(): { name: string; state: string; step?: number } | null
}

export interface TargetMetricsOptions {
  clock?: Clock
  /** Metric name prefix (default `nvmf_target`). */
  prefix?: string
}

export class TargetMetrics {
  readonly registry: Registry
  readonly #target: TargetHandle
  readonly #clock: Clock
  readonly #ports = new Map<number, PortSeries>()
  readonly #queues = new Map<string, QueueSeries>()
  readonly #conns = new Map<number, Conn>()
  readonly #ns = new Map<string, Map<number, NsSeries>>()
  #faults: FaultMetricsSource | undefined
  readonly #onQueue: (e: { type: string; connectionId: number }) => void

  constructor(target: TargetHandle, opts: TargetMetricsOptions = {}) {
    this.#target = target
    this.#clock = opts.clock ?? systemClock
    const p = opts.prefix ?? 'nvmf_target'
    // A closed connection's per-command state goes; its queue series (counters) stay.
    this.#onQueue = (e) => {
      if (e.type === 'closed') this.#conns.delete(e.connectionId)
    }
    target.on('queue', this.#onQueue as never)
    this.registry = registryOf(this.#define(p))
  }

  get contentType(): string {
    return this.registry.contentType
  }

  metrics(): Promise<string> {
    return this.registry.metrics()
  }

  /** Faults and scenario counters come from a fault engine (faults/attach.ts binds it). */
  bindFaults(src: FaultMetricsSource | undefined): void {
    this.#faults = src
  }

  /** Install the observing hooks alone (no fault engine). With faults, attach.ts wraps its hooks. */
  install(): void {
    this.#target.setHooks(this.wrap(undefined))
  }

  close(): void {
    this.#target.off('queue', this.#onQueue as never)
  }

  #port(id: number): PortSeries {
    let s = this.#ports.get(id)
    if (s === undefined) {
      s = { connections: 0, bytesRx: 0, bytesTx: 0, termReqs: new Map(), hdgstErrors: 0, ddgstErrors: 0 }
      this.#ports.set(id, s)
    }
    return s
  }

  #conn(ctx: HookContext): Conn {
    let c = this.#conns.get(ctx.connectionId)
    if (c === undefined) {
      c = { port: this.#port(ctx.portId), q: undefined, starts: new Map() }
      this.#conns.set(ctx.connectionId, c)
    }
    if (c.q === undefined && ctx.cntlid !== undefined && ctx.qid !== undefined) {
      // Once per connection: the queue's label key.
      const key = `${ctx.portId}|${ctx.subnqn ?? ''}|${ctx.cntlid}|${ctx.qid}`
      let q = this.#queues.get(key)
      if (q === undefined) {
        q = { labels: { port: ctx.portId, subsystem: ctx.subnqn ?? '', cntlid: ctx.cntlid, qid: ctx.qid }, cmds: new Map(), latency: new Map(), bytesRx: 0, bytesTx: 0, r2ts: 0, aens: 0 }
        this.#queues.set(key, q)
      }
      c.q = q
    }
    return c
  }

  #nsSeries(subnqn: string, nsid: number): NsSeries {
    let m = this.#ns.get(subnqn)
    if (m === undefined) this.#ns.set(subnqn, (m = new Map()))
    let s = m.get(nsid)
    if (s === undefined) m.set(nsid, (s = { subnqn, nsid, reads: 0, writes: 0, readBlocks: 0, writeBlocks: 0 }))
    return s
  }

  #complete(ctx: HookContext, cmd: HookCommand, status: number): void {
    const c = this.#conn(ctx)
    const q = c.q
    const start = c.starts.get(cmd.sqe.cid)
    c.starts.delete(cmd.sqe.cid)
    if ((status & 0x7ff) === NvmeStatus.TRANSIENT_TR_ERR) c.port.ddgstErrors++
    if (q === undefined) return
    const opkey = (KIND_INDEX[cmd.kind] << 8) | cmd.opc
    let byStatus = q.cmds.get(opkey)
    if (byStatus === undefined) q.cmds.set(opkey, (byStatus = new Map()))
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1)
    if (start !== undefined) {
      let h = q.latency.get(opkey)
      if (h === undefined) q.latency.set(opkey, (h = new Histo()))
      h.observe((this.#clock.now() - start) / 1000)
    }
    if (cmd.kind === 'admin' && cmd.opc === AdminOpcode.ASYNC_EVENT_REQUEST && status === 0) q.aens++
    if (cmd.kind === 'io' && cmd.nsid !== 0 && ctx.subnqn !== undefined && status === 0 && (cmd.opc === IoOpcode.READ || cmd.opc === IoOpcode.WRITE)) {
      const ns = this.#nsSeries(ctx.subnqn, cmd.nsid)
      const blocks = (cmd.nlb ?? 0) + 1
      if (cmd.opc === IoOpcode.READ) {
        ns.reads++
        ns.readBlocks += blocks
      } else {
        ns.writes++
        ns.writeBlocks += blocks
      }
    }
  }

  #termReq(port: PortSeries, direction: 'rx' | 'tx', fes: number): void {
    const k = `${direction}:${fes}`
    port.termReqs.set(k, (port.termReqs.get(k) ?? 0) + 1)
    if (fes === FES_HDGST) port.hdgstErrors++
  }

  /** Hooks that observe and then defer to `inner` (the fault engine's), keeping its decisions. */
  wrap(inner: TargetHooks | undefined): TargetHooks {
    const pass: Decision = { action: 'pass' }
    return {
      onConnection: (ctx, conn) => {
        this.#port(ctx.portId).connections++
        return inner?.onConnection?.(ctx, conn) ?? pass
      },
      onPduReceived: (ctx, rx) => {
        const c = this.#conn(ctx)
        c.port.bytesRx += rx.raw.length
        if (c.q !== undefined) c.q.bytesRx += rx.raw.length
        if (rx.pdu.type === PduType.H2C_TERM_REQ) this.#termReq(c.port, 'rx', (rx.pdu as { fes: number }).fes)
        return inner?.onPduReceived?.(ctx, rx) ?? pass
      },
      onPduSend: (ctx, tx) => {
        const c = this.#conn(ctx)
        let n = 0
        for (const p of tx.parts) n += p.length
        c.port.bytesTx += n
        if (c.q !== undefined) {
          c.q.bytesTx += n
          if (tx.pdu.type === PduType.R2T) c.q.r2ts++
        }
        if (tx.pdu.type === PduType.C2H_TERM_REQ) this.#termReq(c.port, 'tx', (tx.pdu as { fes: number }).fes)
        return inner?.onPduSend?.(ctx, tx) ?? pass
      },
      onCommand: (ctx, cmd) => {
        this.#conn(ctx).starts.set(cmd.sqe.cid, this.#clock.now())
        return inner?.onCommand?.(ctx, cmd) ?? pass
      },
      onCompletion: (ctx, cmd, completion: HookCompletion): HookResult => {
        const r = inner?.onCompletion?.(ctx, cmd, completion)
        if (r === undefined) {
          this.#complete(ctx, cmd, completion.status)
          return pass
        }
        // Count the status the host will see (a fault may replace it).
        const count = (d: Decision): Decision => {
          this.#complete(ctx, cmd, d.action === 'complete' ? d.status : completion.status)
          return d
        }
        return r instanceof Promise ? r.then(count) : count(r)
      },
    }
  }

  #define(p: string): CollectedMetric[] {
    const ports = (f: (s: PortSeries) => number) => () => [...this.#ports].map(([id, s]): Sample => ({ labels: { port: id }, value: f(s) }))
    const queues = (f: (q: QueueSeries) => number) => () => [...this.#queues.values()].map((q): Sample => ({ labels: q.labels, value: f(q) }))
    const opLabels = (opkey: number): Labels => {
      const kind = KIND_NAMES[opkey >> 8]!
      const opc = opkey & 0xff
      return { kind, opcode: OPCODE_NAMES[opkey >> 8]!.get(opc) ?? `0x${opc.toString(16).padStart(2, '0')}` }
    }
    const status = () => this.#target.status()
    const blockSize = (subnqn: string, nsid: number): number =>
      status().subsystems.find((s) => s.nqn === subnqn)?.namespaces.find((n) => n.nsid === nsid)?.blockSize ?? 512
    const nsSamples = (f: (s: NsSeries) => number) => () => [...this.#ns.values()].flatMap((m) => [...m.values()].map((s): Sample => ({ labels: { subsystem: s.subnqn, nsid: s.nsid }, value: f(s) })))
    return [
      new CollectedMetric({ name: `${p}_connections_total`, help: 'TCP connections accepted, per port', type: 'counter', collect: ports((s) => s.connections) }),
      new CollectedMetric({
        name: `${p}_connections_open`,
        help: 'Open connections (queues), per port',
        type: 'gauge',
        collect: () => {
          const st = status()
          const n = new Map<number, number>()
          for (const q of st.unboundQueues) n.set(q.portId, (n.get(q.portId) ?? 0) + 1)
          for (const c of st.controllers) for (const q of c.queues) n.set(q.portId, (n.get(q.portId) ?? 0) + 1)
          return st.ports.map((pt): Sample => ({ labels: { port: pt.id }, value: n.get(pt.id) ?? 0 }))
        },
      }),
      new CollectedMetric({
        name: `${p}_commands_total`,
        help: 'Commands completed, per queue, opcode and status (the status the host saw)',
        type: 'counter',
        collect: () => [...this.#queues.values()].flatMap((q) => [...q.cmds].flatMap(([op, m]) => [...m].map(([st, v]): Sample => ({ labels: { ...q.labels, ...opLabels(op), status: `0x${st.toString(16)}` }, value: v })))),
      }),
      new CollectedMetric({
        name: `${p}_command_latency_seconds`,
        help: 'Command latency from dispatch to completion, per queue and opcode',
        type: 'histogram',
        collect: () => [...this.#queues.values()].flatMap((q) => [...q.latency].flatMap(([op, h]) => h.samples(`${p}_command_latency_seconds`, { ...q.labels, ...opLabels(op) }))),
      }),
      new CollectedMetric({ name: `${p}_queue_received_bytes_total`, help: 'PDU bytes received, per queue', type: 'counter', collect: queues((q) => q.bytesRx) }),
      new CollectedMetric({ name: `${p}_queue_sent_bytes_total`, help: 'PDU bytes sent, per queue', type: 'counter', collect: queues((q) => q.bytesTx) }),
      new CollectedMetric({ name: `${p}_received_bytes_total`, help: 'PDU bytes received, per port', type: 'counter', collect: ports((s) => s.bytesRx) }),
      new CollectedMetric({ name: `${p}_sent_bytes_total`, help: 'PDU bytes sent, per port', type: 'counter', collect: ports((s) => s.bytesTx) }),
      new CollectedMetric({ name: `${p}_r2ts_total`, help: 'R2T PDUs sent, per queue', type: 'counter', collect: queues((q) => q.r2ts) }),
      new CollectedMetric({ name: `${p}_aens_total`, help: 'Asynchronous events sent (AER completions), per queue', type: 'counter', collect: queues((q) => q.aens) }),
      new CollectedMetric({
        name: `${p}_termreqs_total`,
        help: 'Termination requests, per port, direction (rx: H2CTermReq, tx: C2HTermReq) and FES',
        type: 'counter',
        collect: () => [...this.#ports].flatMap(([id, s]) => [...s.termReqs].map(([k, v]): Sample => ({ labels: { port: id, direction: k.split(':')[0]!, fes: k.split(':')[1]! }, value: v }))),
      }),
      new CollectedMetric({
        name: `${p}_digest_errors_total`,
        help: 'Digest errors per port: header (TermReq FES 03h), data (commands failed with Transient Transport Error)',
        type: 'counter',
        collect: () => [...this.#ports].flatMap(([id, s]): Sample[] => [
          { labels: { port: id, kind: 'header' }, value: s.hdgstErrors },
          { labels: { port: id, kind: 'data' }, value: s.ddgstErrors },
        ]),
      }),
      new CollectedMetric({ name: `${p}_namespace_reads_total`, help: 'Successful reads, per namespace', type: 'counter', collect: nsSamples((s) => s.reads) }),
      new CollectedMetric({ name: `${p}_namespace_writes_total`, help: 'Successful writes, per namespace', type: 'counter', collect: nsSamples((s) => s.writes) }),
      new CollectedMetric({ name: `${p}_namespace_read_bytes_total`, help: 'Bytes read, per namespace', type: 'counter', collect: nsSamples((s) => s.readBlocks * blockSize(s.subnqn, s.nsid)) }),
      new CollectedMetric({ name: `${p}_namespace_written_bytes_total`, help: 'Bytes written, per namespace', type: 'counter', collect: nsSamples((s) => s.writeBlocks * blockSize(s.subnqn, s.nsid)) }),
      new CollectedMetric({
        name: `${p}_ana_state`,
        help: 'ANA state per subsystem, port and group: 1 for the current state',
        type: 'gauge',
        collect: () => status().ana.map((a): Sample => ({ labels: { subsystem: a.subnqn, port: a.portId, group: a.grpid, state: a.state }, value: 1 })),
      }),
      new CollectedMetric({ name: `${p}_fault_seen_total`, help: 'Events a fault matched, per fault id', type: 'counter', collect: () => (this.#faults?.faults() ?? []).map((f): Sample => ({ labels: { id: f.id, type: f.type }, value: f.seen })) }),
      new CollectedMetric({ name: `${p}_fault_fired_total`, help: 'Times a fault fired, per fault id', type: 'counter', collect: () => (this.#faults?.faults() ?? []).map((f): Sample => ({ labels: { id: f.id, type: f.type }, value: f.fired })) }),
      new CollectedMetric({
        name: `${p}_scenario_state`,
        help: 'The scenario run: 1 for its current state',
        type: 'gauge',
        collect: () => {
          const s = this.#faults?.scenario()
          return s === null || s === undefined ? [] : [{ labels: { name: s.name, state: s.state }, value: 1 }]
        },
      }),
      new CollectedMetric({
        name: `${p}_scenario_step`,
        help: 'Index of the last scenario step run (-1 before any, or when the run does not report steps)',
        type: 'gauge',
        collect: () => {
          const s = this.#faults?.scenario()
          return s === null || s === undefined ? [] : [{ labels: { name: s.name }, value: s.step ?? -1 }]
        },
      }),
    ]
  }
}

export function createTargetMetrics(target: TargetHandle, opts: TargetMetricsOptions = {}): TargetMetrics {
  return new TargetMetrics(target, opts)
}
