/**
 * The transport-independent heart of the target: subsystems, the discovery service, ports as the
 * core sees them, controller ids, the command dispatch (`parse`), life-cycle events and the status
 * snapshot. Transports create one {@link Queue} per connection with {@link TargetCore.createQueue}.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Clock, Random } from '../../lib/clock.js'
import { InvalidArgumentError } from '../../lib/errors.js'
import { FABRICS_OPCODE } from '../../lib/nvme/opcodes.js'
import { SQE_DPTR, SQE_OPC } from '../../lib/nvme/sqe.js'
import { CONNECT_DATA_SIZE, decodeConnectData } from '../../lib/nvme/fabrics.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import type { ResolvedConfig, ResolvedNamespace, ResolvedSubsystem } from '../config.js'
import { parseFabrics } from '../cmd/fabrics.js'
import { parseAdmin } from '../cmd/admin.js'
import { parseDiscovery } from '../cmd/discovery.js'
import { parseIo } from '../cmd/io.js'
import { TargetAuth } from '../cmd/auth.js'
import { Controller, type ControllerState, type ControllerStatus } from './controller.js'
import { DiscoveryService, type Referral } from './discovery.js'
import type { HookSlot } from './hooks.js'
import type { TargetNamespaceInit } from './namespace.js'
import { FileStore, MemoryStore, type NamespaceStore } from './namespace-store.js'
import { Queue, type QueueEnv, type QueueStatus } from './queue.js'
import type { Request } from './request.js'
import { Subsystem, parseUuid, type NamespaceStatus } from './subsystem.js'
import { randomUuid, uuidToBytes } from '../../lib/nvme/uuid.js'
import type { QueueTransport } from './transport-ops.js'

/** A port as the core sees it (the transport owns the listener). */
export interface PortInfo {
  id: number
  /** Bound address and port (port filled in after listen). */
  address: string
  port: number
  advertise: { address: string | undefined; port: number | undefined }
  discovery: boolean
  /** Subsystems exposed here; undefined = all. */
  subsystems: Set<string> | undefined
}

export interface ControllerEvent {
  type: 'created' | 'state' | 'deleted'
  cntlid: number
  subnqn: string
  hostnqn: string
  portId: number
  state: ControllerState
  from?: ControllerState
  reason?: string
}
export interface QueueEvent {
  type: 'live' | 'connected' | 'closed'
  connectionId: number
  portId: number
  qid: number | undefined
  cntlid: number | undefined
}

export interface TargetStatus {
  ports: { id: number; address: string; port: number; advertise: { address: string; port: number }; discovery: boolean; subsystems: string[] }[]
  subsystems: { nqn: string; allowAnyHost: boolean; hosts: string[]; maxIoQueues: number; namespaces: NamespaceStatus[]; anaGroups: number[]; anaChangeCount: string }[]
  controllers: ControllerStatus[]
  /** Connections not (yet) bound to a controller. */
  unboundQueues: QueueStatus[]
  ana: { subnqn: string; portId: number; grpid: number; state: string }[]
  discovery: { genctr: string; referrals: Referral[] }
}

export interface TargetCoreOptions {
  config: ResolvedConfig
  logger: Logger
  clock: Clock
  random: Random
  hooks: HookSlot
  /**
   * Store seam: wraps every namespace store as it is opened (before it is published), e.g. the
   * conformance write journal. Default: the store as opened.
   */
  wrapStore?: StoreWrapper
}

/** See {@link TargetCoreOptions.wrapStore}. */
export type StoreWrapper = (store: NamespaceStore, ns: { nsid: number; blockSize: number }) => NamespaceStore

export class TargetCore extends EventEmitter {
  readonly config: ResolvedConfig
  readonly logger: Logger
  readonly clock: Clock
  readonly random: Random
  readonly hooks: HookSlot
  readonly subsystems = new Map<string, Subsystem>()
  readonly discovery = new DiscoveryService()
  readonly ports = new Map<number, PortInfo>()
  /** Every live connection's queue (bound or not). */
  readonly queues = new Set<Queue>()
  /** DH-HMAC-CHAP state of the queues of hosts with a dhchapKey (target/cmd/auth.ts). */
  readonly auth: TargetAuth
  readonly #wrapStore: StoreWrapper | undefined
  #nextCntlid = 1
  #closing = false

  constructor(o: TargetCoreOptions) {
    super()
    this.config = o.config
    this.logger = o.logger
    this.clock = o.clock
    this.random = o.random
    this.hooks = o.hooks
    this.#wrapStore = o.wrapStore
    this.auth = new TargetAuth({ hosts: o.config.hostAuth, clock: o.clock, logger: o.logger.child({ component: 'auth' }) })
    for (const r of o.config.referrals)
      this.discovery.referrals.push({
        id: this.discovery.referrals.length + 1,
        portId: r.portId,
        address: r.address,
        port: r.port,
        subnqn: r.subnqn ?? this.discovery.nqn,
        remotePortId: r.remotePortId ?? 0,
      })
  }

  get closing(): boolean {
    return this.#closing
  }
  /** Max bytes of one data transfer: 2^MDTS x 4 KiB (CAP.MPSMIN = 0). */
  get maxTransferBytes(): number {
    // A shift, not `2 **` (Math.pow on every Read/Write parse); MDTS <= MAX_MDTS (12) keeps it in 32 bits.
    return 4096 << this.config.mdts
  }

  // ---- set-up ---------------------------------------------------------------------------------

  async addSubsystem(s: ResolvedSubsystem): Promise<Subsystem> {
    if (this.subsystems.has(s.nqn)) throw new InvalidArgumentError('nqn', `subsystem ${s.nqn} already exists`)
    const subsys = new Subsystem({
      nqn: s.nqn,
      serial: s.serial ?? this.#randomSerial(),
      model: s.model,
      firmware: s.firmware,
      allowAnyHost: s.allowAnyHost,
      hosts: s.hosts,
      anaGroups: s.anaGroups,
      maxIoQueues: s.maxIoQueues,
      maxNamespaces: this.config.limits.namespacesPerSubsystem,
      portIds: [...this.ports.keys()],
      logger: this.logger.child({ subnqn: s.nqn }),
    })
    for (const ns of s.namespaces) subsys.addNamespace(await this.buildNamespace(ns))
    for (const p of this.config.ports)
      for (const [g, st] of p.anaStates) if (subsys.ana.hasGroup(g)) subsys.setAnaState(p.id, g, st)
    this.subsystems.set(s.nqn, subsys)
    this.discovery.changed()
    return subsys
  }

  /** The map's add options for a fully initialised namespace (store opened) — published by the caller. */
  async buildNamespace(ns: ResolvedNamespace): Promise<TargetNamespaceInit> {
    let store: NamespaceStore
    if (ns.store.type === 'file') store = await FileStore.open({ path: ns.store.path, size: ns.sizeBytes })
    else store = new MemoryStore({ size: ns.sizeBytes })
    if (this.#wrapStore !== undefined) store = this.#wrapStore(store, { nsid: ns.nsid, blockSize: ns.blockSize })
    return {
      nsid: ns.nsid,
      store,
      blockSize: ns.blockSize,
      blocks: BigInt(Math.floor(ns.sizeBytes / ns.blockSize)),
      uuid: ns.uuid !== undefined ? parseUuid(ns.uuid, 'uuid') : this.randomUuid(),
      nguid: ns.nguid !== undefined ? Buffer.from(ns.nguid, 'hex') : Buffer.alloc(16),
      anagrpid: ns.anaGroup,
      enabled: ns.enabled,
    }
  }

  /** RFC 4122 version-4 UUID bytes from the injected PRNG (runs replay from a seed). */
  randomUuid(): Buffer {
    return uuidToBytes(randomUuid(this.random))
  }
  #randomSerial(): string {
    let s = ''
    for (let i = 0; i < 16; i++) s += this.random.int(16).toString(16)
    return s
  }

  addPortInfo(p: PortInfo): void {
    this.ports.set(p.id, p)
    this.discovery.changed()
  }
  removePortInfo(id: number): void {
    this.ports.delete(id)
    this.discovery.changed()
  }
  port(id: number): PortInfo | undefined {
    return this.ports.get(id)
  }
  /** Is `subnqn` exposed on port `portId`? */
  exposed(portId: number, subnqn: string): boolean {
    const p = this.ports.get(portId)
    return p !== undefined && (p.subsystems === undefined || p.subsystems.has(subnqn))
  }

  // ---- connections ----------------------------------------------------------------------------

  createQueue(transport: QueueTransport, logger: Logger): Queue {
    const env: QueueEnv = {
      clock: this.clock,
      hooks: this.hooks,
      logger,
      parse: (req) => this.parse(req),
      queueEvent: (q, type) => {
        if (type === 'closed') this.queues.delete(q)
        this.emit('queue', {
          type,
          connectionId: q.transport.connectionId,
          portId: q.transport.portId,
          qid: q.qid < 0 ? undefined : q.qid,
          cntlid: q.controller?.cntlid,
        } satisfies QueueEvent)
      },
    }
    const q = new Queue({ env, transport, logger })
    this.queues.add(q)
    return q
  }

  /** Dispatch by queue and opcode (nvmet_req_init). */
  parse(req: Request): number {
    const q = req.queue
    if (req.opc === FABRICS_OPCODE) {
      const status = parseFabrics(req, this)
      if (status === 0 && !q.connected) this.#limitConnect(req)
      return status
    }
    const ctrl = q.controller
    if (ctrl === undefined) return req.fail(NvmeStatus.INVALID_OPCODE | STATUS_DNR, SQE_OPC)
    // A queue that must authenticate runs only Fabrics commands until it has (Base 2.0 8.13; nvmet).
    const authStatus = this.auth.check(q)
    if (authStatus !== 0) return req.fail(authStatus, SQE_OPC)
    // Non-fabrics commands need CC.EN = 1 and CSTS.RDY = 1 (Base 2.0 section 3.5.1; nvmet). CSTS.CFS
    // leaves RDY set: nvmet keeps executing until its fatal work tears the queues down, so a fatal
    // controller must not answer Command Sequence Error with DNR (a host would fail the I/O).
    if (!ctrl.ready && !ctrl.sm.is('FATAL')) return req.fail(NvmeStatus.CMD_SEQ_ERROR | STATUS_DNR, SQE_OPC)
    // MDTS bounds every data transfer (Base 2.0 5.17.2.1): nothing larger is buffered or built.
    if (req.dataLength > this.maxTransferBytes) return req.fail(NvmeStatus.INVALID_FIELD | STATUS_DNR, SQE_DPTR)
    if (ctrl.discovery) return q.qid === 0 ? parseDiscovery(req, this, ctrl) : req.fail(NvmeStatus.INVALID_OPCODE | STATUS_DNR, SQE_OPC)
    const subsys = this.subsystems.get(ctrl.subnqn)
    if (subsys === undefined) return req.fail(NvmeStatus.INTERNAL_PATH_ERROR, SQE_OPC)
    return q.qid === 0 ? parseAdmin(req, this, ctrl, subsys) : parseIo(req, this, subsys)
  }

  /**
   * limits.connectionsPerHost: a Connect (admin or I/O queue) from a host NQN that already holds
   * that many connected queues fails with Controller Busy before anything is created. Wraps the
   * Connect's execute step so it sees the Connect data however it arrived (in-capsule or R2T).
   */
  #limitConnect(req: Request): void {
    const connect = req.execute
    if (connect === undefined) return
    const limit = this.config.limits.connectionsPerHost
    req.execute = (r) => {
      if (r.data !== undefined && r.data.length >= CONNECT_DATA_SIZE) {
        const hostnqn = decodeConnectData(r.data).hostnqn
        let n = 0
        for (const q of this.queues) if (q.controller?.hostnqn === hostnqn) n++
        if (n >= limit) {
          this.logger.warn({ hostnqn, limit }, 'per-host connection limit reached: Connect refused')
          return r.fail(NvmeStatus.CONNECT_CTRL_BUSY | STATUS_DNR, 0xffff)
        }
      }
      return connect(r)
    }
  }

  /** Where a Connect to `subnqn` through `portId` goes (undefined: unknown or not exposed there). */
  connectTarget(subnqn: string, portId: number): Subsystem | DiscoveryService | undefined {
    if (subnqn === this.discovery.nqn) return this.ports.get(portId)?.discovery === true ? this.discovery : undefined
    const s = this.subsystems.get(subnqn)
    return s !== undefined && this.exposed(portId, subnqn) ? s : undefined
  }

  /** A new controller (dynamic model) or undefined when no controller id is left. */
  createController(o: { target: Subsystem | DiscoveryService; hostnqn: string; hostid: Buffer; portId: number; kato: number }): Controller | undefined {
    if (this.#closing) return undefined
    // limits.controllersPerSubsystem: the Connect fails with Controller Busy, as when ids run out.
    if (o.target.controllers.size >= this.config.limits.controllersPerSubsystem) {
      this.logger.warn({ subnqn: o.target.nqn, hostnqn: o.hostnqn, limit: this.config.limits.controllersPerSubsystem }, 'controller limit reached: Connect refused')
      return undefined
    }
    const cntlid = this.#allocCntlid()
    if (cntlid === undefined) return undefined
    const target = o.target
    const discovery = target instanceof DiscoveryService
    const ctrl = new Controller({
      env: {
        clock: this.clock,
        logger: this.logger,
        maxQueueSize: this.config.maxQueueSize,
        katoRange: this.config.limits.kato,
        onDeleted: (c, reason) => {
          // Torn down: unpublished (and its Changed Namespace List dropped) before anyone hears of it.
          if (target instanceof Subsystem) target.detachController(c)
          else if (target.controllers.get(c.cntlid) === c) target.controllers.delete(c.cntlid)
          this.emit('controller', this.#ctrlEvent(c, 'deleted', { reason }))
        },
        onStateChange: (c, from, to) => {
          if (to !== 'DELETED') this.emit('controller', this.#ctrlEvent(c, 'state', { from }))
        },
        flush: () => (target instanceof Subsystem ? target.flush() : Promise.resolve()),
      },
      cntlid,
      subnqn: target.nqn,
      hostnqn: o.hostnqn,
      hostid: o.hostid,
      portId: o.portId,
      discovery,
      kato: o.kato,
      maxIoQueues: discovery ? 0 : target.maxIoQueues,
    })
    // Published only when fully initialised; a subsystem starts its Changed Namespace List with it.
    if (target instanceof Subsystem) target.attachController(ctrl)
    else target.controllers.set(cntlid, ctrl)
    return ctrl
  }
  controllerConnected(ctrl: Controller): void {
    ctrl.logger.info({ portId: ctrl.portId, kato: ctrl.kato, discovery: ctrl.discovery }, 'controller created')
    this.emit('controller', this.#ctrlEvent(ctrl, 'created'))
  }
  #ctrlEvent(c: Controller, type: ControllerEvent['type'], extra: { from?: ControllerState; reason?: string } = {}): ControllerEvent {
    return { type, cntlid: c.cntlid, subnqn: c.subnqn, hostnqn: c.hostnqn, portId: c.portId, state: c.state, ...extra }
  }
  #allocCntlid(): number | undefined {
    // Controller ids are unique across the target (so also within every subsystem), 1..0xFFEF.
    for (let i = 0; i < 0xffef; i++) {
      const id = this.#nextCntlid
      this.#nextCntlid = this.#nextCntlid >= 0xffef ? 1 : this.#nextCntlid + 1
      if (this.controllerById(id) === undefined) return id
    }
    return undefined
  }
  controllerById(cntlid: number): Controller | undefined {
    const d = this.discovery.controllers.get(cntlid)
    if (d !== undefined) return d
    for (const s of this.subsystems.values()) {
      const c = s.controllers.get(cntlid)
      if (c !== undefined) return c
    }
    return undefined
  }
  allControllers(): Controller[] {
    const out = [...this.discovery.controllers.values()]
    for (const s of this.subsystems.values()) out.push(...s.controllers.values())
    return out.sort((a, b) => a.cntlid - b.cntlid)
  }

  /** Stop accepting controllers (shutdown in progress). */
  markClosing(): void {
    this.#closing = true
  }

  status(): TargetStatus {
    const portIds = [...this.ports.keys()].sort((a, b) => a - b)
    const bound = new Set<Queue>()
    const controllers = this.allControllers().map((c) => {
      for (const q of c.queues.values()) bound.add(q)
      return c.status()
    })
    const ana: TargetStatus['ana'] = []
    for (const s of this.subsystems.values()) for (const a of s.anaStates(portIds)) ana.push({ subnqn: s.nqn, ...a })
    return {
      ports: portIds.map((id) => {
        const p = this.ports.get(id)!
        return {
          id,
          address: p.address,
          port: p.port,
          advertise: { address: p.advertise.address ?? p.address, port: p.advertise.port ?? p.port },
          discovery: p.discovery,
          subsystems: p.subsystems === undefined ? [...this.subsystems.keys()] : [...p.subsystems],
        }
      }),
      subsystems: [...this.subsystems.values()].map((s) => ({
        nqn: s.nqn,
        allowAnyHost: s.allowAnyHost,
        hosts: [...s.hosts],
        maxIoQueues: s.maxIoQueues,
        namespaces: s.namespaceStatus(),
        anaGroups: s.ana.groups(),
        anaChangeCount: s.ana.changeCount.toString(),
      })),
      controllers,
      unboundQueues: [...this.queues].filter((q) => !bound.has(q) && q.controller === undefined).map((q) => q.status()),
      ana,
      discovery: { genctr: this.discovery.genctr.toString(), referrals: [...this.discovery.referrals] },
    }
  }
}
