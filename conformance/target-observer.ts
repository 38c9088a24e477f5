/**
 * What the target sees of the initiator during one scenario run: every I/O command per path
 * (port), the final status it was answered with, which ANA state the host had been told about,
 * admin traffic (ANA log reads, Identify, keep-alives, AERs), controllers coming and going, and
 * commands outstanding when a connection closes. It is composed around the fault engine's hooks
 * (outermost: it sees the final decisions) and feeds the write journal from the completion seam.
 * The checks (checks.ts) are judged from these records.
 */
import type { Clock } from '../lib/clock.js'
import { AdminOpcode, FabricsType, IoOpcode } from '../lib/nvme/opcodes.js'
import { statusSct } from '../lib/status.js'
import type { TraceEvent, TraceRecorder } from '../faults/trace.js'
import { hasStateName, type ControllerEvent, type Decision, type HookCommand, type HookContext, type HookCompletion, type QueueEvent, type TargetHandle, type TargetHooks } from '../target/index.js'
import type { AnaStateName } from './report-types.js'
import type { WriteJournal } from './write-journal.js'

const LID_ANA = 0x0c
const LID_CHANGED_NS = 0x04
const BAD_ANA: ReadonlySet<string> = new Set(['inaccessible', 'persistent-loss'])

export interface IoRecord {
  tMs: number
  portId: number
  cntlid: number | undefined
  nsid: number
  opc: number
  slba: number
  blocks: number
  status: number
  /** The response left the target (not dropped, connection not closed instead). */
  sent: boolean
}

export interface InaccessibleSend {
  tMs: number
  portId: number
  cntlid: number | undefined
  nsid: number
  anagrpid: number
  state: string
  /** When the host had been told (ANA log read or ANA status on this controller). */
  toldAtMs: number
  how: string
}

export interface AdminRecord {
  tMs: number
  portId: number
  cntlid: number | undefined
  opc: number
  /** Get Log Page: LID; Identify: CNS. */
  sub: number
  nsid: number
  status: number
}

export interface ControllerRecord {
  tMs: number
  type: 'created' | 'deleted'
  cntlid: number
  portId: number
  reason?: string
}

export interface CloseRecord {
  tMs: number
  portId: number
  connectionId: number
  qid: number | undefined
  outstanding: number
  /** Closed while the runner was stopping the driver (the host's own disconnect). */
  atStop: boolean
}

export interface AnaChange {
  tMs: number
  portId: number
  anagrpid: number
  state: AnaStateName
}

export interface TargetObserverOptions {
  clock: Clock
  target: TargetHandle
  journal: WriteJournal
  /** A send to a path the host was told is inaccessible counts only this long after it was told. */
  graceMs?: number
}

function anaName(s: string): AnaStateName {
  return (['optimized', 'non-optimized', 'inaccessible', 'persistent-loss', 'change'] as const).find((n) => n === s) ?? 'change'
}

export class TargetObserver {
  readonly io: IoRecord[] = []
  readonly inaccessibleSends: InaccessibleSend[] = []
  readonly admin: AdminRecord[] = []
  readonly controllers: ControllerRecord[] = []
  readonly closes: CloseRecord[] = []
  /** I/O queues (qid > 0) bound to a controller by their Connect: when a path carries I/O again. */
  readonly ioQueuesConnected: Array<{ tMs: number; portId: number; cntlid: number | undefined }> = []
  readonly ana: AnaChange[] = []
  readonly trace: TraceEvent[] = []
  /** AENs the target completed to the host (AER completions). */
  readonly aens: Array<{ tMs: number; portId: number; cntlid: number; dw0: number }> = []
  /** Taken by `markStopping()`: outstanding AERs and live I/O controllers per port, just before the stop. */
  atStop: { tMs: number; aer: Map<number, number>; live: Array<{ cntlid: number; portId: number }> } | undefined
  /** The KATO (ms) each controller was connected with. */
  readonly kato = new Map<number, number>()
  /**
   * Keep-alive traffic per controller: our target sets CTRATT.TBKAS, so any command counts as a
   * keep-alive (NVMe Base 2.0 §3.9, Traffic Based Keep Alive). Kept as the longest gap only (I/O
   * commands are many).
   */
  readonly traffic = new Map<number, { lastMs: number; commands: number; keepAlives: number; worst?: { gapMs: number; fromMs: number; toMs: number } }>()
  readonly graceMs: number
  readonly #clock: Clock
  readonly #target: TargetHandle
  readonly #journal: WriteJournal
  readonly #t0: number
  /** Per controller: ANA state per group the host was told, and since when. */
  readonly #told = new Map<number, Map<number, { state: string; atMs: number; how: string }>>()
  readonly #inflight = new Map<number, number>()
  readonly #aerOutstanding = new Map<number, number>()
  #anaNow = new Map<string, string>()
  #stopping = false
  #detach: (() => void) | undefined

  constructor(o: TargetObserverOptions) {
    this.#clock = o.clock
    this.#target = o.target
    this.#journal = o.journal
    this.#t0 = o.clock.now()
    this.graceMs = o.graceMs ?? 500
  }

  nowMs(): number {
    return this.#clock.now() - this.#t0
  }

  /** Outstanding AERs per live controller. */
  get aerOutstanding(): ReadonlyMap<number, number> {
    return this.#aerOutstanding
  }

  /** The host is being stopped: connections closing from now on are its own disconnect. */
  markStopping(): void {
    const live = this.#target
      .status()
      .controllers.filter((c) => !c.discovery && hasStateName(c, 'ready') && c.queues.some((q) => (q.qid ?? 0) > 0))
      .map((c) => ({ cntlid: c.cntlid, portId: c.portId }))
    this.atStop = { tMs: this.nowMs(), aer: new Map(this.#aerOutstanding), live }
    this.#stopping = true
  }

  /** Start recording life-cycle events and ANA changes (call once, after attachFaults). */
  attach(trace: TraceRecorder): void {
    this.#snapshotAna(true)
    const onTrace = (e: TraceEvent): void => {
      if (e.kind === 'pdu') return
      if (this.trace.length < 20_000) this.trace.push({ ...e, timeMs: this.nowMs() })
      if (e.kind === 'state' && (e.action === 'ana' || e.action?.startsWith('port-') === true)) this.#snapshotAna(false)
    }
    const onController = (e: ControllerEvent): void => {
      if (e.type === 'state') return
      this.controllers.push({ tMs: this.nowMs(), type: e.type, cntlid: e.cntlid, portId: e.portId, ...(e.reason !== undefined ? { reason: e.reason } : {}) })
      if (e.type === 'deleted') {
        this.#aerOutstanding.delete(e.cntlid)
        this.#told.delete(e.cntlid)
      }
    }
    const onQueue = (e: QueueEvent): void => {
      if (e.type === 'connected' && (e.qid ?? 0) > 0 && this.ioQueuesConnected.length < 10_000) this.ioQueuesConnected.push({ tMs: this.nowMs(), portId: e.portId, cntlid: e.cntlid })
      if (e.type !== 'closed') return
      const n = this.#inflight.get(e.connectionId) ?? 0
      this.#inflight.delete(e.connectionId)
      this.closes.push({ tMs: this.nowMs(), portId: e.portId, connectionId: e.connectionId, qid: e.qid, outstanding: n, atStop: this.#stopping })
    }
    const unsub = trace.subscribe(onTrace)
    this.#target.on('controller', onController)
    this.#target.on('queue', onQueue)
    this.#detach = () => {
      unsub()
      this.#target.off('controller', onController)
      this.#target.off('queue', onQueue)
    }
  }

  detach(): void {
    this.#detach?.()
    this.#detach = undefined
  }

  #snapshotAna(initial: boolean): void {
    const next = new Map<string, string>()
    for (const a of this.#target.status().ana) next.set(`${a.portId}/${a.grpid}`, a.state)
    for (const [k, st] of next) {
      if (!initial && this.#anaNow.get(k) === st) continue
      const [p, g] = k.split('/').map(Number) as [number, number]
      this.ana.push({ tMs: this.nowMs(), portId: p, anagrpid: g, state: anaName(st) })
    }
    this.#anaNow = next
  }

  /** The ANA state of `portId`'s group for `nsid` right now. */
  #stateOf(portId: number, nsid: number): { grpid: number; state: string } | undefined {
    const ns = this.#target.status().subsystems[0]?.namespaces.find((n) => n.nsid === nsid)
    if (ns === undefined) return undefined
    const st = this.#anaNow.get(`${portId}/${ns.anaGroup}`)
    return st === undefined ? undefined : { grpid: ns.anaGroup, state: st }
  }

  #tell(cntlid: number | undefined, grpid: number, state: string, how: string): void {
    if (cntlid === undefined) return
    let m = this.#told.get(cntlid)
    if (m === undefined) this.#told.set(cntlid, (m = new Map()))
    const prev = m.get(grpid)
    if (prev !== undefined && prev.state === state) return
    m.set(grpid, { state, atMs: this.nowMs(), how })
  }

  #onCommand(ctx: HookContext, cmd: HookCommand, d: Decision): void {
    const t = this.nowMs()
    if (ctx.cntlid !== undefined) this.#noteTraffic(ctx.cntlid, t, cmd.kind === 'admin' && cmd.opc === AdminOpcode.KEEP_ALIVE)
    if (d.action === 'complete') this.#journal.answeredByHook(ctx, cmd, d.status)
    // AERs stay outstanding by design (NVMe Base 2.0 §5.2): not counted as commands in flight.
    else if (cmd.opc === AdminOpcode.ASYNC_EVENT_REQUEST && cmd.kind === 'admin') void 0
    else if (d.action === 'pass' || d.action === 'delay' || d.action === 'stall' || d.action === 'drop') this.#inflight.set(ctx.connectionId, (this.#inflight.get(ctx.connectionId) ?? 0) + 1)
    if (cmd.kind === 'admin') {
      if (cmd.opc === AdminOpcode.GET_LOG_PAGE && (cmd.sqe.cdw10 & 0xff) === LID_ANA) this.#anaAtLogRead.set(ctx.connectionId, new Map(this.#anaNow))
      else if (cmd.opc === AdminOpcode.ASYNC_EVENT_REQUEST && ctx.cntlid !== undefined && d.action !== 'complete') {
        this.#aerOutstanding.set(ctx.cntlid, (this.#aerOutstanding.get(ctx.cntlid) ?? 0) + 1)
      }
      return
    }
    if (cmd.kind === 'fabrics') {
      // Admin Connect: CDW12 is KATO (ms) (NVMe-oF 1.1 §3.3, Connect command).
      // FCTYPE is SQE byte 4 (the NSID field's low byte); QID is CDW10 bits 31:16.
      if ((cmd.sqe.nsid & 0xff) === FabricsType.CONNECT && cmd.sqe.cdw10 >>> 16 === 0) this.#pendingKato.set(ctx.connectionId, cmd.sqe.cdw12 >>> 0)
      return
    }
  }

  #noteTraffic(cntlid: number, t: number, keepAlive: boolean): void {
    const r = this.traffic.get(cntlid)
    if (r === undefined) {
      this.traffic.set(cntlid, { lastMs: t, commands: 1, keepAlives: keepAlive ? 1 : 0 })
      return
    }
    const gap = t - r.lastMs
    if (r.worst === undefined || gap > r.worst.gapMs) r.worst = { gapMs: gap, fromMs: r.lastMs, toMs: t }
    r.lastMs = t
    r.commands++
    if (keepAlive) r.keepAlives++
  }

  readonly #pendingKato = new Map<number, number>()
  /** ANA states as they were when a Get Log Page (ANA) arrived: what the log it gets reflects. */
  readonly #anaAtLogRead = new Map<number, Map<string, string>>()

  #onCompletion(ctx: HookContext, cmd: HookCommand, c: HookCompletion, d: Decision): void {
    const t = this.nowMs()
    let status = c.status
    let sent = true
    if (d.action === 'complete') status = d.status
    else if (d.action === 'drop' || d.action === 'close' || d.action === 'reset' || d.action === 'termReq') sent = false
    if (d.action !== 'drop' && !(cmd.kind === 'admin' && cmd.opc === AdminOpcode.ASYNC_EVENT_REQUEST)) {
      const n = (this.#inflight.get(ctx.connectionId) ?? 1) - 1
      this.#inflight.set(ctx.connectionId, Math.max(0, n))
    }
    this.#journal.completed(ctx, cmd, status, sent)
    if (cmd.kind === 'fabrics') {
      const kato = this.#pendingKato.get(ctx.connectionId)
      this.#pendingKato.delete(ctx.connectionId)
      // The Connect response's DW0 bits 15:0 carry the CNTLID.
      if (kato !== undefined && status === 0 && sent) this.kato.set(c.dw0 & 0xffff, kato)
      return
    }
    if (cmd.kind === 'admin') {
      const sqe = cmd.sqe
      if (cmd.opc === AdminOpcode.GET_LOG_PAGE || cmd.opc === AdminOpcode.IDENTIFY) {
        // Get Log Page: LID is CDW10 bits 7:0; Identify: CNS is CDW10 bits 7:0.
        const sub = sqe.cdw10 & 0xff
        if (this.admin.length < 50_000) this.admin.push({ tMs: t, portId: ctx.portId, cntlid: ctx.cntlid, opc: cmd.opc, sub, nsid: cmd.nsid, status })
        if (cmd.opc === AdminOpcode.GET_LOG_PAGE && sub === LID_ANA && status === 0 && sent) {
          // The host now knows every group's state on this port (the log it was just sent).
          const seen = this.#anaAtLogRead.get(ctx.connectionId) ?? this.#anaNow
          this.#anaAtLogRead.delete(ctx.connectionId)
          for (const [k, st] of seen) {
            const [p, g] = k.split('/').map(Number) as [number, number]
            if (p === ctx.portId) this.#tell(ctx.cntlid, g, st, `ANA log read at ${Math.round(t)} ms`)
          }
        }
      } else if (cmd.opc === AdminOpcode.ASYNC_EVENT_REQUEST && ctx.cntlid !== undefined) {
        this.#aerOutstanding.set(ctx.cntlid, Math.max(0, (this.#aerOutstanding.get(ctx.cntlid) ?? 1) - 1))
        if (sent && status === 0 && this.aens.length < 50_000) this.aens.push({ tMs: t, portId: ctx.portId, cntlid: ctx.cntlid, dw0: c.dw0 >>> 0 })
      }
      return
    }
    if (cmd.opc !== IoOpcode.READ && cmd.opc !== IoOpcode.WRITE) return
    if (this.io.length < 500_000)
      this.io.push({ tMs: t, portId: ctx.portId, cntlid: ctx.cntlid, nsid: cmd.nsid, opc: cmd.opc, slba: Number(cmd.slba ?? 0n), blocks: (cmd.nlb ?? 0) + 1, status, sent })
    if (statusSct(status) !== 3 || (status & 0xff) < 0x01 || (status & 0xff) > 0x03) return
    // The target refuses I/O to an inaccessible group while parsing it (before the command seam),
    // so the judgement is made here, on the ANA status it was answered with.
    const st = this.#stateOf(ctx.portId, cmd.nsid)
    if (st === undefined || ctx.cntlid === undefined) return
    const told = this.#told.get(ctx.cntlid)?.get(st.grpid)
    // NVMe Base 2.0 §8.1.3: a host that knows a group is inaccessible does not send it commands
    // that need access to its namespaces. Told = read in the ANA log or answered with an ANA status.
    if (BAD_ANA.has(st.state) && told !== undefined && BAD_ANA.has(told.state) && t - told.atMs >= this.graceMs && this.inaccessibleSends.length < 1000)
      this.inaccessibleSends.push({ tMs: t, portId: ctx.portId, cntlid: ctx.cntlid, nsid: cmd.nsid, anagrpid: st.grpid, state: st.state, toldAtMs: told.atMs, how: told.how })
    if (sent) this.#tell(ctx.cntlid, st.grpid, st.state, `answered with ANA status 0x${status.toString(16)} at ${Math.round(t)} ms`)
  }

  /** Compose around `inner` (the engine's hooks): observe the final decisions. */
  wrap(inner: TargetHooks): TargetHooks {
    const out: TargetHooks = { ...inner }
    const innerCmd = inner.onCommand?.bind(inner)
    const innerCpl = inner.onCompletion?.bind(inner)
    const PASS: Decision = { action: 'pass' }
    out.onCommand = (ctx, cmd) => {
      const r = innerCmd?.(ctx, cmd) ?? PASS
      if (r instanceof Promise) return r.then((d) => (this.#onCommand(ctx, cmd, d), d))
      this.#onCommand(ctx, cmd, r)
      return r
    }
    out.onCompletion = (ctx, cmd, c) => {
      const r = innerCpl?.(ctx, cmd, c) ?? PASS
      if (r instanceof Promise) return r.then((d) => (this.#onCompletion(ctx, cmd, c, d), d))
      this.#onCompletion(ctx, cmd, c, r)
      return r
    }
    return out
  }
}
