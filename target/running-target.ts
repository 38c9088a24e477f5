/**
 * The `TargetHandle` of a running target (target/target-handle.ts is the contract): every run-time
 * change (ANA states, namespaces, ports, subsystems, host keys, referrals, controllers, AENs) checked
 * at this edge and applied to the core and the TCP transport, plus close and status.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { InvalidArgumentError } from '../lib/errors.js'
import { assertNqnName } from '../lib/nvme/nqn.js'
import {
  ANA_STATE_NAMES,
  MAX_IO_QUEUES_LIMIT,
  parseNamespaceConfig,
  parseReferral,
  parseTargetConfig,
  type NamespaceConfig,
  type PortConfig,
  type ReferralConfig,
  type ResolvedConfig,
  type SubsystemConfig,
  type TargetConfig,
} from './config.js'
import { AEN } from './core/controller.js'
import { exportConfig, type ExportConfigOptions, type NvmetcliDocument } from './config-export.js'
import type { HostAuthConfig } from './config-auth.js'
import type { TargetHooks, HookSlot } from './core/hooks.js'
import { parseUuid, type Subsystem } from './core/subsystem.js'
import { namespaceBytes } from './core/namespace.js'
import type { TargetAuthCounters } from './cmd/auth.js'
import type { TargetCore, ControllerEvent as CoreControllerEvent, PortInfo, QueueEvent } from './core/target-core.js'
import { withEventStateNames, withStateNames, type TargetStatus } from './state-names.js'
import type { TcpTransport, BoundPort, ConnectionStats } from './transport/tcp.js'
import type { ControllerFilter, RaiseAenOptions, SetAnaStateOptions, TargetHandle } from './target-handle.js'

export class Target extends EventEmitter implements TargetHandle {
  readonly core: TargetCore
  readonly transport: TcpTransport
  readonly #hooks: HookSlot
  readonly #logger: Logger
  #closed: Promise<void> | undefined

  constructor(core: TargetCore, transport: TcpTransport, hooks: HookSlot, logger: Logger) {
    super()
    this.core = core
    this.transport = transport
    this.#hooks = hooks
    this.#logger = logger
    // The status outputs' lower-case state names are added here, at the edge (docs/design.md "State names").
    core.on('controller', (e: CoreControllerEvent) => this.emit('controller', withEventStateNames(e)))
    core.on('queue', (e: QueueEvent) => this.emit('queue', e))
  }

  connectionStats(): ConnectionStats[] {
    return this.transport.connectionStats()
  }

  get ports(): BoundPort[] {
    return this.transport.ports()
  }

  async close(): Promise<void> {
    this.#closed ??= (async () => {
      this.core.markClosing()
      await this.transport.close()
      for (const c of this.core.allControllers()) c.delete('target closed')
      for (const s of this.core.subsystems.values()) {
        await s.flush().catch(() => undefined)
        for (const ns of s.namespaces()) await ns.store.close().catch(() => undefined)
      }
      this.#logger.info('target closed')
    })()
    return this.#closed
  }

  status(): TargetStatus {
    return withStateNames(this.core.status())
  }
  requestReauthentication(filter: ControllerFilter = {}): number {
    let n = 0
    for (const c of this.#matching(filter)) n += this.core.auth.requestReauthentication(c.queues.values())
    return n
  }
  authCounters(): TargetAuthCounters {
    const c = this.core.auth.counters
    return { ...c, failuresByReason: { ...c.failuresByReason } }
  }

  exportConfig(options: ExportConfigOptions = {}): TargetConfig | NvmetcliDocument {
    return exportConfig(this.core, options)
  }

  #subsys(subnqn: string): Subsystem {
    // A name nvmet would refuse is named as such, not merely "not found".
    assertNqnName(subnqn, 'subnqn')
    const s = this.core.subsystems.get(subnqn)
    if (s === undefined) throw new InvalidArgumentError('subnqn', `no subsystem ${subnqn}`)
    return s
  }

  setAnaState(o: SetAnaStateOptions): void {
    if (!ANA_STATE_NAMES.includes(o.state)) throw new InvalidArgumentError('state', `must be one of ${ANA_STATE_NAMES.join(', ')}`)
    if (this.core.port(o.portId) === undefined) throw new InvalidArgumentError('portId', `no port ${o.portId}`)
    if (!Number.isInteger(o.grpid) || o.grpid < 1 || o.grpid > 128) throw new InvalidArgumentError('grpid', 'must be an integer in [1, 128]')
    const targets = o.subnqn !== undefined ? [this.#subsys(o.subnqn)] : [...this.core.subsystems.values()].filter((s) => s.ana.hasGroup(o.grpid))
    if (targets.length === 0) throw new InvalidArgumentError('grpid', `no subsystem has ANA group ${o.grpid}`)
    for (const s of targets) s.setAnaState(o.portId, o.grpid, o.state)
    this.#logger.info({ portId: o.portId, grpid: o.grpid, state: o.state }, 'ANA state changed')
  }

  async addNamespace(subnqn: string, ns: NamespaceConfig): Promise<void> {
    const s = this.#subsys(subnqn)
    const resolved = parseNamespaceConfig(ns, 'namespace')
    if (s.get(resolved.nsid) !== undefined) throw new InvalidArgumentError('nsid', `namespace ${resolved.nsid} already exists in ${subnqn}`)
    // Fully initialised (store open) before it is published.
    s.addNamespace(await this.core.buildNamespace(resolved))
    for (const p of this.core.ports.keys()) if (!s.ana.hasPort(p)) s.ana.addPort(p)
  }
  async removeNamespace(subnqn: string, nsid: number): Promise<void> {
    await this.#subsys(subnqn).removeNamespace(nsid)
  }
  enableNamespace(subnqn: string, nsid: number): void {
    this.#subsys(subnqn).setEnabled(nsid, true)
  }
  disableNamespace(subnqn: string, nsid: number): void {
    this.#subsys(subnqn).setEnabled(nsid, false)
  }
  setNamespaceUuid(subnqn: string, nsid: number, uuid: string): void {
    this.#subsys(subnqn).setIds(nsid, { uuid: parseUuid(uuid, 'uuid') })
  }
  setNamespaceNguid(subnqn: string, nsid: number, nguid: string): void {
    this.#subsys(subnqn).setIds(nsid, { nguid: parseUuid(nguid, 'nguid') })
  }
  setNamespaceGroup(subnqn: string, nsid: number, grpid: number): void {
    if (!Number.isInteger(grpid) || grpid < 1 || grpid > 128) throw new InvalidArgumentError('grpid', 'must be an integer in [1, 128]')
    this.#subsys(subnqn).setGroup(nsid, grpid)
  }
  async resizeNamespace(subnqn: string, nsid: number, blocks: number | bigint): Promise<void> {
    await this.#subsys(subnqn).resize(nsid, BigInt(blocks))
  }
  async readNamespace(subnqn: string, nsid: number, offsetBytes: number, length: number): Promise<Buffer> {
    // Referenced like a command, so a concurrent removal waits for this read before closing the store.
    const ref = this.#subsys(subnqn).acquire(nsid)
    if (ref === undefined) throw new InvalidArgumentError('nsid', `no namespace ${nsid} in ${subnqn}`)
    try {
      const size = namespaceBytes(ref.entry)
      if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0 || !Number.isSafeInteger(length) || length < 0 || offsetBytes + length > size)
        throw new InvalidArgumentError('offsetBytes', `range [${offsetBytes}, +${length}) is outside the namespace (${size} bytes)`)
      return await ref.entry.store.read(offsetBytes, length)
    } finally {
      ref.release()
    }
  }

  async addPort(port: PortConfig): Promise<BoundPort> {
    // Validated against the subsystems that exist (their names only), so `subsystems: [...]` can name them.
    const cfg = parseTargetConfig({ ports: [port], subsystems: [...this.core.subsystems.keys()].map((nqn) => ({ nqn })) }).ports[0]!
    if (this.core.port(cfg.id) !== undefined) throw new InvalidArgumentError('id', `port ${cfg.id} exists`)
    if (cfg.subsystems !== undefined) for (const s of cfg.subsystems) this.#subsys(s)
    const info = portInfo(cfg)
    const bound = await this.transport.addPort(info)
    this.core.addPortInfo(info)
    for (const s of this.core.subsystems.values()) {
      if (!s.ana.hasPort(info.id)) s.ana.addPort(info.id)
      for (const [g, st] of cfg.anaStates) if (s.ana.hasGroup(g)) s.setAnaState(info.id, g, st)
    }
    return bound
  }
  async removePort(portId: number): Promise<void> {
    if (this.core.port(portId) === undefined) throw new InvalidArgumentError('portId', `no port ${portId}`)
    this.core.removePortInfo(portId)
    await this.transport.removePort(portId)
    for (const c of this.core.allControllers()) if (c.portId === portId) c.delete('port removed')
  }
  async addSubsystem(sc: SubsystemConfig): Promise<void> {
    const resolved = parseTargetConfig({ ports: [], subsystems: [sc] }).subsystems[0]!
    const s = await this.core.addSubsystem(resolved)
    for (const p of this.core.ports.keys()) if (!s.ana.hasPort(p)) s.ana.addPort(p)
  }
  async removeSubsystem(subnqn: string): Promise<void> {
    const s = this.#subsys(subnqn)
    // Unpublished first (no new Connect finds it), then its controllers and stores go.
    this.core.subsystems.delete(subnqn)
    // Its links go too: a new subsystem of that name is exposed only where it is linked again.
    for (const p of this.core.ports.values()) p.subsystems?.delete(subnqn)
    for (const c of [...s.controllers.values()]) c.delete('subsystem removed')
    for (const ns of s.namespaces()) await s.removeNamespace(ns.nsid).catch(() => undefined)
    this.core.discovery.changed()
  }
  setSubsystemHost(subnqn: string, hostnqn: string, allowed: boolean): void {
    const s = this.#subsys(subnqn)
    if (typeof hostnqn !== 'string' || hostnqn === '') throw new InvalidArgumentError('hostnqn', 'must be a non-empty host NQN')
    if (allowed) {
      s.hosts.add(hostnqn)
      s.allowAnyHost = false
    } else s.hosts.delete(hostnqn)
    this.core.discovery.changed()
  }
  setPortSubsystem(portId: number, subnqn: string, exposed: boolean): boolean {
    const p = this.core.port(portId)
    if (p === undefined) throw new InvalidArgumentError('port', `no port ${portId}`)
    this.#subsys(subnqn)
    if (exposed) {
      if (this.core.exposed(portId, subnqn)) return false
      p.subsystems!.add(subnqn)
    } else {
      if (!this.core.exposed(portId, subnqn)) return false
      p.subsystems = p.subsystems ?? new Set(this.core.subsystems.keys())
      p.subsystems.delete(subnqn)
      // nvmet_port_subsys_drop_link: the subsystem's controllers on this port go with the link.
      for (const c of this.#matching({ subnqn, portId })) c.delete('subsystem unlinked from the port')
    }
    // nvmet_port_disc_changed: the discovery log changed (genctr, discovery-change AEN).
    this.core.discovery.changed()
    return true
  }
  setSubsystemMaxIoQueues(subnqn: string, maxIoQueues: number): number {
    const s = this.#subsys(subnqn)
    if (!Number.isInteger(maxIoQueues) || maxIoQueues < 1 || maxIoQueues > MAX_IO_QUEUES_LIMIT) {
      throw new InvalidArgumentError('maxIoQueues', `must be an integer in [1, ${MAX_IO_QUEUES_LIMIT}], got ${String(maxIoQueues)}`)
    }
    s.maxIoQueues = maxIoQueues
    // As nvmet's attr_qid_max: a live controller's queue count cannot shrink, so every one is
    // deleted and its host reconnects with the new limit.
    const list = [...s.controllers.values()]
    for (const c of list) c.delete('maxIoQueues changed')
    return list.length
  }
  setHostAuth(hostnqn: string, auth: HostAuthConfig): void {
    if (typeof hostnqn !== 'string' || hostnqn === '') throw new InvalidArgumentError('hostnqn', 'must be a non-empty host NQN')
    // The config file's validator: names the bad field, needs dhchapKey.
    const r = parseTargetConfig({ ports: [], hosts: [{ ...auth, nqn: hostnqn }] }).hostAuth[0]
    if (r === undefined) throw new InvalidArgumentError('dhchapKey', 'is required (the host secret, DHHC-1:...)')
    this.core.auth.setHost(r)
  }
  updateHostAuth(hostnqn: string, auth: HostAuthConfig): void {
    if (typeof hostnqn !== 'string' || hostnqn === '') throw new InvalidArgumentError('hostnqn', 'must be a non-empty host NQN')
    const cur = this.core.auth.host(hostnqn)
    const base: HostAuthConfig =
      cur === undefined
        ? {}
        : { dhchapKey: cur.dhchapKey, ...(cur.dhchapCtrlKey !== undefined ? { dhchapCtrlKey: cur.dhchapCtrlKey } : {}), dhchapHashes: cur.dhchapHashes, dhchapDhgroups: cur.dhchapDhgroups }
    this.setHostAuth(hostnqn, { ...base, ...auth })
  }
  removeHostAuth(hostnqn: string): boolean {
    return this.core.auth.removeHost(hostnqn)
  }
  addReferral(r: ReferralConfig): number {
    const ref = parseReferral(r, 'referral', new Set(this.core.ports.keys()))
    return this.core.discovery.addReferral({
      portId: ref.portId,
      address: ref.address,
      port: ref.port,
      subnqn: ref.subnqn ?? this.core.discovery.nqn,
      remotePortId: ref.remotePortId ?? 0,
    }).id
  }
  removeReferral(id: number): boolean {
    return this.core.discovery.removeReferral(id)
  }

  #matching(filter: ControllerFilter): ReturnType<TargetCore['allControllers']> {
    return this.core
      .allControllers()
      .filter(
        (c) =>
          (filter.cntlid === undefined || c.cntlid === filter.cntlid) &&
          (filter.subnqn === undefined || c.subnqn === filter.subnqn) &&
          (filter.hostnqn === undefined || c.hostnqn === filter.hostnqn) &&
          (filter.portId === undefined || c.portId === filter.portId),
      )
  }
  deleteControllers(filter: ControllerFilter = {}): number {
    const list = this.#matching(filter)
    for (const c of list) c.delete('deleted by API')
    return list.length
  }
  setControllerFatal(cntlid: number): void {
    const c = this.core.controllerById(cntlid)
    if (c === undefined) throw new InvalidArgumentError('cntlid', `no controller ${cntlid}`)
    // Like nvmet_ctrl_fatal_error: CSTS.CFS, then the controller's connections are torn down.
    c.setFatal('set by API')
    setImmediate(() => c.delete('controller fatal error'))
  }
  raiseAen(o: RaiseAenOptions): number {
    const force = o.force !== false
    // Checked before any controller is touched: a Changed Namespace List entry is a u32 NSID, not 0.
    if (o.type === 'ns-changed' && o.nsid !== undefined && (!Number.isInteger(o.nsid) || o.nsid < 1 || o.nsid > 0xffffffff))
      throw new InvalidArgumentError('nsid', `must be an integer in [1, 0xFFFFFFFF], got ${String(o.nsid)}`)
    let n = 0
    if (o.type === 'discovery-change') {
      for (const c of this.core.discovery.controllers.values()) if ((o.cntlid === undefined || c.cntlid === o.cntlid) && c.raiseAen(AEN.DISC_CHANGE, force)) n++
      return n
    }
    for (const s of this.core.subsystems.values()) {
      if (o.subnqn !== undefined && s.nqn !== o.subnqn) continue
      for (const c of s.controllers.values()) {
        if (o.cntlid !== undefined && c.cntlid !== o.cntlid) continue
        if (o.type === 'ns-changed') {
          s.noteNsChanged(c, o.nsid ?? 1)
          if (c.raiseAen(AEN.NS_CHANGED, force)) n++
        } else if (c.raiseAen(AEN.ANA_CHANGE, force)) n++
      }
    }
    return n
  }
  setHooks(hooks: TargetHooks | undefined): void {
    this.#hooks.hooks = hooks
  }
}

export function portInfo(p: ResolvedConfig['ports'][number]): PortInfo {
  return {
    id: p.id,
    address: p.address,
    port: p.port,
    advertise: { address: p.advertise.address, port: p.advertise.port },
    discovery: p.discovery,
    subsystems: p.subsystems === undefined ? undefined : new Set(p.subsystems),
  }
}
