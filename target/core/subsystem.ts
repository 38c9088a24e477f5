/**
 * An NVM subsystem: namespaces (immutable snapshots swapped whole, so a command sees a namespace as
 * it was or as it is), allowed hosts, ANA groups with a state per port x group, and the controllers
 * currently associated. Every namespace change is recorded in the Changed Namespace List of each
 * live controller and announced with the NS-attribute AEN (NVMe Base 2.0 section 5.2 / 5.16.1.5).
 */
import type { Logger } from 'pino'
import { InvalidArgumentError, InvalidStateError } from '../../lib/errors.js'
import { ANA_STATE_VALUE, type AnaStateName, anaStateName } from '../config.js'
import { AnaModel, anaStateToStatus } from '../../lib/ana.js'
import { Namespace } from './namespace.js'
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
  readonly maxIoQueues: number
  readonly controllers = new Map<number, Controller>()
  readonly ana: AnaModel
  readonly logger: Logger
  /** Current namespace table; replaced whole on every change. */
  #namespaces: ReadonlyMap<number, Namespace> = new Map()
  #generation = 0

  constructor(o: SubsystemOptions) {
    this.nqn = o.nqn
    this.serial = o.serial
    this.model = o.model
    this.firmware = o.firmware
    this.allowAnyHost = o.allowAnyHost
    this.hosts = new Set(o.hosts)
    this.maxIoQueues = o.maxIoQueues
    this.logger = o.logger
    this.ana = new AnaModel({ groups: o.anaGroups, ports: o.portIds })
  }

  get generation(): number {
    return this.#generation
  }

  hostAllowed(hostnqn: string): boolean {
    return this.allowAnyHost || this.hosts.has(hostnqn)
  }

  // ---- namespaces -----------------------------------------------------------------------------

  /** Lookup and reference in one step (nothing can intervene): the command's view of the namespace. */
  acquire(nsid: number): Namespace | undefined {
    const ns = this.#namespaces.get(nsid)
    if (ns === undefined || !ns.backing.get()) return undefined
    return ns
  }
  get(nsid: number): Namespace | undefined {
    return this.#namespaces.get(nsid)
  }
  /** Active (enabled) NSIDs, ascending. Disabled namespaces are not reported as active (nvmet). */
  activeNsids(): number[] {
    return [...this.#namespaces.values()].filter((n) => n.enabled).map((n) => n.nsid).sort((a, b) => a - b)
  }
  namespaces(): Namespace[] {
    return [...this.#namespaces.values()].sort((a, b) => a.nsid - b.nsid)
  }

  /** Publish a new namespace table in one step. */
  #swap(mutate: (m: Map<number, Namespace>) => void): void {
    const next = new Map(this.#namespaces)
    mutate(next)
    this.#namespaces = next
    this.#generation++
  }

  /** Add a fully initialised namespace (published only now). */
  addNamespace(ns: Namespace): void {
    if (this.#namespaces.has(ns.nsid)) throw new InvalidArgumentError('nsid', `namespace ${ns.nsid} already exists in ${this.nqn}`)
    if (!this.ana.hasGroup(ns.anaGroup)) this.ana.addGroup(ns.anaGroup)
    this.#swap((m) => m.set(ns.nsid, ns))
    this.#announce(ns.nsid)
  }

  /** Unpublish, refuse new references, then wait for in-flight commands and close the store. */
  async removeNamespace(nsid: number): Promise<void> {
    const ns = this.#required(nsid)
    ns.backing.markDeleting()
    this.#swap((m) => m.delete(nsid))
    this.#announce(nsid)
    await ns.backing.drain()
    await ns.store.close()
  }

  setEnabled(nsid: number, enabled: boolean): void {
    const ns = this.#required(nsid)
    if (ns.enabled === enabled) return
    this.#replace(ns.with({ enabled }))
  }

  /** UUID/NGUID may change only while the namespace is disabled (nvmet configfs rule). */
  setIds(nsid: number, ids: { uuid?: Buffer; nguid?: Buffer }): void {
    const ns = this.#required(nsid)
    if (ns.enabled) throw new InvalidStateError(`namespace ${nsid} of ${this.nqn} must be disabled to change its UUID/NGUID`)
    const changes: { uuid?: Buffer; nguid?: Buffer } = {}
    if (ids.uuid !== undefined) changes.uuid = ids.uuid
    if (ids.nguid !== undefined) changes.nguid = ids.nguid
    this.#replace(ns.with(changes))
  }

  setGroup(nsid: number, grpid: number): void {
    const ns = this.#required(nsid)
    if (ns.anaGroup === grpid) return
    if (!this.ana.hasGroup(grpid)) this.ana.addGroup(grpid)
    this.#replace(ns.with({ anaGroup: grpid }))
    // Moving a namespace between groups changes the ANA log of every port (nvmet ana_grpid store).
    this.ana.bumpChangeCount(ns.anaGroup, grpid)
    for (const c of this.controllers.values()) c.raiseAen(AEN.ANA_CHANGE)
  }

  async resize(nsid: number, blocks: bigint): Promise<void> {
    const ns = this.#required(nsid)
    if (blocks <= 0n) throw new InvalidArgumentError('blocks', 'must be positive')
    const bytes = Number(blocks) * ns.blockSize
    if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError('blocks', 'too large')
    if (bytes < ns.store.size && ns.store.kind === 'file') await ns.backing.drain()
    await ns.store.resize(bytes)
    this.#replace(ns.with({ blocks }))
  }

  #replace(ns: Namespace): void {
    this.#swap((m) => m.set(ns.nsid, ns))
    this.#announce(ns.nsid)
  }
  #required(nsid: number): Namespace {
    const ns = this.#namespaces.get(nsid)
    if (ns === undefined) throw new InvalidArgumentError('nsid', `no namespace ${nsid} in ${this.nqn}`)
    return ns
  }
  /** Changed Namespace List + AEN on every controller of the subsystem. */
  #announce(nsid: number): void {
    for (const c of this.controllers.values()) c.nsChanged(nsid)
  }

  async flush(): Promise<void> {
    await Promise.all(this.namespaces().map((n) => n.store.flush()))
  }

  // ---- ANA ------------------------------------------------------------------------------------

  anaState(portId: number, grpid: number): number {
    return this.ana.getState(portId, grpid)
  }
  /** Set a state; raises the ANA-change AEN on the controllers of that port. */
  setAnaState(portId: number, grpid: number, state: AnaStateName): void {
    if (!this.ana.hasGroup(grpid)) this.ana.addGroup(grpid)
    if (!this.ana.setState(portId, grpid, ANA_STATE_VALUE[state])) return
    for (const c of this.controllers.values()) if (c.portId === portId) c.raiseAen(AEN.ANA_CHANGE)
  }
  anaStates(portIds: number[]): { portId: number; grpid: number; state: string }[] {
    const out: { portId: number; grpid: number; state: string }[] = []
    for (const portId of portIds)
      for (const grpid of this.ana.groups()) out.push({ portId, grpid, state: anaStateName(this.anaState(portId, grpid)) ?? 'unknown' })
    return out
  }

  namespaceStatus(): NamespaceStatus[] {
    return this.namespaces().map((n) => ({
      nsid: n.nsid,
      enabled: n.enabled,
      blocks: n.blocks.toString(),
      blockSize: n.blockSize,
      sizeBytes: n.sizeBytes,
      uuid: formatUuid(n.uuid),
      nguid: n.nguid.toString('hex'),
      anaGroup: n.anaGroup,
      store: n.store.kind,
      inflight: n.backing.inflight,
    }))
  }
}

export function formatUuid(b: Buffer): string {
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
export function parseUuid(s: string, field: string): Buffer {
  const h = s.replace(/-/g, '')
  if (!/^[0-9a-fA-F]{32}$/.test(h)) throw new InvalidArgumentError(field, 'must be a UUID (32 hex digits, dashes optional)')
  return Buffer.from(h, 'hex')
}
