/**
 * The event trace: every injected fault, every state change made through the fault engine or the
 * control plane and, when asked, every PDU. Events carry time (the injected clock, ms since the
 * recorder started), port, connection, controller, queue and command id. Export as
 * length-delimited protobuf (proto/trace.proto `TraceEvent`), JSON lines, or pcap (PDU events only,
 * one synthesized TCP flow per connection so that Wireshark's NVMe/TCP dissector shows them).
 */
import type { Clock } from '../lib/clock.js'
import { InvalidArgumentError } from '../lib/errors.js'
import { PcapWriter } from '../lib/pcap.js'
import { loadFaultSchemas, type FaultSchemas } from './proto.js'

export type TraceKind = 'fault' | 'state' | 'pdu' | 'connection' | 'scenario'

export interface TraceEvent {
  seq: number
  timeMs: number
  kind: TraceKind
  port?: number
  connectionId?: number
  cntlid?: number
  qid?: number
  cid?: number
  faultId?: string
  faultType?: string
  seam?: string
  action?: string
  detail?: string
  direction?: 'rx' | 'tx'
  pdu?: Buffer
  nsid?: number
  opc?: number
  remoteAddress?: string
  remotePort?: number
}

/** An event as recorded (seq and time are filled in). */
export type TraceInput = Omit<TraceEvent, 'seq' | 'timeMs'>

export interface TraceRecorderOptions {
  clock: Clock
  /** Record every PDU (both directions). Default false. */
  pdus?: boolean
  /** Keep at most this many events (oldest dropped). Default 100000. */
  limit?: number
  /** Called for each recorded event (e.g. to stream into a file). */
  onEvent?: (e: TraceEvent) => void
}

export type TraceFormat = 'jsonl' | 'proto' | 'pcap'
export const TRACE_FORMATS: readonly TraceFormat[] = ['jsonl', 'proto', 'pcap']

export class TraceRecorder {
  readonly pdus: boolean
  #clock: Clock
  #start: number
  #limit: number
  #events: TraceEvent[] = []
  #seq = 0
  #dropped = 0
  #onEvent: ((e: TraceEvent) => void) | undefined
  #subscribers = new Set<(e: TraceEvent) => void>()
  #schemas: FaultSchemas | undefined
  /** Listening address of a port, for the pcap flows (default 127.0.0.1:4420+port). */
  serverAddress: ((port: number) => { addr: string; port: number } | undefined) | undefined

  constructor(opts: TraceRecorderOptions) {
    if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) throw new InvalidArgumentError('limit', 'must be a positive integer')
    this.#clock = opts.clock
    this.#start = opts.clock.now()
    this.pdus = opts.pdus ?? false
    this.#limit = opts.limit ?? 100_000
    this.#onEvent = opts.onEvent
  }

  record(input: TraceInput): TraceEvent {
    const e: TraceEvent = { seq: this.#seq++, timeMs: this.#clock.now() - this.#start, ...input }
    if (e.pdu !== undefined) e.pdu = Buffer.from(e.pdu) // views die with the callback
    this.#events.push(e)
    if (this.#events.length > this.#limit) {
      this.#events.shift()
      this.#dropped++
    }
    this.#onEvent?.(e)
    for (const fn of this.#subscribers) fn(e)
    return e
  }

  /** Call `fn` for every event recorded from now on (a scenario's start condition watches these); returns the unsubscribe. */
  subscribe(fn: (e: TraceEvent) => void): () => void {
    this.#subscribers.add(fn)
    return () => this.#subscribers.delete(fn)
  }

  get events(): readonly TraceEvent[] {
    return this.#events
  }

  get dropped(): number {
    return this.#dropped
  }

  clear(): void {
    this.#events = []
  }

  toJsonLines(events: readonly TraceEvent[] = this.#events): string {
    return events.map((e) => JSON.stringify(traceEventToJson(e)) + '\n').join('')
  }

  toProto(events: readonly TraceEvent[] = this.#events): Buffer {
    this.#schemas ??= loadFaultSchemas()
    return encodeTraceProto(this.#schemas, events)
  }

  /** PDU events as a pcap file; `serverAddress(port)` gives each port's listening address. */
  toPcap(events: readonly TraceEvent[] = this.#events, serverAddress = this.serverAddress): Buffer {
    return traceToPcap(events, serverAddress)
  }

  export(format: TraceFormat): Buffer {
    if (format === 'jsonl') return Buffer.from(this.toJsonLines())
    if (format === 'proto') return this.toProto()
    if (format === 'pcap') return this.toPcap()
    throw new InvalidArgumentError('format', `must be jsonl, proto or pcap, got '${String(format)}'`)
  }
}

/** JSON form of an event: PDU bytes as hex, undefined fields left out. */
export function traceEventToJson(e: TraceEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(e)) {
    if (v === undefined) continue
    out[k] = Buffer.isBuffer(v) ? v.toString('hex') : v
  }
  return out
}

export function encodeTraceProto(schemas: FaultSchemas, events: readonly TraceEvent[]): Buffer {
  const chunks: Uint8Array[] = []
  for (const e of events) {
    const msg = schemas.TraceEvent.fromObject({ ...e })
    chunks.push(schemas.TraceEvent.encodeDelimited(msg).finish())
  }
  return Buffer.concat(chunks)
}

export function decodeTraceProto(schemas: FaultSchemas, data: Uint8Array): TraceEvent[] {
  const out: TraceEvent[] = []
  let offset = 0
  const buf = Buffer.from(data)
  while (offset < buf.length) {
    // varint length prefix
    let len = 0
    let shift = 0
    let b: number
    do {
      if (offset >= buf.length) throw new InvalidArgumentError('data', 'truncated length prefix')
      b = buf[offset++]!
      len += (b & 0x7f) * 2 ** shift
      shift += 7
    } while (b & 0x80)
    if (offset + len > buf.length) throw new InvalidArgumentError('data', 'truncated trace event')
    const msg = schemas.TraceEvent.decode(buf.subarray(offset, offset + len))
    offset += len
    const obj = schemas.TraceEvent.toObject(msg, { longs: Number, bytes: Buffer, defaults: false }) as Record<string, unknown>
    if (obj.pdu !== undefined) obj.pdu = Buffer.from(obj.pdu as Uint8Array)
    // proto3 leaves zero values out; seq, time and kind are always meaningful.
    obj.seq ??= 0
    obj.timeMs ??= 0
    obj.kind ??= ''
    out.push(obj as unknown as TraceEvent)
  }
  return out
}

/** PcapWriter synthesizes IPv4: map IPv4-mapped IPv6 to IPv4 and anything else to `fallback`. */
function ipv4(addr: string, fallback: string): string {
  const a = addr.replace(/^::ffff:/i, '')
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(a) ? a : fallback
}

export function traceToPcap(events: readonly TraceEvent[], serverAddress?: (port: number) => { addr: string; port: number } | undefined): Buffer {
  const w = new PcapWriter()
  const flows = new Map<number, ReturnType<PcapWriter['flow']>>()
  const remotes = new Map<number, { addr: string; port: number }>()
  for (const e of events) {
    if (e.kind === 'connection' && e.connectionId !== undefined && e.remoteAddress !== undefined) {
      remotes.set(e.connectionId, { addr: e.remoteAddress, port: e.remotePort ?? 0 })
    }
  }
  for (const e of events) {
    if (e.kind !== 'pdu' || e.pdu === undefined || e.connectionId === undefined) continue
    let flow = flows.get(e.connectionId)
    if (flow === undefined) {
      const portId = e.port ?? 0
      const server = serverAddress?.(portId) ?? { addr: '127.0.0.1', port: 4420 + portId }
      const client = remotes.get(e.connectionId) ?? { addr: '127.0.0.2', port: 40000 + (e.connectionId % 20000) }
      flow = w.flow({ client: { addr: ipv4(client.addr, '127.0.0.2'), port: client.port }, server: { addr: ipv4(server.addr, '127.0.0.1'), port: server.port } })
      flows.set(e.connectionId, flow)
    }
    if (e.direction === 'rx') flow.fromClient(e.pdu, e.timeMs)
    else flow.fromServer(e.pdu, e.timeMs)
  }
  for (const f of flows.values()) f.close()
  return w.toBuffer()
}
