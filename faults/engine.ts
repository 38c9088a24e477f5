/**
 * The fault engine: an ordered list of live faults turned into one {@link TargetHooks} object.
 * At each seam the faults attached there are asked in order; the first one whose matcher matches,
 * whose schedule fires and whose decision is not `pass` decides. Faults that act by side effect
 * (controller fatal, force reconnect) return `pass` and let later faults decide. With no fault
 * attached to a seam (and PDU recording off) the hook is absent, so the target's hot path is not
 * touched.
 */
import { seededRandom, systemClock, type Clock, type Random } from '../lib/clock.js'
import { ConfigError, InvalidArgumentError, InvalidStateError } from '../lib/errors.js'
import { PduType } from '../lib/pdu/common.js'
import type { Pdu } from '../lib/pdu/index.js'
import type { Decision, HookContext, TargetHooks } from '../target/core/hooks.js'
import { registerBuiltinFaults } from './builtin/index.js'
import { checkMatchSpec, compileMatcher, type Matcher } from './matcher.js'
import { loadFaultSchemas, validateMessage, type FaultSchemas, type JsonObject } from './proto.js'
import { FaultRegistry } from './registry.js'
import { Schedule, checkScheduleSpec } from './schedule.js'
import { TargetOps, type FaultTargetHandle } from './target-ops.js'
import { TraceRecorder, type TraceInput } from './trace.js'
import { SEAMS, type FaultEvent, type FaultInstance, type FaultSpec, type FaultTypeDefinition, type MatchSpec, type ScheduleSpec, type Seam } from './types.js'

export interface FaultEngineOptions {
  /** Run seed; each fault's PRNG is derived from it and the fault id. Default 0. */
  seed?: number | string
  clock?: Clock
  /** The target to drive (ANA, namespaces, controllers). Hook faults work without one. */
  target?: FaultTargetHandle
  /** Defaults to a new registry holding the built-in fault types. */
  registry?: FaultRegistry
  trace?: TraceRecorder
  /** Record every PDU in the trace. Default false. */
  recordPdus?: boolean
  /** Called when a timer-driven fault fails (it is also traced). */
  onError?: (err: unknown, faultId: string) => void
}

interface LiveFault {
  spec: FaultSpec
  def: FaultTypeDefinition<unknown>
  seam: Seam | undefined
  matcher: Matcher
  schedule: Schedule
  instance: FaultInstance
  timers: Set<unknown>
  stopped: boolean
  /** Timer-driven faults: settles when `start()` has finished (or the fault was removed). */
  settled: Promise<void>
  settle: () => void
}

export interface FaultInfo {
  id: string
  type: string
  at?: Seam
  seen: number
  fired: number
  spec: FaultSpec
}

const HOOK_OF: Readonly<Record<Seam, keyof TargetHooks>> = {
  connection: 'onConnection',
  'pdu-received': 'onPduReceived',
  'pdu-send': 'onPduSend',
  command: 'onCommand',
  completion: 'onCompletion',
}

const PASS: Decision = Object.freeze({ action: 'pass' }) as Decision

export class FaultEngine {
  readonly registry: FaultRegistry
  readonly trace: TraceRecorder
  readonly ops: TargetOps
  readonly clock: Clock
  readonly seed: number | string
  readonly schemas: FaultSchemas
  #faults: LiveFault[] = []
  #added = 0
  #target: FaultTargetHandle | undefined
  #onError: ((err: unknown, faultId: string) => void) | undefined
  #listeners = new Set<() => void>()
  #closed = false

  constructor(opts: FaultEngineOptions = {}) {
    if (opts.seed !== undefined && typeof opts.seed !== 'number' && typeof opts.seed !== 'string') throw new InvalidArgumentError('seed', 'must be a number or a string')
    this.seed = opts.seed ?? 0
    this.clock = opts.clock ?? systemClock
    this.schemas = loadFaultSchemas()
    this.registry = opts.registry ?? registerBuiltinFaults(new FaultRegistry(), this.schemas)
    this.trace = opts.trace ?? new TraceRecorder({ clock: this.clock, pdus: opts.recordPdus ?? false })
    this.#target = opts.target
    this.#onError = opts.onError
    this.ops = new TargetOps({ handle: opts.target, trace: (e) => this.trace.record(e), random: this.random('engine') })
  }

  /** A PRNG derived from the run seed and `name` (each fault uses its id). */
  random(name: string): Random {
    return seededRandom(`${String(this.seed)}/${name}`)
  }

  /** Validate JSON (proto3 JSON mapping of `FaultSpec`) into a spec; errors name `path`. */
  parseFault(json: unknown, path = 'fault'): FaultSpec {
    const obj = validateMessage(this.schemas.FaultSpec, json, path)
    const type = obj.type
    if (typeof type !== 'string' || type === '') throw new ConfigError(`${path}.type`, `is required (one of: ${this.registry.names().join(', ')})`)
    const def = this.registry.get(type)
    if (def === undefined) throw new ConfigError(`${path}.type`, `unknown fault type '${type}' (registered: ${this.registry.names().join(', ')})`)
    const spec: FaultSpec = { id: typeof obj.id === 'string' ? obj.id : '', type }
    if (typeof obj.at === 'string' && obj.at !== '') {
      if (!(SEAMS as readonly string[]).includes(obj.at)) throw new ConfigError(`${path}.at`, `must be one of ${SEAMS.join(', ')}, got '${obj.at}'`)
      const allowed = def.seams ?? SEAMS
      if (def.timer === true) throw new ConfigError(`${path}.at`, `fault type '${type}' is timer-driven and attaches to no seam`)
      if (!allowed.includes(obj.at as Seam)) throw new ConfigError(`${path}.at`, `fault type '${type}' attaches only at ${allowed.join(', ')}`)
      spec.at = obj.at as Seam
    }
    if (obj.match !== undefined) spec.match = checkMatchSpec(obj.match as MatchSpec, `${path}.match`)
    if (obj.schedule !== undefined) spec.schedule = checkScheduleSpec(obj.schedule as ScheduleSpec, `${path}.schedule`)
    spec.params = (obj.params as JsonObject | undefined) ?? {}
    // The type validates its own parameters now, so that a scenario fails before it starts.
    def.parseConfig(spec.params, `${path}.params`)
    return spec
  }

  /**
   * Install a fault (a spec from {@link parseFault}, or raw JSON). Returns its id. Timer-driven
   * faults start at once (or after `schedule.startMs`).
   */
  add(input: FaultSpec | JsonObject, opts: { path?: string; seed?: number | string } = {}): string {
    const path = opts.path ?? 'fault'
    if (this.#closed) throw new InvalidStateError('fault engine is closed')
    // Always re-validate: a FaultSpec is itself valid JSON of the proto message.
    const spec = this.parseFault(input, path)
    const def = this.registry.get(spec.type)
    if (def === undefined) throw new ConfigError(`${path}.type`, `unknown fault type '${spec.type}'`)
    const index = this.#added++
    if (spec.id === '') spec.id = `${spec.type}-${index}`
    if (this.#faults.some((f) => f.spec.id === spec.id)) throw new ConfigError(`${path}.id`, `a fault with id '${spec.id}' is already installed`)
    const config = def.parseConfig(spec.params ?? {}, `${path}.params`)
    const seam: Seam | undefined = def.timer === true ? undefined : (spec.at ?? def.seams?.[0] ?? 'command')
    const random = opts.seed !== undefined ? seededRandom(`${String(opts.seed)}/${spec.id}`) : this.random(spec.id)
    const schedule = new Schedule({ spec: spec.schedule, random, clock: this.clock })
    const live: LiveFault = {
      spec,
      def,
      seam,
      matcher: compileMatcher(spec.match),
      schedule,
      instance: {},
      timers: new Set(),
      stopped: false,
      settled: Promise.resolve(),
      settle: () => undefined,
    }
    live.settled = new Promise<void>((resolve) => (live.settle = resolve))
    const id = spec.id
    live.instance = def.create(config, {
      id,
      type: spec.type,
      seam: seam ?? 'command',
      random,
      clock: this.clock,
      ops: this.ops,
      trace: (e) => this.trace.record({ faultId: id, faultType: spec.type, ...e }),
      windowOpen: () => schedule.windowOpen(),
      tick: () => schedule.fire(),
    })
    this.#faults.push(live)
    this.trace.record({ kind: 'fault', faultId: id, faultType: spec.type, action: 'installed', ...(seam !== undefined ? { seam } : {}) })
    if (def.timer === true) this.#startTimerFault(live)
    this.#changed()
    return id
  }

  #startTimerFault(f: LiveFault): void {
    const run = (): void => {
      if (f.stopped) return
      let p: void | Promise<void>
      try {
        p = f.instance.start?.()
      } catch (err) {
        this.#faultError(f, err)
        f.settle()
        return
      }
      if (p !== undefined) p.catch((err: unknown) => this.#faultError(f, err)).finally(f.settle)
      else f.settle()
      const d = f.spec.schedule?.durationMs ?? 0
      if (d > 0) this.#later(f, d, () => this.remove(f.spec.id))
    }
    const start = f.spec.schedule?.startMs ?? 0
    if (start > 0) this.#later(f, start, run)
    else run()
  }

  #later(f: LiveFault, ms: number, fn: () => void): void {
    const h = this.clock.setTimeout(() => {
      f.timers.delete(h)
      fn()
    }, ms)
    h.unref?.()
    f.timers.add(h)
  }

  #faultError(f: LiveFault, err: unknown): void {
    if (f.stopped) return
    const message = err instanceof Error ? err.message : String(err)
    this.trace.record({ kind: 'fault', faultId: f.spec.id, faultType: f.spec.type, action: 'error', detail: message })
    this.#onError?.(err, f.spec.id)
  }

  /** Remove a fault by id (stops its timers). Returns whether it existed. */
  remove(id: string): boolean {
    const i = this.#faults.findIndex((f) => f.spec.id === id)
    if (i < 0) return false
    const [f] = this.#faults.splice(i, 1)
    this.#stop(f!)
    this.trace.record({ kind: 'fault', faultId: id, faultType: f!.spec.type, action: 'removed' })
    this.#changed()
    return true
  }

  clear(): number {
    const ids = this.#faults.map((f) => f.spec.id)
    for (const id of ids) this.remove(id)
    return ids.length
  }

  #stop(f: LiveFault): void {
    f.stopped = true
    f.settle()
    for (const h of f.timers) this.clock.clearTimeout(h as Parameters<Clock['clearTimeout']>[0])
    f.timers.clear()
    try {
      f.instance.stop?.()
    } catch (err) {
      this.#onError?.(err, f.spec.id)
    }
  }

  /**
   * Resolves when the timer-driven fault `id` has finished its run (storm rounds done, sequence
   * played) or was removed; at once for hook faults and unknown ids.
   */
  settled(id: string): Promise<void> {
    const f = this.#faults.find((x) => x.spec.id === id)
    if (f === undefined || f.def.timer !== true) return Promise.resolve()
    return f.settled
  }

  list(): FaultInfo[] {
    return this.#faults.map((f) => ({ id: f.spec.id, type: f.spec.type, ...(f.seam !== undefined ? { at: f.seam } : {}), ...f.schedule.counts, spec: f.spec }))
  }

  /** Called whenever the set of faults changes (the attach helper re-installs the hooks). */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  #changed(): void {
    for (const fn of this.#listeners) fn()
  }

  /** Stop every fault; the engine refuses new ones afterwards. */
  close(): void {
    this.clear()
    this.#closed = true
  }

  /**
   * The hooks for the current fault list. Only seams with an attached fault (or PDU recording)
   * get a hook; re-fetch (or use `attachFaults`, which does) after adding faults.
   */
  hooks(): TargetHooks {
    const used = new Set<Seam>(this.#faults.flatMap((f) => (f.seam === undefined ? [] : [f.seam])))
    const hooks: TargetHooks = {}
    // Connections are always traced (the pcap export needs the client address); cheap, once per queue.
    hooks.onConnection = (ctx, conn) => {
      this.trace.record({ kind: 'connection', port: ctx.portId, connectionId: ctx.connectionId, remoteAddress: conn.remoteAddress, remotePort: conn.remotePort })
      return used.has('connection') ? this.#decide({ seam: 'connection', ctx, conn }) : PASS
    }
    const rec = this.trace.pdus
    if (used.has('pdu-received') || rec) {
      hooks.onPduReceived = (ctx, rx) => {
        if (rec) this.trace.record({ kind: 'pdu', direction: 'rx', ...ctxFields(ctx), pdu: rx.raw, ...pduCid(rx.pdu) })
        return used.has('pdu-received') ? this.#decide({ seam: 'pdu-received', ctx, rx }) : PASS
      }
    }
    if (used.has('pdu-send') || rec) {
      hooks.onPduSend = (ctx, tx) => {
        const d = used.has('pdu-send') ? this.#decide({ seam: 'pdu-send', ctx, tx }) : PASS
        if (!rec) return d
        // Record what goes on the wire: the fault's replacement bytes when it mutated the PDU.
        const recordTx = (dec: Decision): Decision => {
          const bytes = dec.action === 'drop' ? undefined : Buffer.concat(dec.action === 'mutate' ? dec.parts : tx.parts)
          // Held back (coalesce) or dropped: nothing on the wire now.
          if (bytes !== undefined && bytes.length > 0) this.trace.record({ kind: 'pdu', direction: 'tx', ...ctxFields(ctx), pdu: bytes, ...pduCid(tx.pdu) })
          return dec
        }
        return d instanceof Promise ? d.then(recordTx) : recordTx(d)
      }
    }
    if (used.has('command')) hooks.onCommand = (ctx, cmd) => this.#decide({ seam: 'command', ctx, cmd })
    if (used.has('completion')) hooks.onCompletion = (ctx, cmd, completion) => this.#decide({ seam: 'completion', ctx, cmd, completion })
    return hooks
  }

  /** Ask the faults at `ev.seam`, in order. Synchronous unless a fault answers with a promise. */
  #decide(ev: FaultEvent): Decision | Promise<Decision> {
    const faults = this.#faults.filter((f) => f.seam === ev.seam && !f.stopped)
    const step = (i: number): Decision | Promise<Decision> => {
      for (; i < faults.length; i++) {
        const f = faults[i]!
        if (f.stopped || !f.matcher(ev) || !f.schedule.fire()) continue
        let d: Decision | Promise<Decision> | undefined
        try {
          d = f.instance.decide?.(ev)
        } catch (err) {
          this.#faultError(f, err)
          continue
        }
        if (d instanceof Promise) {
          const next = i + 1
          return d.then(
            (dec) => (dec.action === 'pass' ? step(next) : (this.#traceDecision(f, ev, dec), dec)),
            (err: unknown) => (this.#faultError(f, err), step(next)),
          )
        }
        // A fault that acted by side effect (or found nothing to do) answers pass: not traced here
        // (its side effect is), and later faults still decide.
        if (d !== undefined && d.action !== 'pass') {
          this.#traceDecision(f, ev, d)
          return d
        }
      }
      return PASS
    }
    return step(0)
  }

  #traceDecision(f: LiveFault, ev: FaultEvent, d: Decision): void {
    const e: TraceInput = { kind: 'fault', faultId: f.spec.id, faultType: f.spec.type, seam: ev.seam, action: d.action, ...ctxFields(ev.ctx) }
    const detail = decisionDetail(d)
    if (detail !== undefined) e.detail = detail
    if (ev.seam === 'command' || ev.seam === 'completion') {
      e.cid = ev.cmd.sqe.cid
      e.opc = ev.cmd.opc
      if (ev.cmd.kind !== 'fabrics') e.nsid = ev.cmd.nsid
    } else if (ev.seam === 'pdu-received') {
      Object.assign(e, pduCid(ev.rx.pdu))
    } else if (ev.seam === 'pdu-send') {
      Object.assign(e, pduCid(ev.tx.pdu))
    }
    this.trace.record(e)
  }
}

function ctxFields(ctx: HookContext): Pick<TraceInput, 'port' | 'connectionId' | 'cntlid' | 'qid'> {
  const o: Pick<TraceInput, 'port' | 'connectionId' | 'cntlid' | 'qid'> = { port: ctx.portId, connectionId: ctx.connectionId }
  if (ctx.cntlid !== undefined) o.cntlid = ctx.cntlid
  if (ctx.qid !== undefined) o.qid = ctx.qid
  return o
}

function pduCid(pdu: Pdu): { cid?: number } {
  switch (pdu.type) {
    case PduType.CAPSULE_CMD:
      return pdu.sqe.length >= 4 ? { cid: pdu.sqe.readUInt16LE(2) } : {}
    case PduType.CAPSULE_RESP:
      return pdu.cqe.length >= 14 ? { cid: pdu.cqe.readUInt16LE(12) } : {}
    case PduType.C2H_DATA:
    case PduType.H2C_DATA:
    case PduType.R2T:
      return { cid: pdu.cccid }
    default:
      return {}
  }
}

function decisionDetail(d: Decision): string | undefined {
  switch (d.action) {
    case 'delay':
    case 'stall':
      return `${Math.round(d.ms * 1000) / 1000} ms`
    case 'complete':
      return `status 0x${d.status.toString(16)}${d.dw0 !== undefined ? ` dw0 0x${d.dw0.toString(16)}` : ''}`
    case 'termReq':
      return `fes 0x${d.fes.toString(16)} fei ${d.fei ?? 0}`
    case 'segment':
      return `${d.sizes.length} segments${d.gapMs !== undefined ? ` gap ${d.gapMs} ms` : ''}`
    case 'mutate':
      return `${d.parts.reduce((n, p) => n + p.length, 0)} bytes`
    default:
      return undefined
  }
}
