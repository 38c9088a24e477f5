/**
 * NSID → namespace identity → backing store, with remapping (issue 2 item 4).
 *
 * The map is an immutable snapshot (a frozen `Map` of frozen entries) swapped whole, with a
 * generation number that strictly increases on every change. A change builds its new entry
 * completely before the swap, so a reader never sees a half-built entry. `acquire(nsid)` looks up
 * and takes a reference in the same synchronous step, and the entry it returns never changes under
 * the holder; a later change produces a new entry version. A remover waits for in-flight users with
 * `whenReleased(entry)`.
 *
 * Per controller, the map records which NSIDs changed (for the Changed Namespace List log page,
 * wire reference 5.3): `takeChangedList(ctrlId)` returns and clears it; more than 1024 distinct
 * changed NSIDs collapse into the single entry 0xFFFFFFFF (Linux target `nvmet_add_to_changed_ns_log`).
 * Only changes a host can see are recorded: add/remove/enable/disable/resize of an enabled namespace.
 * An ANA group move is reported through the ANA change event instead (as nvmet does), and UUID/NGUID/
 * EUI-64 may only change while disabled (nvmet configfs rule), so neither records an NSID. A user
 * that announces more than nvmet (the fault target: every change, issue 3) chooses
 * `recordChanges: 'every-change'`; `noteChanged` records an NSID with no map change (injected events).
 */
import { InvalidArgumentError, InvalidStateError } from './errors.js'
import { ChangedNamespaceLists } from './changed-ns-lists.js'
import { uuidToBytes } from './nvme/uuid.js'
import type { AddNamespaceOptions, NamespaceEntry, NamespaceIdentity, NamespaceRef } from './namespace-entry.js'

// Re-exported: these types were declared here and are public from this module (lib/index.ts).
export type { NamespaceIdentity, NamespaceEntry, NamespaceRef, AddNamespaceOptions } from './namespace-entry.js'

export const NSID_MIN = 1
/** 0xFFFFFFFF is the broadcast value and 0xFFFFFFFE is reserved too (Linux target refuses both). */
export const NSID_MAX = 0xfffffffe

export type NamespaceChangeKind = 'add' | 'remove' | 'enable' | 'disable' | 'set-uuid' | 'set-nguid' | 'set-eui64' | 'set-ana-group' | 'resize'

export interface NamespaceChange<S> {
  kind: NamespaceChangeKind
  nsid: number
  generation: number
  /** The entry before the change (undefined for add). */
  before: NamespaceEntry<S> | undefined
  /** The entry after the change (undefined for remove). */
  after: NamespaceEntry<S> | undefined
  /** Whether the NSID was recorded in the changed lists (a Namespace Attribute Changed AEN is due). */
  nsChanged: boolean
}

/**
 * Which changes go into the Changed Namespace Lists: `host-visible` (default; nvmet) records add/
 * remove/enable/disable/resize of an enabled namespace; `every-change` records every published change
 * of any namespace (enabled or not, UUID/NGUID/EUI-64, ANA group moves).
 */
export type ChangeRecording = 'host-visible' | 'every-change'

export interface NamespaceMapOptions<S> {
  /** Called after every published change. */
  onChange?: (c: NamespaceChange<S>) => void
  /** Highest ANA group id accepted (ANAGRPMAX). Default 128. */
  maxAnaGroupId?: number
  /** Default 'host-visible'. */
  recordChanges?: ChangeRecording
  /**
   * Refuse an NGUID/UUID/EUI-64 already used by another namespace of the map. Default true (the Linux
   * host rejects duplicates); false lets a fault target serve duplicates on purpose.
   */
  uniqueIds?: boolean
}

function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0)
}

function idBytes(v: Uint8Array | string | undefined, size: number, field: string): Buffer {
  if (v === undefined) return Buffer.alloc(size)
  if (typeof v === 'string') {
    if (size !== 16) throw new InvalidArgumentError(field, 'must be bytes')
    return uuidToBytes(v)
  }
  if (!(v instanceof Uint8Array) || v.length !== size) throw new InvalidArgumentError(field, `must be ${size} bytes`)
  return Buffer.from(v)
}

export class NamespaceMap<S> {
  #snapshot: ReadonlyMap<number, NamespaceEntry<S>> = Object.freeze(new Map())
  #generation = 0
  #nextInstance = 1
  #refs = new Map<NamespaceEntry<S>, number>()
  #instanceRefs = new Map<number, number>()
  #waiters: Array<{ test: () => boolean; resolve: () => void }> = []
  readonly #changed = new ChangedNamespaceLists()
  readonly #onChange: ((c: NamespaceChange<S>) => void) | undefined
  readonly maxAnaGroupId: number
  readonly recordChanges: ChangeRecording
  readonly uniqueIds: boolean

  constructor(options: NamespaceMapOptions<S> = {}) {
    this.#onChange = options.onChange
    const max = options.maxAnaGroupId ?? 128
    if (!Number.isInteger(max) || max < 1) throw new InvalidArgumentError('maxAnaGroupId', 'must be a positive integer')
    this.maxAnaGroupId = max
    const rec = options.recordChanges ?? 'host-visible'
    if (rec !== 'host-visible' && rec !== 'every-change') throw new InvalidArgumentError('recordChanges', "must be 'host-visible' or 'every-change'")
    this.recordChanges = rec
    if (options.uniqueIds !== undefined && typeof options.uniqueIds !== 'boolean') throw new InvalidArgumentError('uniqueIds', 'must be a boolean')
    this.uniqueIds = options.uniqueIds ?? true
  }

  /** Strictly increases with every published change. */
  get generation(): number {
    return this.#generation
  }
  /** The current snapshot (frozen; keep it to read a consistent view). */
  snapshot(): { generation: number; entries: ReadonlyMap<number, NamespaceEntry<S>> } {
    return { generation: this.#generation, entries: this.#snapshot }
  }
  /** Look up without taking a reference (for reporting only; use {@link acquire} to use the store). */
  get(nsid: number): NamespaceEntry<S> | undefined {
    return this.#snapshot.get(nsid)
  }
  get size(): number {
    return this.#snapshot.size
  }
  /** All entries, ascending by NSID. */
  entries(): NamespaceEntry<S>[] {
    return [...this.#snapshot.values()].sort((a, b) => a.nsid - b.nsid)
  }
  /** Enabled (active) NSIDs, ascending. */
  activeNsids(): number[] {
    return this.entries().filter((e) => e.enabled).map((e) => e.nsid)
  }
  /** Enabled NSIDs grouped by ANA group (for `AnaModel.buildLog`). */
  nsidsByAnaGroup(): Map<number, number[]> {
    const m = new Map<number, number[]>()
    for (const e of this.entries()) {
      if (!e.enabled) continue
      const l = m.get(e.anagrpid)
      if (l === undefined) m.set(e.anagrpid, [e.nsid])
      else l.push(e.nsid)
    }
    return m
  }

  // ---- references -------------------------------------------------------------------------------

  /**
   * Look up `nsid` and take a reference to the entry in one step. Returns undefined if the NSID is
   * absent or (unless `includeDisabled`) disabled. The entry is immutable: later changes publish new
   * versions and do not touch it.
   */
  acquire(nsid: number, opts?: { includeDisabled?: boolean }): NamespaceRef<S> | undefined {
    const entry = this.#snapshot.get(nsid)
    if (entry === undefined || (!entry.enabled && opts?.includeDisabled !== true)) return undefined
    this.#refs.set(entry, (this.#refs.get(entry) ?? 0) + 1)
    this.#instanceRefs.set(entry.instance, (this.#instanceRefs.get(entry.instance) ?? 0) + 1)
    let released = false
    return {
      entry,
      release: () => {
        if (released) return
        released = true
        // A count that drops to 0 stays in its map while the entry is the published one (the next
        // command takes it again: no delete and re-insert per command); it goes once it is not.
        const current = this.#snapshot.get(entry.nsid) === entry
        const n = (this.#refs.get(entry) ?? 1) - 1
        if (n === 0 && !current) this.#refs.delete(entry)
        else this.#refs.set(entry, n)
        const i = (this.#instanceRefs.get(entry.instance) ?? 1) - 1
        if (i === 0 && !current) this.#instanceRefs.delete(entry.instance)
        else this.#instanceRefs.set(entry.instance, i)
        this.#wake()
      },
    }
  }

  /** References held on this entry version. */
  refCount(entry: NamespaceEntry<S>): number {
    return this.#refs.get(entry) ?? 0
  }
  /** References held on any version of this entry's namespace lifetime (`instance`). */
  instanceRefCount(entry: NamespaceEntry<S>): number {
    return this.#instanceRefs.get(entry.instance) ?? 0
  }

  /**
   * Resolves when no reference is held on `entry` — with `allVersions` (the default), on any version
   * of the same namespace lifetime, which is what a remove must wait for before closing the store.
   */
  whenReleased(entry: NamespaceEntry<S>, opts: { allVersions?: boolean } = {}): Promise<void> {
    const test = opts.allVersions === false ? () => this.refCount(entry) === 0 : () => this.instanceRefCount(entry) === 0
    if (test()) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ test, resolve }))
  }

  #wake(): void {
    if (this.#waiters.length === 0) return
    const still: Array<{ test: () => boolean; resolve: () => void }> = []
    for (const w of this.#waiters) (w.test() ? w.resolve() : still.push(w))
    this.#waiters = still
  }

  // ---- changed namespace lists (per controller; lib/changed-ns-lists.ts) ----------------------------

  /** Start recording changed NSIDs for controller `ctrlId` (idempotent). */
  subscribe(ctrlId: number): void {
    this.#changed.subscribe(ctrlId)
  }
  unsubscribe(ctrlId: number): void {
    this.#changed.unsubscribe(ctrlId)
  }
  isSubscribed(ctrlId: number): boolean {
    return this.#changed.isSubscribed(ctrlId)
  }
  /** Number of distinct changed NSIDs pending for a controller (1025 once overflowed). */
  pendingChanges(ctrlId: number): number {
    return this.#changed.pending(ctrlId)
  }
  /** The Changed Namespace List for `ctrlId`, cleared (RAE = 0); see {@link ChangedNamespaceLists.take}. */
  takeChangedList(ctrlId: number): number[] {
    return this.#changed.take(ctrlId)
  }
  /** The list without clearing it (RAE = 1 reads). */
  peekChangedList(ctrlId: number): number[] {
    return this.#changed.peek(ctrlId)
  }
  /** Record `nsid` as changed without a map change; see {@link ChangedNamespaceLists.note}. */
  noteChanged(nsid: number, ctrlId?: number): void {
    this.#changed.note(nsid, ctrlId)
  }

  // ---- changes ---------------------------------------------------------------------------------------

  #checkNsid(nsid: number): void {
    if (!Number.isInteger(nsid) || nsid < NSID_MIN || nsid > NSID_MAX) throw new InvalidArgumentError('nsid', `must be an integer in [1, 0xFFFFFFFE], got ${String(nsid)}`)
  }
  #required(nsid: number): NamespaceEntry<S> {
    this.#checkNsid(nsid)
    const e = this.#snapshot.get(nsid)
    if (e === undefined) throw new InvalidArgumentError('nsid', `namespace ${nsid} does not exist`)
    return e
  }
  #checkAnaGroup(grpid: number): void {
    if (!Number.isInteger(grpid) || grpid < 1 || grpid > this.maxAnaGroupId) {
      throw new InvalidArgumentError('anagrpid', `must be an ANA group id in [1, ${this.maxAnaGroupId}] (0 is invalid), got ${String(grpid)}`)
    }
  }
  #checkBlocks(blocks: bigint): void {
    if (typeof blocks !== 'bigint' || blocks < 1n || blocks >= 1n << 64n) throw new InvalidArgumentError('blocks', 'must be a bigint in [1, 2^64)')
  }
  /** NGUID, UUID and EUI-64 must be unique in the subsystem (the Linux host refuses duplicates). */
  #checkUnique(nsid: number, field: 'nguid' | 'uuid' | 'eui64', value: Buffer): void {
    if (isZero(value) || !this.uniqueIds) return
    for (const e of this.#snapshot.values()) {
      if (e.nsid !== nsid && e[field].equals(value)) throw new InvalidArgumentError(field, `is already used by namespace ${e.nsid}`)
    }
  }

  /** Publish: swap in a new snapshot with `entry` set (or `nsid` removed) and bump the generation. */
  #publish(kind: NamespaceChangeKind, nsid: number, before: NamespaceEntry<S> | undefined, build: ((generation: number) => NamespaceEntry<S>) | undefined): NamespaceChange<S> {
    const generation = this.#generation + 1
    // Build the entry completely (frozen) before anything becomes visible.
    const after = build === undefined ? undefined : Object.freeze(build(generation))
    const next = new Map(this.#snapshot)
    if (after === undefined) next.delete(nsid)
    else next.set(nsid, after)
    this.#snapshot = Object.freeze(next)
    this.#generation = generation
    // The version replaced keeps no zero count (release keeps one only for the published version);
    // nor does its lifetime once the NSID is gone or starts a new one.
    if (before !== undefined) {
      if (this.#refs.get(before) === 0) this.#refs.delete(before)
      if (after?.instance !== before.instance && this.#instanceRefs.get(before.instance) === 0) this.#instanceRefs.delete(before.instance)
    }
    const visible = (before?.enabled ?? false) || (after?.enabled ?? false)
    const hostVisibleKind = kind === 'add' || kind === 'remove' || kind === 'enable' || kind === 'disable' || kind === 'resize'
    const nsChanged = this.recordChanges === 'every-change' || (visible && hostVisibleKind)
    if (nsChanged) this.#changed.note(nsid)
    const change: NamespaceChange<S> = { kind, nsid, generation, before, after, nsChanged }
    this.#onChange?.(change)
    return change
  }

  #derive(before: NamespaceEntry<S>, patch: Partial<NamespaceIdentity>): (generation: number) => NamespaceEntry<S> {
    return (generation) => ({
      nsid: before.nsid,
      instance: before.instance,
      store: before.store,
      nguid: patch.nguid ?? before.nguid,
      uuid: patch.uuid ?? before.uuid,
      eui64: patch.eui64 ?? before.eui64,
      anagrpid: patch.anagrpid ?? before.anagrpid,
      enabled: patch.enabled ?? before.enabled,
      blocks: patch.blocks ?? before.blocks,
      blockSize: before.blockSize,
      generation,
    })
  }

  add(o: AddNamespaceOptions<S>): NamespaceChange<S> {
    this.#checkNsid(o.nsid)
    if (this.#snapshot.has(o.nsid)) throw new InvalidArgumentError('nsid', `namespace ${o.nsid} already exists`)
    this.#checkBlocks(o.blocks)
    if (!Number.isInteger(o.blockSize) || o.blockSize < 512 || (o.blockSize & (o.blockSize - 1)) !== 0) {
      throw new InvalidArgumentError('blockSize', 'must be a power of two >= 512')
    }
    const anagrpid = o.anagrpid ?? 1
    this.#checkAnaGroup(anagrpid)
    const nguid = idBytes(o.nguid, 16, 'nguid')
    const uuid = idBytes(o.uuid, 16, 'uuid')
    const eui64 = idBytes(o.eui64, 8, 'eui64')
    this.#checkUnique(o.nsid, 'nguid', nguid)
    this.#checkUnique(o.nsid, 'uuid', uuid)
    this.#checkUnique(o.nsid, 'eui64', eui64)
    const instance = this.#nextInstance++
    return this.#publish('add', o.nsid, undefined, (generation) => ({
      nsid: o.nsid,
      generation,
      instance,
      store: o.store,
      nguid,
      uuid,
      eui64,
      anagrpid,
      enabled: o.enabled ?? true,
      blocks: o.blocks,
      blockSize: o.blockSize,
    }))
  }

  /**
   * Unpublish `nsid`: new lookups miss it at once; holders of references keep their entry. Wait with
   * `whenReleased(change.before)` before closing the store.
   */
  remove(nsid: number): NamespaceChange<S> {
    const before = this.#required(nsid)
    return this.#publish('remove', nsid, before, undefined)
  }

  enable(nsid: number): NamespaceChange<S> | undefined {
    const before = this.#required(nsid)
    if (before.enabled) return undefined
    return this.#publish('enable', nsid, before, this.#derive(before, { enabled: true }))
  }
  disable(nsid: number): NamespaceChange<S> | undefined {
    const before = this.#required(nsid)
    if (!before.enabled) return undefined
    return this.#publish('disable', nsid, before, this.#derive(before, { enabled: false }))
  }

  #setId(nsid: number, field: 'uuid' | 'nguid' | 'eui64', value: Uint8Array | string, size: number, kind: NamespaceChangeKind): NamespaceChange<S> {
    const before = this.#required(nsid)
    if (before.enabled) throw new InvalidStateError(`namespace ${nsid} must be disabled to change its ${field.toUpperCase()}`)
    const bytes = idBytes(value, size, field)
    this.#checkUnique(nsid, field, bytes)
    return this.#publish(kind, nsid, before, this.#derive(before, { [field]: bytes }))
  }
  /** Only while disabled (nvmet rule), else InvalidStateError. */
  setUuid(nsid: number, uuid: Uint8Array | string): NamespaceChange<S> {
    return this.#setId(nsid, 'uuid', uuid, 16, 'set-uuid')
  }
  /** Only while disabled (nvmet rule), else InvalidStateError. */
  setNguid(nsid: number, nguid: Uint8Array): NamespaceChange<S> {
    return this.#setId(nsid, 'nguid', nguid, 16, 'set-nguid')
  }
  /** Only while disabled, else InvalidStateError. */
  setEui64(nsid: number, eui64: Uint8Array): NamespaceChange<S> {
    return this.#setId(nsid, 'eui64', eui64, 8, 'set-eui64')
  }

  /** Move to another ANA group (the caller bumps the ANA change count and raises the ANA change AEN). */
  setAnaGroup(nsid: number, anagrpid: number): NamespaceChange<S> | undefined {
    const before = this.#required(nsid)
    this.#checkAnaGroup(anagrpid)
    if (before.anagrpid === anagrpid) return undefined
    return this.#publish('set-ana-group', nsid, before, this.#derive(before, { anagrpid }))
  }

  /** New size in blocks (the caller resizes the store first when growing). */
  resize(nsid: number, blocks: bigint): NamespaceChange<S> | undefined {
    const before = this.#required(nsid)
    this.#checkBlocks(blocks)
    if (before.blocks === blocks) return undefined
    return this.#publish('resize', nsid, before, this.#derive(before, { blocks }))
  }
}
