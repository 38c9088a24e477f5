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
import type { Clock } from '../lib/clock.js'
import { ConnectionError, InvalidStateError, NvmeStatusError } from '../lib/errors.js'
import type { AuthResult } from './auth.js'
import { ControllerAuth } from './controller-auth.js'
import type { IdentifyController } from '../lib/nvme/identify-controller.js'
import type { AnaLog } from '../lib/nvme/log-ana.js'
import { NSID_ALL } from '../lib/nvme/identify-lists.js'
import { LogPageId } from '../lib/nvme/opcodes.js'
import type { Sqe } from '../lib/nvme/sqe.js'
import { statusName } from '../lib/status.js'
import { ControllerStateMachine, type ControllerStateValue } from './controller-state.js'
import type { HostControllerOptions } from './controller-options.js'
import { ConnectionLoss } from './controller-reconnect.js'
import { scheduleReconnect, type ReconnectScope } from './controller-reconnect-loop.js'
import { configureAsyncEvents, keepAerPosted } from './controller-aen.js'
import { onCommandTimeout } from './controller-timeouts.js'
import { RescanQueue } from './controller-rescan.js'
import { bringUp } from './controller-bring-up.js'
import { CHANNELS, publish, type AenEvent, type ControllerStateEvent } from './events.js'
import type { HostIo } from './host-io.js'
import type { IoResult, PathBackend } from './ns-path.js'
import { QueuePair, type QueueCompletion } from './transport/queue-pair.js'
import { getLogPage, shutdownController } from './controller-admin.js'
import { ControllerAna } from './controller-ana.js'
import { KeepAlive } from './controller-keep-alive.js'
import { IoQueues } from './controller-io.js'
import { scanNamespaces } from './namespace-scan.js'
import { controllerStats } from './controller-stats.js'

export type { ScannedNamespace } from './namespace-scan.js'

export type { ControllerOwner, HostControllerOptions } from './controller-options.js'

export class HostController implements PathBackend {
  readonly id: string
  readonly options: HostControllerOptions
  readonly #clock: Clock
  readonly #log: Logger | undefined
  readonly #machine: ControllerStateMachine
  #admin: QueuePair | undefined
  readonly #io: IoQueues
  readonly #auth: ControllerAuth
  #cntlid = 0
  #identify: IdentifyController | undefined
  readonly #ana: ControllerAna
  readonly #keepAlive: KeepAlive
  readonly #loss: ConnectionLoss
  readonly #reconnect: ReconnectScope
  #maxTransferBytes = 1 << 20
  readonly #rescans = new RescanQueue((readChangedList) => this.#scan(readChangedList))
  #generation = 0
  readonly counters = { connects: 0, resets: 0, reconnectAttempts: 0, keepAlives: 0, aens: 0, anaReads: 0, timeouts: 0, aborts: 0, scans: 0, authentications: 0, authFailures: 0 }

  constructor(o: HostControllerOptions) {
    this.options = o
    this.id = o.name
    this.#clock = o.clock
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
    this.#io = new IoQueues({ options: o, live: () => this.state === 'live' })
    this.#loss = new ConnectionLoss({ options: o, clock: o.clock, random: o.random, live: () => this.state === 'live', onFailfast: () => o.owner.failfastExpired(this) })
    this.#reconnect = {
      loss: this.#loss,
      log: this.#log,
      counters: this.counters,
      state: () => this.state,
      transition: (to) => this.#machine.transition(to),
      connectOnce: () => this.#connectOnce(),
      teardown: (err) => this.#teardown(err),
      remove: () => this.#delete(),
    }
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
    return this.#loss.failfast
  }
  get activeRequests(): number {
    return this.#io.active
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
    const id = await bringUp({
      options: o,
      clock: this.#clock,
      id: this.id,
      auth: this.#auth,
      ana: this.#ana,
      queueHandlers: { onClose: (err) => this.#onQueueLost(gen, err), onTimeout: (info) => this.#onTimeout(gen, info) },
      adopt: (q, kind) => {
        this.#adopt(gen, q)
        if (kind === 'admin') this.#admin = q
        else this.#io.add(q)
      },
      submitAdmin: (sqe, extra) => this.#submitAdmin(sqe, extra),
      adminCommand: this.#adminCommand,
      learned: (f) => {
        if (f.cntlid !== undefined) this.#cntlid = f.cntlid
        if (f.identify !== undefined) this.#identify = f.identify
        if (f.maxTransferBytes !== undefined) this.#maxTransferBytes = f.maxTransferBytes
      },
    })
    if (gen !== this.#generation) throw new ConnectionError(`${this.id}: superseded connect attempt`)
    this.#machine.transition('live')
    this.#loss.recovered()
    if (await configureAsyncEvents(id, (sqe) => this.#submitAdmin(sqe), o.discovery === true)) this.#postAer(gen)
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
      () => this.#io.list,
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
    keepAerPosted({
      admin: () => this.#admin,
      current: () => gen === this.#generation,
      onEvent: (dw0) => {
        this.counters.aens++
        const ev: AenEvent = { hostId: this.options.hostId, controllerId: this.id, dw0 }
        publish(CHANNELS.aen, ev)
      },
      nsChanged: () => this.rescan({ readChangedList: true }),
      anaChanged: () => this.requestAnaRead(),
      discoveryChanged: () => this.options.owner.discoveryChanged?.(this),
      onError: (err) => this.#log?.warn({ err }, 'AEN handling failed'),
    })
  }

  /** Schedule an ANA log re-read (coalesced). */
  requestAnaRead(): void {
    this.#ana.request()
  }

  // ------------------------------------------------------------------------------------------
  // Namespace scan (wire reference 9.3)

  /** Scan the active namespaces (coalesced: a scan requested during a scan runs once more after it). */
  rescan(opts: { readChangedList?: boolean } = {}): Promise<void> {
    return this.#rescans.request(opts.readChangedList === true)
  }

  async #scan(readChangedList: boolean): Promise<void> {
    if (this.state !== 'live') return
    this.counters.scans++
    // Reading the Changed Namespace List clears the event (the Linux host reads it only for that).
    if (readChangedList) await this.getLogPage(LogPageId.CHANGED_NS, NSID_ALL, 4096).catch(() => undefined)
    const found = await scanNamespaces({ identify: this.#identify, submitAdmin: (sqe, extra) => this.#submitAdmin(sqe, extra), adminCommand: this.#adminCommand, logger: this.#log })
    if (this.state !== 'live') return
    this.options.owner.namespacesScanned(this, found.namespaces, found.unidentified)
  }

  // ------------------------------------------------------------------------------------------
  // I/O (PathBackend)

  executeIo(nsid: number, io: HostIo): Promise<IoResult> {
    return new Promise<IoResult>((resolve) => this.sendIo(nsid, io, resolve))
  }

  /** {@link executeIo} without a promise per I/O (controller-io.ts). */
  sendIo(nsid: number, io: HostIo, done: (r: IoResult) => void): void {
    this.#io.send(nsid, io, done)
  }

  // ------------------------------------------------------------------------------------------
  // Timeouts, error recovery, reconnect

  #onTimeout(gen: number, info: { qid: number; cid: number; opc: number }): void {
    if (gen !== this.#generation) return
    onCommandTimeout(
      {
        id: this.id,
        state: this.state,
        clock: this.#clock,
        log: this.#log,
        counters: this.counters,
        abortGraceMs: this.options.abortGraceMs,
        current: () => gen === this.#generation,
        failAttempt: (err) => this.#teardown(err),
        reset: (reason) => this.reset(reason),
        admin: (sqe) => void this.#submitAdmin(sqe).catch(() => undefined),
        ioQueue: (qid) => this.#io.byQid(qid),
      },
      info,
    )
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
    this.#loss.lost()
    scheduleReconnect(this.#reconnect, immediate ? 0 : undefined)
  }

  #teardown(reason: Error): void {
    this.#generation++
    this.#stopTimers()
    this.#io.closeAll(reason)
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
    this.#loss.cancel()
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
    this.#loss.cancel()
    const wasLive = this.state === 'live'
    this.#machine.transition('deleting')
    this.#stopTimers()
    this.#io.closeAll(new ConnectionError(`${this.id}: disconnecting`))
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
    return controllerStats(this, this.#ana.entries)
  }
}
