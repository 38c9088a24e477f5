/**
 * A host controller: the admin queue plus N I/O queues to one subsystem port (wire reference 9.1),
 * keep-alive at KATO/2 (9.2), Asynchronous Event Requests kept posted (9.3), ANA log handling with
 * the ANATT timer (anchors 3.3), command timeouts (Abort, then reset), error recovery and reconnect
 * with reconnectDelay / ctrlLossTmo / fastIoFailTmo (anchors 3.5), namespace scan, and clean
 * shutdown (CC.SHN, 9.4).
 *
 * The controller implements {@link PathBackend} for the paths of its namespaces; it reports what it
 * learns (state, namespaces, ANA, discovery changes) to its owner through {@link ControllerOwner}.
 */
import type { Logger } from 'pino'
import type { Clock, Random, TimerHandle } from '../lib/clock.js'
import { ConnectionError, InvalidStateError, NvmeStatusError, TimeoutError } from '../lib/errors.js'
import type { AuthResult } from './auth.js'
import { ControllerAuth } from './controller-auth.js'
import { CONNECT_DYNAMIC_CNTLID, parseConnectResponseDw0 } from '../lib/nvme/fabrics.js'
import { CMIC_ANA, decodeIdentifyController, OAES_ANA_CHANGE, OAES_DISC_CHANGE, OAES_FW_ACTIVATION, OAES_NS_ATTR, type IdentifyController } from '../lib/nvme/identify-controller.js'
import { AenNotice, AenType, parseAenDw0 } from '../lib/nvme/aen.js'
import { encodeNumQueues, usableIoQueues } from '../lib/nvme/features.js'
import type { AnaLog } from '../lib/nvme/log-ana.js'
import { NSID_ALL } from '../lib/nvme/identify-lists.js'
import { AdminOpcode, Cns, FeatureId, LogPageId } from '../lib/nvme/opcodes.js'
import { makeAbortSqe, makeAerSqe, makeIdentifySqe } from '../lib/nvme/commands.js'
import { makeSqe, type Sqe } from '../lib/nvme/sqe.js'
import { NvmeStatus, statusDnr, statusName } from '../lib/status.js'
import { ControllerStateMachine, type ControllerStateValue } from './controller-state.js'
import { reconnectDelay, type ResolvedControllerOptions } from './controller-options.js'
import { CHANNELS, publish, type AenEvent, type ControllerStateEvent } from './events.js'
import type { HostIo } from './host-io.js'
import type { IoResult, PathBackend } from './ns-path.js'
import { QueuePair, type QueueCompletion } from './transport/queue-pair.js'
import { enableController, getLogPage, shutdownController } from './controller-admin.js'
import { ControllerAna } from './controller-ana.js'
import { KeepAlive } from './controller-keep-alive.js'
import { connectQueue, ioQueueGeometry, openQueue } from './controller-queues.js'
import { ioCommand } from './io-command.js'
import { scanNamespaces, type ScannedNamespace } from './namespace-scan.js'

export type { ScannedNamespace } from './namespace-scan.js'

export interface ControllerOwner {
  controllerStateChanged(ctrl: HostController, from: ControllerStateValue, to: ControllerStateValue): void
  /** A complete scan result (the whole active namespace list). */
  namespacesScanned(ctrl: HostController, namespaces: ScannedNamespace[]): void
  /** ANA states were (re)read. */
  anaUpdated(ctrl: HostController): void
  /** Discovery log change AEN (persistent discovery controllers). */
  discoveryChanged?(ctrl: HostController): void
  /** fastIoFailTmo expired (queued I/O must stop waiting). */
  failfastExpired(ctrl: HostController): void
}

export interface HostControllerOptions extends ResolvedControllerOptions {
  hostnqn: string
  hostid: Buffer
  clock: Clock
  random: Random
  logger?: Logger | undefined
  owner: ControllerOwner
  hostId: string
  /** A discovery controller: admin queue only, no namespace scan. */
  discovery?: boolean
  /** Name used in ids and logs (default `${traddr}:${trsvcid}`). */
  name: string
}

const ADMIN_QUEUE_DEPTH = 32
/** Linux NVME_TCP_ADMIN_CCSZ: in-capsule data up to 8 KiB on the admin queue (wire reference 10.1). */
const ADMIN_IN_CAPSULE = 8192
/** The notices the host enables (Linux NVME_AEN_SUPPORTED): NS attribute, FW activation, ANA, discovery. */
const AER_OAES_MASK = OAES_NS_ATTR | OAES_FW_ACTIVATION | OAES_ANA_CHANGE | OAES_DISC_CHANGE

export class HostController implements PathBackend {
  readonly id: string
  readonly options: HostControllerOptions
  readonly #clock: Clock
  readonly #random: Random
  readonly #log: Logger | undefined
  readonly #machine: ControllerStateMachine
  #admin: QueuePair | undefined
  #io: QueuePair[] = []
  #ioNext = 0
  readonly #auth: ControllerAuth
  #cntlid = 0
  #identify: IdentifyController | undefined
  readonly #ana: ControllerAna
  readonly #keepAlive: KeepAlive
  #reconnectTimer: TimerHandle | undefined
  #fastFailTimer: TimerHandle | undefined
  #lossStart: number | undefined
  #attempts = 0
  #failfast = false
  #active = 0
  #maxTransferBytes = 1 << 20
  #scanning: Promise<void> | undefined
  #rescanQueued = false
  #readChangedQueued = false
  #generation = 0
  readonly counters = { connects: 0, resets: 0, reconnectAttempts: 0, keepAlives: 0, aens: 0, anaReads: 0, timeouts: 0, aborts: 0, scans: 0, authentications: 0, authFailures: 0 }

  constructor(o: HostControllerOptions) {
    this.options = o
    this.id = o.name
    this.#clock = o.clock
    this.#random = o.random
    this.#log = o.logger?.child({ ctrl: o.name, subnqn: o.subnqn })
    this.#machine = new ControllerStateMachine({
      name: o.name,
      onTransition: (from, to) => {
        this.#log?.debug({ from, to }, 'controller state')
        const ev: ControllerStateEvent = { hostId: o.hostId, controllerId: this.id, from, to }
        publish(CHANNELS.controllerState, ev)
        o.owner.controllerStateChanged(this, from, to)
      },
    })
    this.#auth = new ControllerAuth({ id: this.id, hostnqn: o.hostnqn, options: o, logger: this.#log, counters: this.counters })
    this.#keepAlive = new KeepAlive({ clock: o.clock, counters: this.counters })
    this.#ana = new ControllerAna({
      clock: o.clock,
      logger: this.#log,
      identify: () => this.#identify,
      readLog: (length) => this.getLogPage(LogPageId.ANA, NSID_ALL, length),
      live: () => this.state === 'live',
      generation: () => this.#generation,
      onAnattExpired: (gen) => {
        if (gen === this.#generation) this.reset('ANATT timeout')
      },
      onUpdated: () => o.owner.anaUpdated(this),
      counters: this.counters,
    })
  }

  get state(): ControllerStateValue {
    return this.#machine.state
  }
  get cntlid(): number {
    return this.#cntlid
  }
  get identify(): IdentifyController | undefined {
    return this.#identify
  }
  get failfastExpired(): boolean {
    return this.#failfast
  }
  get activeRequests(): number {
    return this.#active
  }
  get anaLog(): AnaLog | undefined {
    return this.#ana.log
  }
  /** Largest data transfer of one command (MDTS), capped at 64 MiB. */
  get maxTransferBytes(): number {
    return this.#maxTransferBytes
  }
  get ioQueueCount(): number {
    return this.#io.length
  }
  /** ANA state of a group as last read (OPTIMIZED when the subsystem does not report ANA). */
  anaStateOf(grpid: number): number {
    return this.#ana.stateOf(grpid)
  }
  crdDelayMs(crd: number): number {
    const id = this.#identify
    if (id === undefined || crd < 1 || crd > 3) return 0
    return (crd === 1 ? id.crdt1 : crd === 2 ? id.crdt2 : id.crdt3) * 100
  }

  /** Connect; resolves when LIVE (first attempt), rejects if the first attempt fails. Later losses reconnect. */
  async start(): Promise<void> {
    this.#machine.transition('connecting')
    try {
      await this.#connectOnce()
    } catch (err) {
      if (this.state === 'connecting') this.#machine.transition('deleting')
      if (this.state === 'deleting') this.#machine.transition('deleted')
      this.#teardown(err as Error)
      throw err
    }
  }

  // ------------------------------------------------------------------------------------------
  // Bring-up (wire reference 9.1)

  async #connectOnce(): Promise<void> {
    const o = this.options
    const gen = ++this.#generation
    this.counters.connects++
    const handlers = { onClose: (err: Error) => this.#onQueueLost(gen, err), onTimeout: (info: { qid: number; cid: number; opc: number }) => this.#onTimeout(gen, info) }
    const admin = await openQueue(o, this.#clock, { qid: 0, depth: ADMIN_QUEUE_DEPTH, inCapsuleMax: ADMIN_IN_CAPSULE, maxC2HData: 1 << 20, ...handlers })
    this.#adopt(gen, admin)
    this.#admin = admin
    const connectCommand = { hostid: o.hostid, hostnqn: o.hostnqn, subnqn: o.subnqn, disableSqflow: o.disableSqflow, timeoutMs: o.adminTimeoutMs }
    const connect = await connectQueue(admin, { ...connectCommand, cntlid: CONNECT_DYNAMIC_CNTLID, qid: 0, sqsize: ADMIN_QUEUE_DEPTH - 1, kato: o.kato })
    this.#cntlid = parseConnectResponseDw0(connect.dw0).cntlid
    await this.#auth.ifAsked(admin, 0, connect.dw0)
    const cap = await enableController(this.#adminCommand, this.#clock, this.id)
    const idc = await this.#submitAdmin(makeIdentifySqe({ cid: 0, cns: Cns.CONTROLLER }), { readLength: 4096 })
    this.#identify = decodeIdentifyController(idc.data as Buffer)
    const id = this.#identify
    if (o.discovery !== true) {
      if ((id.cmic & CMIC_ANA) !== 0) await this.#ana.read()
      // Set Features Number of Queues: NSQR/NCQR 0's based (wire reference 9.1 step 17).
      const n = o.nrIoQueues
      const nq = await this.#submitAdmin(makeSqe({ opc: AdminOpcode.SET_FEATURES, cdw10: FeatureId.NUM_QUEUES, cdw11: encodeNumQueues({ nsq: n, ncq: n }) }))
      if (nq.cqe.status !== 0) throw new NvmeStatusError(nq.cqe.status, { cid: nq.cqe.cid, qid: 0, name: 'Set Features Number of Queues' })
      const granted = Math.min(n, usableIoQueues(nq.cqe.dw0))
      const g = ioQueueGeometry(o.queueSize, id, cap)
      this.#maxTransferBytes = g.maxTransferBytes
      for (let qid = 1; qid <= granted; qid++) {
        const q = await openQueue(o, this.#clock, { qid, depth: g.depth, inCapsuleMax: 8192, maxC2HData: g.maxTransferBytes, ...handlers })
        // Listed at once, so a failure from here on closes it with the others (#teardown).
        this.#adopt(gen, q)
        this.#io.push(q)
        const c = await connectQueue(q, { ...connectCommand, cntlid: this.#cntlid, qid, sqsize: g.depth - 1, kato: 0 })
        await this.#auth.ifAsked(q, qid, c.dw0)
        q.inCapsuleMax = g.inCapsule
      }
    }
    if (gen !== this.#generation) throw new ConnectionError(`${this.id}: superseded connect attempt`)
    this.#machine.transition('live')
    this.#lossStart = undefined
    this.#attempts = 0
    this.#failfast = false
    if (this.#fastFailTimer !== undefined) this.#clock.clearTimeout(this.#fastFailTimer)
    this.#fastFailTimer = undefined
    // Asynchronous Event Configuration then one AER (wire reference 9.1 step 19).
    const aec = id.oaes & AER_OAES_MASK
    if (aec !== 0) {
      await this.#submitAdmin(makeSqe({ opc: AdminOpcode.SET_FEATURES, cdw10: FeatureId.ASYNC_EVENT, cdw11: aec >>> 0 })).catch(() => undefined)
    }
    if ((id.oaes & (OAES_NS_ATTR | OAES_ANA_CHANGE | OAES_DISC_CHANGE)) !== 0 || o.discovery === true) this.#postAer(gen)
    this.#keepAlive.start(o.kato, () => gen === this.#generation && this.state === 'live', () => this.#admin)
    if (o.discovery !== true) await this.rescan().catch((err: unknown) => this.#log?.warn({ err }, 'namespace scan failed'))
  }

  /** A queue opened for attempt `gen` after that attempt was torn down (reset, delete) is closed at once. */
  #adopt(gen: number, q: QueuePair): void {
    if (gen === this.#generation) return
    q.close(new ConnectionError(`${this.id}: connect attempt abandoned`))
    throw new ConnectionError(`${this.id}: connect attempt abandoned`)
  }

  /**
   * Re-authenticates every queue of a live controller (as writing dhchap_secret in sysfs makes the
   * Linux host do): admin queue first, then each I/O queue. Commands keep flowing meanwhile.
   */
  reauthenticate(): Promise<AuthResult[]> {
    return this.#auth.reauthenticate(
      () => {
        if (this.state !== 'live') throw new InvalidStateError(`${this.id} is ${this.state}, not live`)
        const admin = this.#admin
        if (admin === undefined || admin.closed) throw new ConnectionError(`${this.id}: admin queue is down`)
        return admin
      },
      () => this.#io,
    )
  }

  async #submitAdmin(sqe: Sqe, extra: { data?: Buffer; readLength?: number } = {}): Promise<QueueCompletion> {
    const admin = this.#admin
    if (admin === undefined || admin.closed) throw new ConnectionError(`${this.id}: admin queue is down`)
    return admin.submit({ sqe, timeoutMs: this.options.adminTimeoutMs, ...extra })
  }
  /** Admin command that must succeed (status as data turned into NvmeStatusError here). */
  async adminCommand(sqe: Sqe, extra: { data?: Buffer; readLength?: number } = {}): Promise<QueueCompletion> {
    const c = await this.#submitAdmin(sqe, extra)
    if (c.cqe.status !== 0) throw new NvmeStatusError(c.cqe.status, { cid: c.cqe.cid, qid: 0, name: statusName(c.cqe.status, 'admin'), opcode: sqe.opc })
    return c
  }
  readonly #adminCommand = (sqe: Sqe, extra?: { data?: Buffer; readLength?: number }): Promise<QueueCompletion> => this.adminCommand(sqe, extra)

  /** Read a log page in pieces of at most `chunk` bytes. */
  getLogPage(lid: number, nsid: number, length: number, offset = 0, opts: { lsp?: number; rae?: boolean; chunk?: number } = {}): Promise<Buffer> {
    return getLogPage(this.#adminCommand, lid, nsid, length, offset, opts)
  }

  // ------------------------------------------------------------------------------------------
  // AER, ANA (keep-alive: controller-keep-alive.ts)

  #postAer(gen: number): void {
    const admin = this.#admin
    if (admin === undefined || admin.closed) return
    admin.submit({ sqe: makeAerSqe({ cid: 0 }), timeoutMs: 0 }).then(
      (c) => {
        if (gen !== this.#generation || c.cqe.status !== 0) return
        this.counters.aens++
        const dw0 = c.cqe.dw0 >>> 0
        const ev: AenEvent = { hostId: this.options.hostId, controllerId: this.id, dw0 }
        publish(CHANNELS.aen, ev)
        this.#postAer(gen)
        void this.#handleAen(dw0).catch((err: unknown) => this.#log?.warn({ err }, 'AEN handling failed'))
      },
      () => undefined,
    )
  }

  async #handleAen(dw0: number): Promise<void> {
    const { type, info } = parseAenDw0(dw0)
    if (type !== AenType.NOTICE) return // only Notice events drive host actions here (wire reference 9.3)
    if (info === AenNotice.NS_CHANGED) {
      await this.rescan({ readChangedList: true })
    } else if (info === AenNotice.ANA_CHANGE) {
      this.requestAnaRead()
    } else if (info === AenNotice.DISC_CHANGE) {
      this.options.owner.discoveryChanged?.(this)
    }
  }

  /** Schedule an ANA log re-read (coalesced). */
  requestAnaRead(): void {
    this.#ana.request()
  }

  // ------------------------------------------------------------------------------------------
  // Namespace scan (wire reference 9.3)

  /** Scan the active namespaces (coalesced: a scan requested during a scan runs once more after it). */
  rescan(opts: { readChangedList?: boolean } = {}): Promise<void> {
    if (this.#scanning !== undefined) {
      this.#rescanQueued = true
      // The target masks further NS-changed AENs until log 0x04 is read: the queued run reads it.
      if (opts.readChangedList === true) this.#readChangedQueued = true
      return this.#scanning
    }
    this.#scanning = this.#scan(opts.readChangedList === true).finally(() => {
      this.#scanning = undefined
      if (this.#rescanQueued) {
        const readChangedList = this.#readChangedQueued
        this.#rescanQueued = false
        this.#readChangedQueued = false
        void this.rescan({ readChangedList }).catch(() => undefined)
      }
    })
    return this.#scanning
  }

  async #scan(readChangedList: boolean): Promise<void> {
    if (this.state !== 'live') return
    this.counters.scans++
    // Reading the Changed Namespace List clears the event (the Linux host reads it only for that).
    if (readChangedList) await this.getLogPage(LogPageId.CHANGED_NS, NSID_ALL, 4096).catch(() => undefined)
    const found = await scanNamespaces({ identify: this.#identify, submitAdmin: (sqe, extra) => this.#submitAdmin(sqe, extra), adminCommand: this.#adminCommand, logger: this.#log })
    if (this.state !== 'live') return
    this.options.owner.namespacesScanned(this, found)
  }

  // ------------------------------------------------------------------------------------------
  // I/O (PathBackend)

  executeIo(nsid: number, io: HostIo): Promise<IoResult> {
    return new Promise<IoResult>((resolve) => this.sendIo(nsid, io, resolve))
  }

  /**
   * {@link executeIo} without a promise per I/O (docs/performance.md, round 3): a success is
   * reported synchronously from the queue's receive path; anything else (an NVMe error status, a
   * lost queue, no live queue) in a microtask, as the promise form did, so recovery and failover
   * run after the receive path and after the teardown that failed the command.
   */
  sendIo(nsid: number, io: HostIo, done: (r: IoResult) => void): void {
    if (this.state !== 'live' || this.#io.length === 0) {
      queueMicrotask(() => done({ status: NvmeStatus.HOST_PATH_ERROR }))
      return
    }
    const q = this.#io[this.#ioNext++ % this.#io.length] as QueuePair
    this.#active++
    q.send(ioCommand(nsid, io, this.options.ioTimeoutMs), (c) => {
      this.#active--
      if (c instanceof Error) {
        // The queue went down under the command: a host-detected path error, so multipath fails it
        // over (wire reference 8.2: 0x370 on send failure, 0x371 when cancelled by teardown).
        queueMicrotask(() => done({ status: this.state === 'live' ? NvmeStatus.HOST_PATH_ERROR : NvmeStatus.HOST_ABORTED_CMD }))
      } else if (c.cqe.status !== 0) {
        const r: IoResult = { status: c.cqe.status, cid: c.cqe.cid, qid: q.qid }
        queueMicrotask(() => done(r))
      } else done(c.data !== undefined ? { status: 0, data: c.data } : { status: 0, cid: c.cqe.cid, qid: q.qid })
    })
  }

  // ------------------------------------------------------------------------------------------
  // Timeouts, error recovery, reconnect

  #onTimeout(gen: number, info: { qid: number; cid: number; opc: number }): void {
    if (gen !== this.#generation) return
    this.counters.timeouts++
    this.#log?.warn(info, 'command timeout')
    if (this.state !== 'live') {
      // Bring-up (or shutdown) has no live controller to reset: the unanswered command fails the
      // attempt. Closing the queues rejects it and every socket of the attempt is closed.
      this.#teardown(new TimeoutError(`${this.id}: ${info.qid === 0 ? 'admin' : `I/O queue ${info.qid}`} command 0x${info.opc.toString(16)} not answered (controller ${this.state})`))
      return
    }
    if (info.qid === 0) {
      // Admin command (incl. Keep Alive) timed out: error recovery.
      this.reset(`admin command 0x${info.opc.toString(16)} timed out`)
      return
    }
    // I/O timeout: Abort (SQID | CID << 16), then reset if it still did not complete.
    this.counters.aborts++
    void this.#submitAdmin(makeAbortSqe({ cid: 0, sqid: info.qid, abortCid: info.cid })).catch(() => undefined)
    const t = this.#clock.setTimeout(() => {
      if (gen !== this.#generation) return
      const q = this.#io[info.qid - 1]
      if (q !== undefined && !q.closed && q.outstanding > 0) this.reset(`I/O cid 0x${info.cid.toString(16)} not completed after Abort`)
    }, this.options.abortGraceMs)
    t.unref?.()
  }

  #onQueueLost(gen: number, err: Error): void {
    if (gen !== this.#generation) return
    if (this.state === 'live') this.#errorRecovery(err.message)
    // A queue lost during bring-up (even one whose Connect already succeeded) fails the attempt:
    // going live with a dead queue would send I/O into it for ever (found by the fuzzer).
    else if (this.state === 'connecting') this.#teardown(err)
  }

  /** Controller reset (ANATT, timeouts, or on demand): tear down, reconnect now. */
  reset(reason: string): void {
    if (this.state !== 'live') return
    this.counters.resets++
    this.#log?.info({ reason }, 'resetting controller')
    this.#errorRecovery(reason, true)
  }

  #errorRecovery(reason: string, immediate = false): void {
    if (this.state !== 'live') return
    this.#machine.transition('resetting')
    this.#teardown(new ConnectionError(`${this.id}: ${reason}`))
    this.#lossStart ??= this.#clock.now()
    this.#armFastFail()
    this.#scheduleReconnect(immediate ? 0 : undefined)
  }

  #armFastFail(): void {
    const f = this.options.fastIoFailTmoMs
    if (f < 0 || this.#fastFailTimer !== undefined || this.#failfast) return
    this.#fastFailTimer = this.#clock.setTimeout(() => {
      this.#fastFailTimer = undefined
      if (this.state === 'live') return
      this.#failfast = true
      this.options.owner.failfastExpired(this)
    }, f)
  }

  #scheduleReconnect(delayOverride?: number): void {
    const o = this.options
    const lossStart = this.#lossStart ?? this.#clock.now()
    const delay = delayOverride ?? reconnectDelay(o, this.#attempts, this.#random)
    // ctrl_loss_tmo: give up when the next attempt would start after the deadline (Linux
    // nvmf_should_reconnect: nr_reconnects < max_reconnects = ctrl_loss_tmo / reconnect_delay).
    if (o.ctrlLossTmoMs >= 0 && this.#clock.now() + delay - lossStart > o.ctrlLossTmoMs) {
      this.#log?.info('ctrl_loss_tmo expired, removing controller')
      this.#delete()
      return
    }
    if (this.state === 'resetting' || this.state === 'connecting') this.#machine.transition('reconnecting')
    this.#reconnectTimer = this.#clock.setTimeout(() => {
      this.#reconnectTimer = undefined
      if (this.state !== 'reconnecting') return
      this.#attempts++
      this.counters.reconnectAttempts++
      this.#machine.transition('connecting')
      this.#connectOnce().catch((err: unknown) => {
        this.#teardown(err as Error)
        if (this.state !== 'connecting') return
        // A Connect rejected with DNR will never succeed: stop (wire reference 8.2).
        if (err instanceof NvmeStatusError && statusDnr(err.status)) {
          this.#delete()
          return
        }
        this.#scheduleReconnect()
      })
    }, delay)
  }

  #teardown(reason: Error): void {
    this.#generation++
    this.#stopTimers()
    const io = this.#io
    this.#io = []
    for (const q of io) q.close(reason)
    this.#admin?.close(reason)
    this.#admin = undefined
  }

  /** Keep-alive and ANATT stop with the connection. */
  #stopTimers(): void {
    this.#keepAlive.stop()
    this.#ana.stopTimer()
  }

  #delete(): void {
    if (this.state === 'deleted' || this.state === 'deleting') return
    if (this.#reconnectTimer !== undefined) this.#clock.clearTimeout(this.#reconnectTimer)
    if (this.#fastFailTimer !== undefined) this.#clock.clearTimeout(this.#fastFailTimer)
    this.#reconnectTimer = undefined
    this.#fastFailTimer = undefined
    this.#teardown(new ConnectionError(`${this.id}: controller deleted`))
    this.#machine.transition('deleting')
    this.#machine.transition('deleted')
  }

  /**
   * Clean shutdown (wire reference 9.4): close the I/O queues, Property Set CC.SHN = normal, wait for
   * CSTS.SHST = complete (bounded), close the admin queue. The controller is then DELETED.
   */
  async disconnect(options: { shutdownTimeoutMs?: number } = {}): Promise<void> {
    if (this.state === 'deleted' || this.state === 'deleting') return
    if (this.#reconnectTimer !== undefined) this.#clock.clearTimeout(this.#reconnectTimer)
    if (this.#fastFailTimer !== undefined) this.#clock.clearTimeout(this.#fastFailTimer)
    this.#reconnectTimer = undefined
    this.#fastFailTimer = undefined
    const wasLive = this.state === 'live'
    this.#machine.transition('deleting')
    this.#stopTimers()
    const io = this.#io
    this.#io = []
    for (const q of io) q.close(new ConnectionError(`${this.id}: disconnecting`))
    if (wasLive && this.#admin !== undefined && !this.#admin.closed) {
      try {
        await shutdownController(this.#adminCommand, this.#clock, options.shutdownTimeoutMs ?? 5000)
      } catch {
        // The admin queue died during shutdown; nothing more to tell the controller.
      }
    }
    this.#generation++
    this.#admin?.close(new ConnectionError(`${this.id}: disconnected`))
    this.#admin = undefined
    this.#machine.transition('deleted')
  }

  /** Force error recovery as if the transport failed (tests, CLI). */
  simulateTransportError(): void {
    if (this.state !== 'live') throw new InvalidStateError(`${this.id} is ${this.state}, not live`)
    this.#errorRecovery('transport error injected by the host')
  }

  stats(): Record<string, unknown> {
    return {
      id: this.id,
      state: this.state,
      cntlid: this.#cntlid,
      traddr: this.options.traddr,
      trsvcid: this.options.trsvcid,
      subnqn: this.options.subnqn,
      ioQueues: this.#io.length,
      activeRequests: this.#active,
      failfastExpired: this.#failfast,
      ana: this.#ana.entries.map(([grpid, state]) => ({ grpid, state })),
      ...this.counters,
    }
  }
}
