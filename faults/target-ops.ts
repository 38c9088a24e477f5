/**
 * Operations on a running target that faults, scenarios and the control plane perform: ANA
 * changes, namespace changes, ports, controllers, AENs, referrals. Each one is validated, recorded
 * in the trace as a `state` event, and forwarded to the target handle. This is also the in-process
 * form of the control-plane verbs (`FaultController` exposes it).
 */
import type { Random } from '../lib/clock.js'
import { InvalidArgumentError, InvalidStateError } from '../lib/errors.js'
import { isUuid, randomUuid } from '../lib/nvme/uuid.js'
import type { TraceInput } from './trace.js'

import { ANA_STATE_BY_NAME, ANA_STATE_NAMES, parseAnaStateName, type AnaStateName } from '../lib/nvme/log-ana.js'
/** ANA state names accepted everywhere (scenario files, ctl, API): lib's table. */
export type AnaStateNameValue = AnaStateName

/** Normalise an ANA state name ("non_optimized", "Inaccessible" are accepted). */
export function normalizeAnaStateName(name: string, field = 'state'): AnaStateNameValue {
  const n = String(name).toLowerCase().replace(/_/g, '-')
  if (parseAnaStateName(n) === undefined) throw new InvalidArgumentError(field, `must be one of ${ANA_STATE_NAMES.join(', ')}, got '${name}'`)
  return n as AnaStateNameValue
}

export function anaStateValue(name: string, field = 'state'): number {
  return ANA_STATE_BY_NAME[normalizeAnaStateName(name, field)]
}

export type AenEventName = 'ns-changed' | 'ana-change' | 'discovery-change'
export const AEN_EVENTS: readonly AenEventName[] = ['ns-changed', 'ana-change', 'discovery-change']

/** Which controllers an operation applies to: the target's own filter type. */
export type { ControllerFilter } from '../target/index.js'
import type { ControllerFilter } from '../target/index.js'

export interface NamespaceAddOptions {
  nsid: number
  sizeBytes?: number
  blockSize?: number
  anagrpid?: number
  uuid?: string
  subnqn?: string
  enabled?: boolean
}

/** A host's DH-HMAC-CHAP settings (the target config's top-level `hosts` entry without its nqn). */
export interface HostAuthSettings {
  dhchapKey: string
  dhchapCtrlKey?: string
  dhchapHashes?: string[]
  dhchapDhgroups?: string[]
}

export interface PortAddOptions {
  portId: number
  address?: string
  trsvcid?: number
  /** The subsystems exposed on it; absent = every subsystem, [] = none until linked. */
  subsystems?: string[]
}

/**
 * The part of a target handle (target/index.ts `TargetHandle`) the fault engine drives. Methods
 * may return a value or a promise.
 */
export interface FaultTargetHandle {
  status(): unknown
  /** The live configuration, `format` native or nvmetcli (target/config-export.ts). */
  exportConfig?(format: string): unknown
  setAnaState(args: { portId: number; grpid: number; state: AnaStateNameValue }): unknown
  addNamespace?(opts: NamespaceAddOptions): unknown
  removeNamespace?(nsid: number, subnqn?: string): unknown
  enableNamespace?(nsid: number, subnqn?: string): unknown
  disableNamespace?(nsid: number, subnqn?: string): unknown
  setNamespaceUuid?(nsid: number, uuid: string, subnqn?: string): unknown
  setNamespaceNguid?(nsid: number, nguid: string, subnqn?: string): unknown
  setNamespaceGroup?(nsid: number, grpid: number, subnqn?: string): unknown
  resizeNamespace?(nsid: number, sizeBytes: number, subnqn?: string): unknown
  addPort?(opts: PortAddOptions): unknown
  removePort?(portId: number): unknown
  addReferral?(opts: { portId?: number; address: string; trsvcid: number }): unknown
  removeReferral?(id: number): unknown
  addSubsystem?(config: Record<string, unknown>): unknown
  removeSubsystem?(subnqn: string): unknown
  setSubsystemHost?(subnqn: string, hostnqn: string, allowed: boolean): unknown
  setSubsystemMaxIoQueues?(subnqn: string, maxIoQueues: number): unknown
  setPortSubsystem?(portId: number, subnqn: string, exposed: boolean): unknown
  updateHostAuth?(hostnqn: string, auth: Partial<HostAuthSettings>): unknown
  setHostAuth?(hostnqn: string, auth: HostAuthSettings): unknown
  removeHostAuth?(hostnqn: string): unknown
  deleteControllers?(filter?: ControllerFilter): unknown
  setControllerFatal?(cntlid: number): unknown
  raiseAen?(args: { event: AenEventName; portId?: number; nsids?: number[] }): unknown
}

/** lib's seeded v4 UUID, under the name faults exported it first. */
export { randomUuid as uuidFromRandom }

function posInt(v: number | undefined, field: string, max = 0xffffffff): number {
  if (v === undefined || !Number.isInteger(v) || v < 1 || v > max) throw new InvalidArgumentError(field, `must be an integer in [1, ${max}], got ${String(v)}`)
  return v
}

export type NamespaceOpName = 'add' | 'remove' | 'enable' | 'disable' | 'uuid' | 'nguid' | 'group' | 'resize'
export const NAMESPACE_OPS: readonly NamespaceOpName[] = ['add', 'remove', 'enable', 'disable', 'uuid', 'nguid', 'group', 'resize']

export interface NamespaceOp {
  op: NamespaceOpName | string
  nsid: number
  sizeBytes?: number
  blockSize?: number
  group?: number
  uuid?: string
  /** nguid: the new NGUID (32 hex digits, dashes allowed); empty = fresh from the run's PRNG. */
  nguid?: string
  subnqn?: string
  disabled?: boolean
}

export class TargetOps {
  #handle: FaultTargetHandle | undefined
  #trace: (e: TraceInput) => void
  #random: Random

  constructor(opts: { handle: FaultTargetHandle | undefined; trace: (e: TraceInput) => void; random: Random }) {
    this.#handle = opts.handle
    this.#trace = opts.trace
    this.#random = opts.random
  }

  get handle(): FaultTargetHandle | undefined {
    return this.#handle
  }

  #need(): FaultTargetHandle {
    if (this.#handle === undefined) throw new InvalidStateError('no target attached to the fault engine')
    return this.#handle
  }

  #method<K extends keyof FaultTargetHandle>(name: K): NonNullable<FaultTargetHandle[K]> {
    const h = this.#need()
    const fn = h[name]
    if (typeof fn !== 'function') throw new InvalidStateError(`the target does not support ${String(name)}()`)
    return (fn as (...a: unknown[]) => unknown).bind(h) as NonNullable<FaultTargetHandle[K]>
  }

  status(): unknown {
    return this.#need().status()
  }

  exportConfig(format: string): unknown {
    if (format !== 'native' && format !== 'nvmetcli') throw new InvalidArgumentError('format', `must be native or nvmetcli, got '${format}'`)
    return this.#method('exportConfig')(format)
  }

  async setAna(port: number, group: number, state: string): Promise<void> {
    posInt(port, 'port', 0xffff)
    posInt(group, 'group', 128)
    const name = normalizeAnaStateName(state)
    await this.#method('setAnaState')({ portId: port, grpid: group, state: name })
    this.#trace({ kind: 'state', port, action: 'ana', detail: `ana port ${port} group ${group} -> ${name}` })
  }

  async namespace(op: NamespaceOp): Promise<{ uuid?: string; nguid?: string }> {
    const nsid = posInt(op.nsid, 'nsid', 0xfffffffe)
    const sub = op.subnqn !== undefined && op.subnqn !== '' ? op.subnqn : undefined
    let detail = `ns ${op.op} ${nsid}`
    const result: { uuid?: string; nguid?: string } = {}
    switch (op.op) {
      case 'add': {
        const o: NamespaceAddOptions = { nsid }
        if (op.sizeBytes !== undefined && op.sizeBytes > 0) o.sizeBytes = op.sizeBytes
        if (op.blockSize !== undefined && op.blockSize > 0) o.blockSize = op.blockSize
        if (op.group !== undefined && op.group > 0) o.anagrpid = posInt(op.group, 'group', 128)
        if (op.uuid !== undefined && op.uuid !== '') o.uuid = checkUuid(op.uuid)
        if (sub !== undefined) o.subnqn = sub
        if (op.disabled === true) o.enabled = false
        await this.#method('addNamespace')(o)
        break
      }
      case 'remove':
        await this.#method('removeNamespace')(nsid, sub)
        break
      case 'enable':
        await this.#method('enableNamespace')(nsid, sub)
        break
      case 'disable':
        await this.#method('disableNamespace')(nsid, sub)
        break
      case 'uuid': {
        const uuid = op.uuid !== undefined && op.uuid !== '' ? checkUuid(op.uuid) : randomUuid(this.#random)
        await this.#method('setNamespaceUuid')(nsid, uuid, sub)
        result.uuid = uuid
        detail += ` ${uuid}`
        break
      }
      case 'nguid': {
        // An NGUID is 16 bytes like a UUID (Identify Namespace bytes 104-119); the target checks the hex.
        const nguid = op.nguid !== undefined && op.nguid !== '' ? op.nguid.toLowerCase() : randomUuid(this.#random).replace(/-/g, '')
        await this.#method('setNamespaceNguid')(nsid, nguid, sub)
        result.nguid = nguid
        detail += ` ${nguid}`
        break
      }
      case 'group': {
        const g = posInt(op.group, 'group', 128)
        await this.#method('setNamespaceGroup')(nsid, g, sub)
        detail += ` ${g}`
        break
      }
      case 'resize': {
        const size = posInt(op.sizeBytes, 'sizeBytes', Number.MAX_SAFE_INTEGER)
        await this.#method('resizeNamespace')(nsid, size, sub)
        detail += ` ${size}`
        break
      }
      default:
        throw new InvalidArgumentError('op', `must be one of ${NAMESPACE_OPS.join(', ')}, got '${op.op}'`)
    }
    this.#trace({ kind: 'state', nsid, action: `ns-${op.op}`, detail })
    return result
  }

  /** Set a new UUID drawn from a caller's PRNG (fault-owned, for reproducible storms). */
  async remapNamespace(nsid: number, random: Random, subnqn?: string): Promise<string> {
    const uuid = randomUuid(random)
    await this.namespace({ op: 'uuid', nsid, uuid, ...(subnqn !== undefined ? { subnqn } : {}) })
    return uuid
  }

  async addPort(opts: PortAddOptions): Promise<unknown> {
    posInt(opts.portId, 'port', 0xffff)
    const r = await this.#method('addPort')(opts)
    this.#trace({ kind: 'state', port: opts.portId, action: 'port-add', detail: `port add ${opts.portId} ${opts.address ?? '127.0.0.1'}:${opts.trsvcid ?? 0}` })
    return r
  }

  /** nvmet's ports/<id>/subsystems links: expose or hide a subsystem on a port. False: already so. */
  async setPortSubsystem(portId: number, subnqn: string, exposed: boolean): Promise<boolean> {
    posInt(portId, 'port', 0xffff)
    if (typeof subnqn !== 'string' || subnqn === '') throw new InvalidArgumentError('nqn', 'must be a subsystem NQN')
    const changed = (await this.#method('setPortSubsystem')(portId, subnqn, exposed)) === true
    this.#trace({ kind: 'state', port: portId, action: exposed ? 'port-link' : 'port-unlink', detail: `port ${portId} ${exposed ? 'link' : 'unlink'} ${subnqn}${changed ? '' : ' (unchanged)'}` })
    return changed
  }

  async removePort(portId: number): Promise<void> {
    posInt(portId, 'port', 0xffff)
    await this.#method('removePort')(portId)
    this.#trace({ kind: 'state', port: portId, action: 'port-remove', detail: `port remove ${portId}` })
  }

  async addReferral(opts: { portId?: number; address: string; trsvcid: number }): Promise<void> {
    if (typeof opts.address !== 'string' || opts.address === '') throw new InvalidArgumentError('address', 'must be a non-empty address')
    await this.#method('addReferral')(opts)
    this.#trace({ kind: 'state', action: 'referral-add', detail: `referral add ${opts.address}:${opts.trsvcid}`, ...(opts.portId !== undefined ? { port: opts.portId } : {}) })
  }

  async removeReferral(opts: { address: string; trsvcid: number }): Promise<number> {
    const st = this.#need().status() as { discovery?: { referrals?: Array<{ id: number; address: string; port: number }> } }
    const ids = (st.discovery?.referrals ?? []).filter((r) => r.address === opts.address && r.port === opts.trsvcid).map((r) => r.id)
    if (ids.length === 0) throw new InvalidArgumentError('address', `no referral to ${opts.address}:${opts.trsvcid}`)
    for (const id of ids) await this.#method('removeReferral')(id)
    this.#trace({ kind: 'state', action: 'referral-remove', detail: `referral remove ${opts.address}:${opts.trsvcid}` })
    return ids.length
  }

  async addSubsystem(config: Record<string, unknown>): Promise<void> {
    await this.#method('addSubsystem')(config)
    this.#trace({ kind: 'state', action: 'subsystem-add', detail: `subsystem add ${String(config.nqn)}` })
  }

  async removeSubsystem(subnqn: string): Promise<void> {
    if (typeof subnqn !== 'string' || subnqn === '') throw new InvalidArgumentError('nqn', 'must be a subsystem NQN')
    await this.#method('removeSubsystem')(subnqn)
    this.#trace({ kind: 'state', action: 'subsystem-remove', detail: `subsystem remove ${subnqn}` })
  }

  async setSubsystemHost(subnqn: string, hostnqn: string, allowed: boolean): Promise<void> {
    if (typeof subnqn !== 'string' || subnqn === '') throw new InvalidArgumentError('nqn', 'must be a subsystem NQN')
    await this.#method('setSubsystemHost')(subnqn, hostnqn, allowed)
    this.#trace({ kind: 'state', action: allowed ? 'host-add' : 'host-remove', detail: `subsystem ${subnqn} host ${allowed ? 'add' : 'remove'} ${hostnqn}` })
  }

  /** nvmet's attr_qid_max: the subsystem's I/O queue limit; its controllers are deleted (hosts reconnect). */
  async setSubsystemMaxIoQueues(subnqn: string, maxIoQueues: number): Promise<unknown> {
    if (typeof subnqn !== 'string' || subnqn === '') throw new InvalidArgumentError('nqn', 'must be a subsystem NQN')
    const r = await this.#method('setSubsystemMaxIoQueues')(subnqn, maxIoQueues)
    this.#trace({ kind: 'state', action: 'max-io-queues', detail: `subsystem ${subnqn} maxIoQueues ${maxIoQueues}` })
    return r
  }

  /** Give a host DH-HMAC-CHAP keys (nvmet hosts/<nqn>/dhchap_key, dhchap_ctrl_key, dhchap_hash, dhchap_dhgroup). */
  async setHostAuth(hostnqn: string, auth: HostAuthSettings): Promise<void> {
    if (typeof hostnqn !== 'string' || hostnqn === '') throw new InvalidArgumentError('hostnqn', 'must be a host NQN')
    await this.#method('setHostAuth')(hostnqn, auth)
    // The secrets stay out of the trace.
    this.#trace({ kind: 'state', action: 'host-auth-set', detail: `host ${hostnqn} dhchap keys set${auth.dhchapCtrlKey !== undefined ? ' (bidirectional)' : ''}` })
  }

  /** Change some of a host's DH-HMAC-CHAP settings (nvmet writes one dhchap_* attribute at a time). */
  async updateHostAuth(hostnqn: string, auth: Partial<HostAuthSettings>): Promise<void> {
    if (typeof hostnqn !== 'string' || hostnqn === '') throw new InvalidArgumentError('hostnqn', 'must be a host NQN')
    await this.#method('updateHostAuth')(hostnqn, auth)
    const fields = Object.keys(auth).join(', ')
    this.#trace({ kind: 'state', action: 'host-auth-update', detail: `host ${hostnqn} dhchap ${fields === '' ? 'unchanged' : `${fields} changed`}` })
  }

  async removeHostAuth(hostnqn: string): Promise<boolean> {
    if (typeof hostnqn !== 'string' || hostnqn === '') throw new InvalidArgumentError('hostnqn', 'must be a host NQN')
    const had = (await this.#method('removeHostAuth')(hostnqn)) === true
    this.#trace({ kind: 'state', action: 'host-auth-remove', detail: `host ${hostnqn} dhchap keys removed` })
    return had
  }

  async controllerFatal(cntlid: number): Promise<void> {
    posInt(cntlid, 'cntlid', 0xffef)
    await this.#method('setControllerFatal')(cntlid)
    this.#trace({ kind: 'state', cntlid, action: 'controller-fatal', detail: `controller ${cntlid} CSTS.CFS` })
  }

  async deleteControllers(filter: ControllerFilter = {}): Promise<unknown> {
    const r = await this.#method('deleteControllers')(filter)
    this.#trace({
      kind: 'state',
      action: 'controller-delete',
      detail: `delete controllers ${JSON.stringify(filter)}`,
      ...(filter.cntlid !== undefined ? { cntlid: filter.cntlid } : {}),
      ...(filter.portId !== undefined ? { port: filter.portId } : {}),
    })
    return r
  }

  async raiseAen(event: AenEventName | string, opts: { portId?: number; nsids?: number[] } = {}): Promise<void> {
    if (!(AEN_EVENTS as readonly string[]).includes(event)) throw new InvalidArgumentError('event', `must be one of ${AEN_EVENTS.join(', ')}, got '${event}'`)
    const args: { event: AenEventName; portId?: number; nsids?: number[] } = { event: event as AenEventName }
    if (opts.portId !== undefined) args.portId = opts.portId
    if (opts.nsids !== undefined) args.nsids = opts.nsids
    await this.#method('raiseAen')(args)
    this.#trace({ kind: 'state', action: 'aen', detail: `aen ${event}${opts.nsids !== undefined ? ` nsids ${opts.nsids.join(',')}` : ''}`, ...(opts.portId !== undefined ? { port: opts.portId } : {}) })
  }
}

function checkUuid(u: string): string {
  if (!isUuid(u)) throw new InvalidArgumentError('uuid', `must be a UUID like 123e4567-e89b-42d3-a456-426614174000, got '${u}'`)
  return u.toLowerCase()
}
