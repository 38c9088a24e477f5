/**
 * A namespace as commands see it: a read-only view of one version of a {@link NamespaceEntry} of the
 * subsystem's {@link NamespaceMap} (which owns the table, its generations, the references and the
 * Changed Namespace Lists). The entry never changes under a view — every change publishes a new
 * version — so a command that holds the view it acquired sees the namespace as it was or as it is,
 * never half (style guide §4 item 11; nvmet percpu_ref on the namespace).
 *
 * Before it is published (`Subsystem.addNamespace`) a `Namespace` is only a description of a fully
 * initialised namespace (store open); it holds no reference.
 */
import type { NamespaceEntry, NamespaceMap, NamespaceRef } from '../../lib/namespace-map.js'
import type { NamespaceStore } from './namespace-store.js'

/**
 * The store behind a view plus, for a view taken with `Subsystem.acquire`, the one map reference that
 * view holds. Counting and draining are the map's; `put` only releases this view's reference.
 */
export class NamespaceBacking {
  readonly store: NamespaceStore
  readonly #ref: NamespaceRef<NamespaceStore> | undefined
  readonly #map: NamespaceMap<NamespaceStore> | undefined
  readonly #entry: NamespaceEntry<NamespaceStore> | undefined

  /** `link` binds the backing to a published entry (and to the reference a command holds on it). */
  constructor(store: NamespaceStore, link?: { map: NamespaceMap<NamespaceStore>; entry: NamespaceEntry<NamespaceStore>; ref?: NamespaceRef<NamespaceStore> }) {
    this.store = store
    this.#map = link?.map
    this.#entry = link?.entry
    this.#ref = link?.ref
  }
  /** References held on any version of this namespace (commands in flight); 0 when unpublished. */
  get inflight(): number {
    return this.#map !== undefined && this.#entry !== undefined ? this.#map.instanceRefCount(this.#entry) : 0
  }
  /** Release the reference this view holds (idempotent; nothing for a view taken without one). */
  put(): void {
    this.#ref?.release()
  }
}

export interface NamespaceInit {
  nsid: number
  backing: NamespaceBacking
  blockSize: number
  /** Size in logical blocks. */
  blocks: bigint
  /** 16 raw bytes. */
  uuid: Buffer
  /** 16 raw bytes. */
  nguid: Buffer
  anaGroup: number
  enabled: boolean
}

export class Namespace {
  readonly nsid: number
  readonly backing: NamespaceBacking
  readonly blockSize: number
  readonly lbaShift: number
  readonly blocks: bigint
  readonly uuid: Buffer
  readonly nguid: Buffer
  readonly anaGroup: number
  readonly enabled: boolean
  constructor(init: NamespaceInit) {
    this.nsid = init.nsid
    this.backing = init.backing
    this.blockSize = init.blockSize
    this.lbaShift = Math.log2(init.blockSize)
    this.blocks = init.blocks
    this.uuid = init.uuid
    this.nguid = init.nguid
    this.anaGroup = init.anaGroup
    this.enabled = init.enabled
    Object.freeze(this)
  }
  /** The view of a published entry version; with `ref`, the view holds that reference. */
  static of(map: NamespaceMap<NamespaceStore>, entry: NamespaceEntry<NamespaceStore>, ref?: NamespaceRef<NamespaceStore>): Namespace {
    return new Namespace({
      nsid: entry.nsid,
      backing: new NamespaceBacking(entry.store, ref === undefined ? { map, entry } : { map, entry, ref }),
      blockSize: entry.blockSize,
      blocks: entry.blocks,
      uuid: entry.uuid,
      nguid: entry.nguid,
      anaGroup: entry.anagrpid,
      enabled: entry.enabled,
    })
  }
  get store(): NamespaceStore {
    return this.backing.store
  }
  get sizeBytes(): number {
    return Number(this.blocks) * this.blockSize
  }
}
