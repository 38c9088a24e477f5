/**
 * Asymmetric Namespace Access model (NVMe Base 2.0 section 8.1; wire reference 5.4): ANA groups with
 * 1-based ids, a state per port × group (nvmet `port->ana_state[grpid]`, SPDK
 * `listener->ana_state[grpid-1]`), change counters, and the ANA log page builder. Namespaces are not
 * known here; the caller passes the NSIDs of each group when building a log.
 */
import { InvalidArgumentError } from './errors.js'
import { NvmeStatus } from './status.js'
import { AnaState, encodeAnaLog, isAnaState, anaStateName, type AnaStateValue, type AnaGroupDescriptor } from './nvme/log-ana.js'

export { AnaState, anaStateName, isAnaState, type AnaStateValue }

/** ANAGRPMAX default (the Linux target's NVMET_MAX_ANAGRPS). */
export const DEFAULT_ANA_GROUP_MAX = 128

export interface AnaChangeEvent {
  portId: number
  grpid: number
  from: AnaStateValue
  to: AnaStateValue
  /** Global change count after the change. */
  changeCount: bigint
}

export interface AnaModelOptions {
  /** Initial group ids (1-based). Default: [1]. */
  groups?: readonly number[]
  /** Port ids known from the start (others are added on first `setState`). */
  ports?: readonly number[]
  /** Highest allowed group id (ANAGRPMAX). Default 128. */
  maxGroupId?: number
  /** State of a group on a port where it was never set. Default OPTIMIZED. */
  defaultState?: AnaStateValue
  /** Called after every effective state change. */
  onChange?: (e: AnaChangeEvent) => void
}

/**
 * I/O status for a namespace in `state` on this path (nvmet `nvmet_check_ana_state`):
 * inaccessible → 0x302, persistent loss → 0x301, change → 0x303, optimized / non-optimized →
 * undefined (execute the command).
 */
export function anaStateToStatus(state: number): number | undefined {
  switch (state) {
    case AnaState.INACCESSIBLE:
      return NvmeStatus.ANA_INACCESSIBLE
    case AnaState.PERSISTENT_LOSS:
      return NvmeStatus.ANA_PERSISTENT_LOSS
    case AnaState.CHANGE:
      return NvmeStatus.ANA_TRANSITION
    default:
      return undefined
  }
}

/** True when I/O may be sent on a path in this state (the Linux host's `nvme_state_is_live`). */
export function anaStateIsLive(state: number): boolean {
  return state === AnaState.OPTIMIZED || state === AnaState.NON_OPTIMIZED
}

/** One number per (port, group): port ids are 16 bits, group ids 32, so the key stays below 2^48. */
function stateKey(portId: number, grpid: number): number {
  return portId * 0x1_0000_0000 + grpid
}

export class AnaModel {
  readonly maxGroupId: number
  readonly defaultState: AnaStateValue
  #groups = new Map<number, { chgcnt: bigint }>()
  #ports = new Set<number>()
  /** Keyed by `stateKey(portId, grpid)`: a number, not a string built on every I/O's ANA check. */
  #states = new Map<number, AnaStateValue>()
  #changeCount = 0n
  #onChange: ((e: AnaChangeEvent) => void) | undefined

  constructor(options: AnaModelOptions = {}) {
    const max = options.maxGroupId ?? DEFAULT_ANA_GROUP_MAX
    if (!Number.isInteger(max) || max < 1 || max > 0xffffffff) throw new InvalidArgumentError('maxGroupId', 'must be an integer in [1, 4294967295]')
    this.maxGroupId = max
    const def = options.defaultState ?? AnaState.OPTIMIZED
    if (!isAnaState(def)) throw new InvalidArgumentError('defaultState', `must be an ANA state (1, 2, 3, 4 or 15), got ${String(def)}`)
    this.defaultState = def
    this.#onChange = options.onChange
    for (const g of options.groups ?? [1]) this.addGroup(g)
    for (const p of options.ports ?? []) this.addPort(p)
  }

  #checkGroupId(grpid: number, field = 'grpid'): void {
    if (!Number.isInteger(grpid) || grpid < 1 || grpid > this.maxGroupId) {
      throw new InvalidArgumentError(field, `must be an ANA group id in [1, ${this.maxGroupId}] (0 is invalid), got ${String(grpid)}`)
    }
  }
  #checkPort(portId: number): void {
    if (!Number.isInteger(portId) || portId < 0 || portId > 0xffff) throw new InvalidArgumentError('portId', `must be an integer in [0, 65535], got ${String(portId)}`)
  }
  #requireGroup(grpid: number): { chgcnt: bigint } {
    this.#checkGroupId(grpid)
    const g = this.#groups.get(grpid)
    if (g === undefined) throw new InvalidArgumentError('grpid', `ANA group ${grpid} does not exist`)
    return g
  }

  /** Global ANA change count (log header CHGCNT). */
  get changeCount(): bigint {
    return this.#changeCount
  }
  /** Change count of one group (descriptor CHGCNT). */
  groupChangeCount(grpid: number): bigint {
    return this.#requireGroup(grpid).chgcnt
  }

  hasGroup(grpid: number): boolean {
    return this.#groups.has(grpid)
  }
  /** Group ids, ascending. */
  groups(): number[] {
    return [...this.#groups.keys()].sort((a, b) => a - b)
  }
  hasPort(portId: number): boolean {
    return this.#ports.has(portId)
  }
  ports(): number[] {
    return [...this.#ports].sort((a, b) => a - b)
  }

  /** Create a group (every port sees it in `defaultState` until set). Idempotent creation is an error. */
  addGroup(grpid: number): void {
    this.#checkGroupId(grpid)
    if (this.#groups.has(grpid)) throw new InvalidArgumentError('grpid', `ANA group ${grpid} already exists`)
    this.#changeCount++
    this.#groups.set(grpid, { chgcnt: 0n })
  }
  /** Remove a group and its per-port states. */
  removeGroup(grpid: number): void {
    this.#requireGroup(grpid)
    this.#groups.delete(grpid)
    for (const p of this.#ports) this.#states.delete(stateKey(p, grpid))
    this.#changeCount++
  }
  addPort(portId: number): void {
    this.#checkPort(portId)
    this.#ports.add(portId)
  }
  removePort(portId: number): void {
    this.#ports.delete(portId)
    for (const g of this.#groups.keys()) this.#states.delete(stateKey(portId, g))
  }

  getState(portId: number, grpid: number): AnaStateValue {
    this.#checkPort(portId)
    this.#requireGroup(grpid)
    return this.#states.get(stateKey(portId, grpid)) ?? this.defaultState
  }
  /** Alias of {@link getState}. */
  state(portId: number, grpid: number): AnaStateValue {
    return this.getState(portId, grpid)
  }

  /**
   * Set the state of `grpid` on `portId`. Returns true if it changed; a change bumps the global and
   * the group's change counts and calls `onChange`.
   */
  setState(portId: number, grpid: number, state: number): boolean {
    this.#checkPort(portId)
    const g = this.#requireGroup(grpid)
    if (!isAnaState(state)) throw new InvalidArgumentError('state', `must be an ANA state (1, 2, 3, 4 or 15), got ${String(state)}`)
    this.#ports.add(portId)
    const from = this.getState(portId, grpid)
    if (from === state) return false
    this.#states.set(stateKey(portId, grpid), state)
    this.#changeCount++
    g.chgcnt++
    this.#onChange?.({ portId, grpid, from, to: state, changeCount: this.#changeCount })
    return true
  }

  /**
   * Count a change that is not a state change but alters the log (a namespace moving between groups):
   * bumps the global count and, when given, the groups' counts.
   */
  bumpChangeCount(...grpids: number[]): void {
    for (const id of grpids) this.#requireGroup(id).chgcnt++
    this.#changeCount++
  }

  /**
   * The ANA log page as seen through `portId`: header, one descriptor per group ascending by id, each
   * with its NSIDs ascending (duplicates dropped) — or no NSIDs when `rgo` (Return Groups Only, LSP
   * bit 0). `nsidsByGroup` maps group id → NSIDs; a group id not in the model is an
   * InvalidArgumentError.
   */
  buildLog(portId: number, nsidsByGroup: ReadonlyMap<number, readonly number[]> | Readonly<Record<number, readonly number[]>>, opts: { rgo?: boolean } = {}): Buffer {
    this.#checkPort(portId)
    const map = nsidsByGroup instanceof Map ? (nsidsByGroup as ReadonlyMap<number, readonly number[]>) : new Map(Object.entries(nsidsByGroup).map(([k, v]) => [Number(k), v as readonly number[]]))
    for (const [grpid, nsids] of map) {
      if (!this.#groups.has(grpid)) throw new InvalidArgumentError('nsidsByGroup', `names ANA group ${grpid}, which does not exist`)
      for (const n of nsids) {
        if (!Number.isInteger(n) || n < 1 || n > 0xfffffffe) throw new InvalidArgumentError('nsidsByGroup', `group ${grpid} holds invalid NSID ${String(n)}`)
      }
    }
    const groups: AnaGroupDescriptor[] = this.groups().map((grpid) => ({
      grpid,
      chgcnt: this.#groups.get(grpid)?.chgcnt ?? 0n,
      state: this.getState(portId, grpid),
      nsids: [...new Set(map.get(grpid) ?? [])].sort((a, b) => a - b),
    }))
    return encodeAnaLog({ chgcnt: this.#changeCount, groups }, { rgo: opts.rgo === true })
  }
}
