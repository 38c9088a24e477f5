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
import { AuthenticationError, ConnectionError, InvalidStateError, NvmeStatusError, TimeoutError } from '../lib/errors.js'
import { AuthFailure } from '../lib/nvme/auth-ids.js'
import { CONNECT_AUTHREQ_ATR } from '../lib/nvme/fabrics.js'
import { authenticateQueue, type AuthResult } from './auth.js'
import {
  CC_CSS_ALL,
  CC_CSS_NVM,
  CC_SHN_NORMAL,
  CONNECT_DYNAMIC_CNTLID,
  CSTS_SHST_COMPLETE,
  decodeCap,
  decodeCsts,
  encodeCc,
  encodeConnectData,
  makeConnectSqe,
  makePropertyGetSqe,
  makePropertySetSqe,
  parseConnectResponseDw0,
  Property,
  CAP_CSS_IOCS,
} from '../lib/nvme/fabrics.js'
import { CMIC_ANA, decodeIdentifyController, OAES_ANA_CHANGE, OAES_DISC_CHANGE, OAES_FW_ACTIVATION, OAES_NS_ATTR, type IdentifyController } from '../lib/nvme/identify-controller.js'
import { AenNotice, AenType, parseAenDw0 } from '../lib/nvme/aen.js'
import { encodeNumQueues, usableIoQueues } from '../lib/nvme/features.js'
import { decodeAnaLog, type AnaLog } from '../lib/nvme/log-ana.js'
import { decodeNsIdDescriptors, decodeNsidList, NSID_ALL, NSID_LIST_MAX, nsIdentifiersOf } from '../lib/nvme/identify-lists.js'
import { decodeIdentifyNamespace, namespaceBlockSize } from '../lib/nvme/identify-namespace.js'
import { AdminOpcode, Cns, FeatureId, IoOpcode, LogPageId } from '../lib/nvme/opcodes.js'
import { DSM_AD, encodeDsmRanges, makeAbortSqe, makeAerSqe, makeGetLogPageSqe, makeIdentifySqe, makeKeepAliveSqe } from '../lib/nvme/commands.js'
import { makeSqe, rwDwords, type Sqe } from '../lib/nvme/sqe.js'
import { NvmeStatus, statusDnr, statusName } from '../lib/status.js'
import { AnaState } from '../lib/ana.js'
import { ControllerStateMachine, type ControllerStateValue } from './controller-state.js'
import { reconnectDelay, type ResolvedControllerOptions } from './controller-options.js'
import { CHANNELS, publish, type AenEvent, type ControllerStateEvent } from './events.js'
import type { HostIo } from './host-io.js'
import type { NsIds } from './multipath-head.js'
import type { IoResult, PathBackend } from './ns-path.js'
import { QueuePair, type QueueCompletion } from './transport/queue-pair.js'
import { ConnectRejectedError } from './connect-error.js'

/** What a namespace scan found on one controller. */
export interface ScannedNamespace {
  nsid: number
  ids: NsIds
  blockSize: number
  nsze: bigint
  anagrpid: number
  shared: boolean
}

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
/** Most namespaces one scan takes, whatever NN says (1 Mi NSIDs: 4 MiB of list, 2 Mi Identify commands). */
const MAX_SCANNED_NAMESPACES = 1 << 20
/** The notices the host enables (Linux NVME_AEN_SUPPORTED): NS attribute, FW activation, ANA, discovery. */
const AER_OAES_MASK = OAES_NS_ATTR | OAES_FW_ACTIVATION | OAES_ANA_CHANGE | OAES_DISC_CHANGE

function hex(b: Uint8Array | undefined): string | undefined {
  if (b === undefined) return undefined
  if (b.every((x) => x === 0)) return undefined
  return Buffer.from(b).toString('hex')
}

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
  /** T_ID of the last authentication transaction (Linux ctrl->transaction). */
  #authTid = 0
  #reauth: Promise<AuthResult[]> | undefined
  #cntlid = 0
  #identify: IdentifyController | undefined
  #anaStates = new Map<number, number>()
  #anaLog: AnaLog | undefined
  #kaTimer: TimerHandle | undefined
  #anattTimer: TimerHandle | undefined
  #reconnectTimer: TimerHandle | undefined
  #fastFailTimer: TimerHandle | undefined
  #lossStart: number | undefined
  #attempts = 0
  #failfast = false
  #active = 0
  #anaReadPending = false
  #maxTransferBytes = 1 << 20
  #anaReading: Promise<void> | undefined
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
    return this.#anaLog
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
    if (this.#identify === undefined || (this.#identify.cmic & CMIC_ANA) === 0) return AnaState.OPTIMIZED
    return this.#anaStates.get(grpid) ?? AnaState.INACCESSIBLE
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
    const admin = await QueuePair.connect({
      host: o.traddr,
      port: o.trsvcid,
      qid: 0,
      depth: ADMIN_QUEUE_DEPTH,
      hdgst: o.hdgst,
      ddgst: o.ddgst,
      clock: this.#clock,
      connectTimeoutMs: o.connectTimeoutMs,
      inCapsuleMax: ADMIN_IN_CAPSULE,
      maxC2HData: 1 << 20,
      onClose: (err) => this.#onQueueLost(gen, err),
      onTimeout: (info) => this.#onTimeout(gen, info),
    })
    this.#adopt(gen, admin)
    this.#admin = admin
    const kato = o.kato
    const connect = await this.#submitAdmin(makeConnectSqe({ cid: 0, qid: 0, sqsize: ADMIN_QUEUE_DEPTH - 1, kato }), {
      data: encodeConnectData({ hostid: o.hostid, cntlid: CONNECT_DYNAMIC_CNTLID, subnqn: o.subnqn, hostnqn: o.hostnqn }),
    })
    if (connect.cqe.status !== 0) throw new ConnectRejectedError(connect.cqe, 0)
    this.#cntlid = parseConnectResponseDw0(connect.cqe.dw0).cntlid
    await this.#authenticateIfAsked(admin, 0, connect.cqe.dw0)
    const cap = decodeCap(await this.#propGet(Property.CAP, 8))
    const css = (cap.css & CAP_CSS_IOCS) !== 0 ? CC_CSS_ALL : CC_CSS_NVM
    const cc = { css, iosqes: 6, iocqes: 4, mps: 0, ams: 0 }
    await this.#propSet(Property.CC, 4, BigInt(encodeCc({ ...cc, en: false })))
    await this.#propSet(Property.CC, 4, BigInt(encodeCc({ ...cc, en: true })))
    const readyBy = this.#clock.now() + Math.max(1, cap.to) * 500
    for (;;) {
      const csts = decodeCsts(Number(await this.#propGet(Property.CSTS, 4)))
      if (csts.rdy) break
      if (csts.cfs) throw new ConnectionError(`${this.id}: controller fatal status while enabling`)
      if (this.#clock.now() > readyBy) throw new TimeoutError(`${this.id}: CSTS.RDY not set within CAP.TO`)
      await this.#sleep(2)
    }
    const idc = await this.#submitAdmin(makeIdentifySqe({ cid: 0, cns: Cns.CONTROLLER }), { readLength: 4096 })
    this.#identify = decodeIdentifyController(idc.data as Buffer)
    const id = this.#identify
    if (o.discovery !== true) {
      if ((id.cmic & CMIC_ANA) !== 0) await this.#readAnaLog()
      // Set Features Number of Queues: NSQR/NCQR 0's based (wire reference 9.1 step 17).
      const n = o.nrIoQueues
      const nq = await this.#submitAdmin(makeSqe({ opc: AdminOpcode.SET_FEATURES, cdw10: FeatureId.NUM_QUEUES, cdw11: encodeNumQueues({ nsq: n, ncq: n }) }))
      if (nq.cqe.status !== 0) throw new NvmeStatusError(nq.cqe.status, { cid: nq.cqe.cid, qid: 0, name: 'Set Features Number of Queues' })
      const granted = Math.min(n, usableIoQueues(nq.cqe.dw0))
      const depth = Math.min(o.queueSize, id.maxcmd > 0 ? id.maxcmd : o.queueSize, cap.mqes + 1)
      const ioInCapsule = id.ioccsz > 4 ? id.ioccsz * 16 - 64 : 0
      // MDTS is a power of two in units of the minimum memory page size (CAP.MPSMIN); 0 = no limit.
      const mdts = id.mdts === 0 ? 1 << 26 : 2 ** (12 + cap.mpsmin) * 2 ** id.mdts
      this.#maxTransferBytes = Math.min(mdts, 1 << 26)
      for (let qid = 1; qid <= granted; qid++) {
        const q = await QueuePair.connect({
          host: o.traddr,
          port: o.trsvcid,
          qid,
          depth,
          hdgst: o.hdgst,
          ddgst: o.ddgst,
          clock: this.#clock,
          connectTimeoutMs: o.connectTimeoutMs,
          inCapsuleMax: 8192,
          maxC2HData: Math.min(mdts, 1 << 26),
          onClose: (err) => this.#onQueueLost(gen, err),
          onTimeout: (info) => this.#onTimeout(gen, info),
        })
        // Listed at once, so a failure from here on closes it with the others (#teardown).
        this.#adopt(gen, q)
        this.#io.push(q)
        const c = await q.submit({
          sqe: makeConnectSqe({ cid: 0, qid, sqsize: depth - 1, kato: 0 }),
          data: encodeConnectData({ hostid: o.hostid, cntlid: this.#cntlid, subnqn: o.subnqn, hostnqn: o.hostnqn }),
          timeoutMs: o.adminTimeoutMs,
        })
        if (c.cqe.status !== 0) throw new ConnectRejectedError(c.cqe, qid)
        await this.#authenticateIfAsked(q, qid, c.cqe.dw0)
        q.inCapsuleMax = ioInCapsule
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
    this.#startKeepAlive(gen)
    if (o.discovery !== true) await this.rescan().catch((err: unknown) => this.#log?.warn({ err }, 'namespace scan failed'))
  }

  /** A queue opened for attempt `gen` after that attempt was torn down (reset, delete) is closed at once. */
  #adopt(gen: number, q: QueuePair): void {
    if (gen === this.#generation) return
    q.close(new ConnectionError(`${this.id}: connect attempt abandoned`))
    throw new ConnectionError(`${this.id}: connect attempt abandoned`)
  }

  // ------------------------------------------------------------------------------------------
  // In-band authentication (NVMe Base 2.0 section 8.13; initiator/auth.ts)

  /** After a Connect: authenticate the queue when the response's AUTHREQ.ATR asks for it. */
  async #authenticateIfAsked(q: QueuePair, qid: number, connectDw0: number): Promise<void> {
    if (((connectDw0 >>> 0) & CONNECT_AUTHREQ_ATR) === 0) return
    if (this.options.dhchap === undefined) {
      this.counters.authFailures++
      throw new AuthenticationError(`${this.id}: qid ${qid}: the controller requires authentication (AUTHREQ.ATR) but no dhchapSecret is set`, { qid, reason: AuthFailure.FAILED, by: 'host' })
    }
    await this.#authenticate(q, qid)
  }

  async #authenticate(q: QueuePair, qid: number): Promise<AuthResult> {
    const settings = this.options.dhchap
    if (settings === undefined) throw new InvalidStateError(`${this.id}: no dhchapSecret set`)
    this.#authTid = (this.#authTid + 1) & 0xffff
    try {
      const r = await authenticateQueue({ qid, tid: this.#authTid, hostnqn: this.options.hostnqn, subnqn: this.options.subnqn, settings, submit: (cmd) => q.submit(cmd), timeoutMs: this.options.adminTimeoutMs })
      this.counters.authentications++
      this.#log?.info({ ctrl: this.id, qid, ...r }, 'authenticated')
      return r
    } catch (err) {
      this.counters.authFailures++
      this.#log?.warn({ ctrl: this.id, qid, err }, 'authentication failed')
      throw err
    }
  }

  /**
   * Re-authenticates every queue of a live controller (as writing dhchap_secret in sysfs makes the
   * Linux host do): admin queue first, then each I/O queue. Commands keep flowing meanwhile.
   */
  reauthenticate(): Promise<AuthResult[]> {
    // One run at a time (Linux queues one dhchap_auth_work): concurrent callers share it.
    if (this.#reauth === undefined) {
      this.#reauth = this.#reauthenticateAll().finally(() => (this.#reauth = undefined))
    }
    return this.#reauth
  }
  async #reauthenticateAll(): Promise<AuthResult[]> {
    if (this.state !== 'live') throw new InvalidStateError(`${this.id} is ${this.state}, not live`)
    const admin = this.#admin
    if (admin === undefined || admin.closed) throw new ConnectionError(`${this.id}: admin queue is down`)
    const out = [await this.#authenticate(admin, 0)]
    for (const q of this.#io) out.push(await this.#authenticate(q, q.qid))
    return out
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
  async #propGet(ofst: number, size: 4 | 8): Promise<bigint> {
    const c = await this.adminCommand(makePropertyGetSqe({ cid: 0, size, ofst }))
    return BigInt(c.cqe.dw0 >>> 0) | (size === 8 ? BigInt(c.cqe.dw1 >>> 0) << 32n : 0n)
  }
  async #propSet(ofst: number, size: 4 | 8, value: bigint): Promise<void> {
    await this.adminCommand(makePropertySetSqe({ cid: 0, size, ofst, value }))
  }
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.setTimeout(resolve, ms))
  }

  /** Read a log page in pieces of at most `chunk` bytes. */
  async getLogPage(lid: number, nsid: number, length: number, offset = 0, opts: { lsp?: number; rae?: boolean; chunk?: number } = {}): Promise<Buffer> {
    const chunk = opts.chunk ?? 65536
    const out = Buffer.alloc(length)
    let off = 0
    while (off < length) {
      const len = Math.min(chunk, length - off)
      const c = await this.adminCommand(makeGetLogPageSqe({ cid: 0, lid, nsid, length: len, offset: offset + off, ...(opts.lsp !== undefined ? { lsp: opts.lsp } : {}), ...(opts.rae !== undefined ? { rae: opts.rae } : {}) }), { readLength: len })
      ;(c.data as Buffer).copy(out, off)
      off += len
    }
    return out
  }

  // ------------------------------------------------------------------------------------------
  // Keep-alive, AER, ANA

  #startKeepAlive(gen: number): void {
    const kato = this.options.kato
    if (kato === 0) return
    const tick = (): void => {
      this.#kaTimer = undefined
      if (gen !== this.#generation || this.state !== 'live') return
      this.counters.keepAlives++
      // A KA that times out (adminTimeout is replaced by kato here) triggers error recovery (9.2).
      const admin = this.#admin
      if (admin === undefined) return
      admin.submit({ sqe: makeKeepAliveSqe({ cid: 0 }), timeoutMs: kato }).then(
        () => undefined,
        () => undefined,
      )
      this.#kaTimer = this.#clock.setTimeout(tick, Math.max(1, Math.floor(kato / 2)))
      this.#kaTimer.unref?.()
    }
    this.#kaTimer = this.#clock.setTimeout(tick, Math.max(1, Math.floor(kato / 2)))
    this.#kaTimer.unref?.()
  }

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
    if (this.#anaReading !== undefined) {
      this.#anaReadPending = true
      return
    }
    if (this.state !== 'live') return
    this.#anaReading = this.#readAnaLog()
      .catch((err: unknown) => this.#log?.warn({ err }, 'ANA log read failed'))
      .finally(() => {
        this.#anaReading = undefined
        if (this.#anaReadPending) {
          this.#anaReadPending = false
          this.requestAnaRead()
        }
      })
  }

  async #readAnaLog(): Promise<void> {
    const id = this.#identify
    if (id === undefined || (id.cmic & CMIC_ANA) === 0) return
    this.counters.anaReads++
    // 16 + NANAGRPID × 32 + MNAN × 4 bytes (wire reference 9.1 step 12), rounded to dwords.
    const size = Math.ceil((16 + id.nanagrpid * 32 + Math.max(id.mnan, id.nn) * 4) / 4) * 4
    const buf = await this.getLogPage(LogPageId.ANA, NSID_ALL, Math.min(size, 1 << 20))
    const log = decodeAnaLog(buf, id.anagrpmax > 0 ? { anagrpmax: id.anagrpmax } : {})
    this.#anaLog = log
    this.#anaStates = new Map(log.groups.map((g) => [g.grpid, g.state]))
    // ANATT: a group in change for longer than 2 × ANATT resets the controller (anchors 3.3).
    const inChange = log.groups.some((g) => g.state === AnaState.CHANGE)
    if (inChange && this.#anattTimer === undefined) {
      const ms = 2 * Math.max(1, id.anatt) * 1000
      const gen = this.#generation
      this.#anattTimer = this.#clock.setTimeout(() => {
        this.#anattTimer = undefined
        if (gen === this.#generation) this.reset('ANATT timeout')
      }, ms)
      this.#anattTimer.unref?.()
    } else if (!inChange && this.#anattTimer !== undefined) {
      this.#clock.clearTimeout(this.#anattTimer)
      this.#anattTimer = undefined
    }
    this.options.owner.anaUpdated(this)
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
    const nsids = await this.#activeNsids()
    const found: ScannedNamespace[] = []
    for (const nsid of nsids) {
      let ids: NsIds = {}
      const d = await this.#submitAdmin(makeIdentifySqe({ cid: 0, cns: Cns.NS_ID_DESC_LIST, nsid }), { readLength: 4096 })
      if (d.cqe.status === 0) {
        const n = nsIdentifiersOf(decodeNsIdDescriptors(d.data as Buffer))
        const e = hex(n.eui64)
        const g = hex(n.nguid)
        const uh = hex(n.uuid)
        const u = uh === undefined ? undefined : `${uh.slice(0, 8)}-${uh.slice(8, 12)}-${uh.slice(12, 16)}-${uh.slice(16, 20)}-${uh.slice(20)}`
        ids = { ...(e !== undefined ? { eui64: e } : {}), ...(g !== undefined ? { nguid: g } : {}), ...(u !== undefined ? { uuid: u } : {}), ...(n.csi !== undefined ? { csi: n.csi } : {}) }
      }
      const c = await this.#submitAdmin(makeIdentifySqe({ cid: 0, cns: Cns.NAMESPACE, nsid }), { readLength: 4096 })
      if (c.cqe.status !== 0) continue
      const ns = decodeIdentifyNamespace(c.data as Buffer)
      if (ns.ncap === 0n) continue
      const blockSize = namespaceBlockSize(ns)
      if (blockSize === undefined) continue
      found.push({ nsid, ids, blockSize, nsze: ns.nsze, anagrpid: ns.anagrpid, shared: (ns.nmic & 1) !== 0 })
    }
    if (this.state !== 'live') return
    this.options.owner.namespacesScanned(this, found)
  }

  /**
   * The Active Namespace ID list, page by page. A page lists NSIDs above the one in the command in
   * increasing order (NVMe Base 2.0, CNS 02h), and no valid NSID is above NN (Identify Controller),
   * so a page that goes backwards or past NN, or more NSIDs than max(NN, MNAN), ends the walk: a
   * target answering every page with a full one cannot make the host loop.
   */
  async #activeNsids(): Promise<number[]> {
    const id = this.#identify
    const nn = id?.nn ?? 0
    const limit = Math.min(Math.max(nn, id?.mnan ?? 0), MAX_SCANNED_NAMESPACES)
    const nsids: number[] = []
    let after = 0
    while (nsids.length < limit) {
      const c = await this.adminCommand(makeIdentifySqe({ cid: 0, cns: Cns.ACTIVE_NS_LIST, nsid: after }), { readLength: 4096 })
      const list = decodeNsidList(c.data as Buffer)
      for (const nsid of list) {
        if (nsid <= after || nsid > nn || nsids.length >= limit) {
          this.#log?.warn({ nsid, after, nn, limit }, 'Active Namespace ID list out of order or beyond NN: scan stops there')
          return nsids
        }
        nsids.push(nsid)
        after = nsid
      }
      if (list.length < NSID_LIST_MAX) break
    }
    return nsids
  }

  // ------------------------------------------------------------------------------------------
  // I/O (PathBackend)

  async executeIo(nsid: number, io: HostIo): Promise<IoResult> {
    if (this.state !== 'live' || this.#io.length === 0) return { status: NvmeStatus.HOST_PATH_ERROR }
    const q = this.#io[this.#ioNext++ % this.#io.length] as QueuePair
    let sqe: Sqe
    let data: Buffer | undefined
    let readLength: number | undefined
    switch (io.op) {
      case 'read':
        sqe = makeSqe({ opc: IoOpcode.READ, nsid, ...rwDwords({ slba: io.slba, nlb: io.nlb - 1 }) })
        readLength = io.length
        break
      case 'write':
        sqe = makeSqe({ opc: IoOpcode.WRITE, nsid, ...rwDwords({ slba: io.slba, nlb: io.nlb - 1 }) })
        data = io.data
        break
      case 'write-zeroes':
        sqe = makeSqe({ opc: IoOpcode.WRITE_ZEROES, nsid, ...rwDwords({ slba: io.slba, nlb: io.nlb - 1 }) })
        break
      case 'flush':
        sqe = makeSqe({ opc: IoOpcode.FLUSH, nsid })
        break
      case 'discard': {
        // Dataset Management, one range, AD (CDW11 bit 2): range = CATTR(4) NLB(4) SLBA(8).
        sqe = makeSqe({ opc: IoOpcode.DATASET_MANAGEMENT, nsid, cdw10: 0, cdw11: DSM_AD })
        data = encodeDsmRanges([{ cattr: 0, nlb: io.nlb, slba: io.slba }])
        break
      }
    }
    this.#active++
    try {
      const c = await q.submit({ sqe, timeoutMs: this.options.ioTimeoutMs, ...(data !== undefined ? { data } : {}), ...(readLength !== undefined ? { readLength } : {}) })
      return c.cqe.status === 0 && c.data !== undefined ? { status: 0, data: c.data } : { status: c.cqe.status, cid: c.cqe.cid, qid: q.qid }
    } catch {
      // The queue went down under the command: a host-detected path error, so multipath fails it
      // over (wire reference 8.2: 0x370 on send failure, 0x371 when cancelled by teardown).
      return { status: this.state === 'live' ? NvmeStatus.HOST_PATH_ERROR : NvmeStatus.HOST_ABORTED_CMD }
    } finally {
      this.#active--
    }
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
    for (const t of [this.#kaTimer, this.#anattTimer]) if (t !== undefined) this.#clock.clearTimeout(t)
    this.#kaTimer = undefined
    this.#anattTimer = undefined
    const io = this.#io
    this.#io = []
    for (const q of io) q.close(reason)
    this.#admin?.close(reason)
    this.#admin = undefined
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
    for (const t of [this.#kaTimer, this.#anattTimer]) if (t !== undefined) this.#clock.clearTimeout(t)
    this.#kaTimer = undefined
    this.#anattTimer = undefined
    const io = this.#io
    this.#io = []
    for (const q of io) q.close(new ConnectionError(`${this.id}: disconnecting`))
    if (wasLive && this.#admin !== undefined && !this.#admin.closed) {
      try {
        const cc = Number(await this.#propGet(Property.CC, 4))
        await this.#propSet(Property.CC, 4, BigInt(((cc & ~(0x3 << 14)) | (CC_SHN_NORMAL << 14)) >>> 0))
        const by = this.#clock.now() + (options.shutdownTimeoutMs ?? 5000)
        for (;;) {
          const csts = decodeCsts(Number(await this.#propGet(Property.CSTS, 4)))
          if (csts.shst === CSTS_SHST_COMPLETE || this.#clock.now() > by) break
          await this.#sleep(2)
        }
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
      ana: [...this.#anaStates.entries()].map(([grpid, state]) => ({ grpid, state })),
      ...this.counters,
    }
  }
}
