/**
 * An NVM subsystem: namespaces, allowed hosts, ANA groups with a state per port x group, and the
 * controllers currently associated. The namespace table is a {@link NamespaceMap} over the namespace
 * stores: immutable snapshots swapped whole with a generation, references taken in the same step as
 * the lookup, removal waiting for in-flight users, and the Changed Namespace List of every live
 * controller (started by `attachController`, dropped by `detachController`). Every namespace change
 * is recorded there and announced with the NS-attribute AEN
 * (NVMe Base 2.0 section 5.2 / 5.16.1.5; issue 3: every change, so the map records every change).
 */
import type { Logger } from 'pino'
import { InvalidArgumentError, InvalidStateError } from '../../lib/errors.js'
import { NamespaceMap, type NamespaceChange } from '../../lib/namespace-map.js'
import { ANA_STATE_BY_NAME, anaStateName, type AnaStateName } from '../../lib/nvme/log-ana.js'
import { AnaModel, anaStateToStatus } from '../../lib/ana.js'
import type { TargetNamespace, TargetNamespaceInit, TargetNamespaceRef } from './namespace.js'
import type { NamespaceStore } from './namespace-store.js'
import { bytesToUuid } from '../../lib/nvme/uuid.js'
import { AEN, type Controller } from './controller.js'

/** ANA state → status of I/O on that path (nvmet_check_ana_state; wire spec 8.1). */
export function anaIoStatus(state: number): number {
  return anaStateToStatus(state) ?? 0
}

export interface SubsystemOptions {
  nqn: string
  serial: string
  model: string
  firmware: string
  allowAnyHost: boolean
  hosts: string[]
  anaGroups: number[]
  maxIoQueues: number
  /** Namespaces this subsystem may hold (limits.namespacesPerSubsystem); default unbounded. */
  maxNamespaces?: number
  /** Port ids the ANA model starts with. */
  portIds: number[]
  logger: Logger
}

export interface NamespaceStatus {
  nsid: number
  enabled: boolean
  blocks: string
  blockSize: number
  sizeBytes: number
  uuid: string
  nguid: string
  anaGroup: number
  store: 'memory' | 'file'
  inflight: number
}

export class Subsystem {
  readonly nqn: string
  readonly serial: string
  readonly model: string
  readonly firmware: string
  allowAnyHost: boolean
  readonly hosts: Set<string>
  /**
   * I/O queues a controller may have (the Number of Queues answer, Base 2.0 5.27.1.5, and the
   * highest Connect QID). Changed at run time by setMaxIoQueues; a controller keeps the value it
   * was created with.
   */
  maxIoQueues: number
  readonly maxNamespaces: number
  readonly ana: AnaModel
  readonly logger: Logger
  /** The namespace table, references and Changed Namespace Lists (keyed by cntlid). */
  readonly #ns: NamespaceMap<NamespaceStore>
  /**
   * The live controllers; changed only by attach/detach, together with their changed-list
   * subscription, so a controller records every change from its publication to its teardown.
   */
  readonly #controllers = new Map<number, Controller>()

  constructor(o: SubsystemOptions) {
    this.nqn = o.nqn
    this.serial = o.serial
    this.model = o.model
    this.firmware = o.firmware
    this.allowAnyHost = o.allowAnyHost
    this.hosts = new Set(o.hosts)
    this.maxIoQueues = o.maxIoQueues
    this.maxNamespaces = o.maxNamespaces ?? Infinity
    this.logger = o.logger
    this.ana = new AnaModel({ groups: o.anaGroups, ports: o.portIds })
    this.#ns = new NamespaceMap<NamespaceStore>({
      // Issue 3: every change (UUID/NGUID, group moves and disabled namespaces too) is recorded and
      // announced; duplicate ids are served as configured (nothing here ever refused them).
      recordChanges: 'every-change',
      uniqueIds: false,
      onChange: (c) => this.#announce(c),
    })
  }

  /** Namespace map generation: strictly increases with every published namespace change. */
  get generation(): number {
    return this.#ns.generation
  }

  /** The live controllers by cntlid (read-only: use attach/detach). */
  get controllers(): ReadonlyMap<number, Controller> {
    return this.#controllers
  }

  hostAllowed(hostnqn: string): boolean {
    return this.allowAnyHost || this.hosts.has(hostnqn)
  }

  // ---- namespaces -----------------------------------------------------------------------------

  /**
   * Lookup and reference in one step (the map's `acquire`), disabled namespaces included (I/O answers
   * them with a path error). The holder calls `release()` once it no longer uses the store.
   */
  acquire(nsid: number): TargetNamespaceRef | undefined {
    return this.#ns.acquire(nsid, { includeDisabled: true })
  }
  /** The current version, without a reference (reporting, Identify). */
  get(nsid: number): TargetNamespace | undefined {
    return this.#ns.get(nsid)
  }
  /**
   * References held on any version of namespace `nsid` (commands in flight, `readNamespace` calls);
   * 0 when the NSID is absent. A removal waits until this is 0 before closing the store.
   */
  inflight(nsid: number): number {
    const e = this.#ns.get(nsid)
    return e === undefined ? 0 : this.#ns.instanceRefCount(e)
  }
  /** Active (enabled) NSIDs, ascending. Disabled namespaces are not reported as active (nvmet). */
  activeNsids(): number[] {
    return this.#ns.activeNsids()
  }
  /** Enabled NSIDs by ANA group (the ANA log page). */
  nsidsByAnaGroup(): Map<number, number[]> {
    return this.#ns.nsidsByAnaGroup()
  }
  /** Every namespace (current versions), ascending by NSID. */
  namespaces(): TargetNamespace[] {
    return this.#ns.entries()
  }

  /** Add a fully initialised namespace (store open; the map publishes it only once its entry is built). */
  addNamespace(init: TargetNamespaceInit): void {
    if (this.#ns.get(init.nsid) !== undefined) throw new InvalidArgumentError('nsid', `namespace ${init.nsid} already exists in ${this.nqn}`)
    if (this.namespaces().length >= this.maxNamespaces) throw new InvalidArgumentError('nsid', `${this.nqn} already holds ${this.maxNamespaces} namespaces (limits.namespacesPerSubsystem)`)
    const grpid = init.anagrpid ?? 1
    if (!this.ana.hasGroup(grpid)) this.ana.addGroup(grpid)
    this.#ns.add(init)
  }

  /**
   * Unpublish (no new reference can be taken from here on: before any await), then wait for
   * in-flight commands on every version of the namespace and close the store.
   */
  async removeNamespace(nsid: number): Promise<void> {
    this.#required(nsid)
    const removed = this.#ns.remove(nsid).before!
    await this.#ns.whenReleased(removed)
    await removed.store.close()
  }

  setEnabled(nsid: number, enabled: boolean): void {
    this.#required(nsid)
    if (enabled) this.#ns.enable(nsid)
    else this.#ns.disable(nsid)
  }

  /** UUID/NGUID may change only while the namespace is disabled (the map enforces the nvmet rule). */
  setIds(nsid: number, ids: { uuid?: Buffer; nguid?: Buffer }): void {
    this.#required(nsid)
    if (ids.uuid !== undefined) this.#ns.setUuid(nsid, ids.uuid)
    if (ids.nguid !== undefined) this.#ns.setNguid(nsid, ids.nguid)
  }

  setGroup(nsid: number, grpid: number): void {
    const from = this.#required(nsid).anagrpid
    if (from === grpid) return
    if (!this.ana.hasGroup(grpid)) this.ana.addGroup(grpid)
    this.#ns.setAnaGroup(nsid, grpid)
    // Moving a namespace between groups changes the ANA log of every port (nvmet ana_grpid store).
    this.ana.bumpChangeCount(from, grpid)
    for (const c of this.#controllers.values()) c.raiseAen(AEN.ANA_CHANGE)
  }

  async resize(nsid: number, blocks: bigint): Promise<void> {
    const e = this.#required(nsid)
    if (blocks <= 0n) throw new InvalidArgumentError('blocks', 'must be positive')
    const bytes = Number(blocks) * e.blockSize
    if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError('blocks', 'too large')
    // Shrinking a file: no command may still be using the range that goes away.
    if (bytes < e.store.size && e.store.kind === 'file') await this.#ns.whenReleased(e)
    await e.store.resize(bytes)
    // The NSID may have been removed (and even re-added as another namespace) during the awaits.
    if (this.#ns.get(nsid)?.instance !== e.instance) throw new InvalidArgumentError('nsid', `namespace ${nsid} of ${this.nqn} was removed during the resize`)
    // Published from the current version (another change may have landed during the awaits); a
    // resize to the same size publishes nothing but is still announced, as every resize request is.
    if (this.#ns.resize(nsid, blocks) === undefined) this.#announceUnchanged(nsid)
  }

  #required(nsid: number): TargetNamespace {
    const e = this.#ns.get(nsid)
    if (e === undefined) throw new InvalidArgumentError('nsid', `no namespace ${nsid} in ${this.nqn}`)
    return e
  }

  async flush(): Promise<void> {
    await Promise.all(this.#ns.entries().map((e) => e.store.flush()))
  }

  // ---- Changed Namespace Lists and the NS-attribute AEN ----------------------------------------

  /**
   * Publish a fully initialised controller and start its Changed Namespace List in the same step, so
   * it records every change from now on and a reused cntlid starts with an empty list (the previous
   * holder's list went with its `detachController`).
   */
  attachController(ctrl: Controller): void {
    if (ctrl.discovery || ctrl.subnqn !== this.nqn) throw new InvalidArgumentError('ctrl', `controller ${ctrl.cntlid} does not belong to ${this.nqn}`)
    if (ctrl.deleted) throw new InvalidStateError(`controller ${ctrl.cntlid} is already deleted`)
    if (this.#controllers.has(ctrl.cntlid)) throw new InvalidStateError(`cntlid ${ctrl.cntlid} is already live in ${this.nqn}`)
    this.#controllers.set(ctrl.cntlid, ctrl)
    this.#ns.subscribe(ctrl.cntlid)
  }
  /** Unpublish a controller being torn down and drop its list (nothing if `ctrl` is not the live holder of its cntlid). */
  detachController(ctrl: Controller): void {
    if (this.#controllers.get(ctrl.cntlid) !== ctrl) return
    this.#controllers.delete(ctrl.cntlid)
    this.#ns.unsubscribe(ctrl.cntlid)
  }

  /** A published change was recorded in the changed lists: raise the NS-attribute AEN. */
  #announce(c: NamespaceChange<NamespaceStore>): void {
    if (!c.nsChanged) return
    for (const ctrl of this.#controllers.values()) ctrl.raiseAen(AEN.NS_CHANGED)
  }
  #announceUnchanged(nsid: number): void {
    this.#ns.noteChanged(nsid)
    for (const ctrl of this.#controllers.values()) ctrl.raiseAen(AEN.NS_CHANGED)
  }

  /**
   * Record `nsid` in one controller's Changed Namespace List and raise the NS-attribute AEN (the
   * `raiseAen` API's injected notice). Returns false for a controller not live in this subsystem.
   */
  noteNsChanged(ctrl: Controller, nsid: number): boolean {
    // The identity check: a stale controller object must not touch the list of a reused cntlid.
    if (this.#controllers.get(ctrl.cntlid) !== ctrl) return false
    this.#ns.noteChanged(nsid, ctrl.cntlid)
    ctrl.raiseAen(AEN.NS_CHANGED)
    return true
  }

  /** The Changed Namespace List of `ctrl` (ascending NSIDs, or [0xFFFFFFFF] after overflow); `clear` on RAE=0. */
  changedNsList(ctrl: Controller, clear: boolean): number[] {
    if (this.#controllers.get(ctrl.cntlid) !== ctrl) return []
    return clear ? this.#ns.takeChangedList(ctrl.cntlid) : this.#ns.peekChangedList(ctrl.cntlid)
  }

  // ---- ANA ------------------------------------------------------------------------------------

  anaState(portId: number, grpid: number): number {
    return this.ana.getState(portId, grpid)
  }
  /** Set a state; raises the ANA-change AEN on the controllers of that port. */
  setAnaState(portId: number, grpid: number, state: AnaStateName): void {
    if (!this.ana.hasGroup(grpid)) this.ana.addGroup(grpid)
    if (!this.ana.setState(portId, grpid, ANA_STATE_BY_NAME[state])) return
    for (const c of this.#controllers.values()) if (c.portId === portId) c.raiseAen(AEN.ANA_CHANGE)
  }
  anaStates(portIds: number[]): { portId: number; grpid: number; state: string }[] {
    const out: { portId: number; grpid: number; state: string }[] = []
    for (const portId of portIds)
      for (const grpid of this.ana.groups()) out.push({ portId, grpid, state: anaStateName(this.anaState(portId, grpid)) })
    return out
  }

  namespaceStatus(): NamespaceStatus[] {
    return this.#ns.entries().map((e) => ({
      nsid: e.nsid,
      enabled: e.enabled,
      blocks: e.blocks.toString(),
      blockSize: e.blockSize,
      sizeBytes: Number(e.blocks) * e.blockSize,
      uuid: bytesToUuid(e.uuid),
      nguid: e.nguid.toString('hex'),
      anaGroup: e.anagrpid,
      store: e.store.kind,
      inflight: this.#ns.instanceRefCount(e),
    }))
  }
}

export function parseUuid(s: string, field: string): Buffer {
  const h = s.replace(/-/g, '')
  if (!/^[0-9a-fA-F]{32}$/.test(h)) throw new InvalidArgumentError(field, 'must be a UUID (32 hex digits, dashes optional)')
  return Buffer.from(h, 'hex')
}
