/**
 * A namespace as commands see it: an immutable snapshot (size, ids, group, enabled) over a shared
 * backing store. Every change publishes a new snapshot; a command holds the snapshot it looked up
 * (and a reference on the backing) until it completes, so it sees the namespace as it was or as it
 * is, never half (style guide §4 item 11; nvmet percpu_ref on the namespace).
 */
import type { NamespaceStore } from './namespace-store.js'

/** The backing shared by all snapshots of one namespace: store + in-flight reference count. */
export class NamespaceBacking {
  readonly store: NamespaceStore
  #refs = 0
  #deleting = false
  #drained: (() => void)[] = []
  constructor(store: NamespaceStore) {
    this.store = store
  }
  get inflight(): number {
    return this.#refs
  }
  get deleting(): boolean {
    return this.#deleting
  }
  /** Take a reference; false once the namespace is being deleted. */
  get(): boolean {
    if (this.#deleting) return false
    this.#refs++
    return true
  }
  put(): void {
    this.#refs--
    if (this.#refs === 0) for (const f of this.#drained.splice(0)) f()
  }
  /** Refuse new references (before any await in teardown). */
  markDeleting(): void {
    this.#deleting = true
  }
  /** Resolves when no command holds a reference. */
  drain(): Promise<void> {
    if (this.#refs === 0) return Promise.resolve()
    return new Promise((resolve) => this.#drained.push(resolve))
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
  get store(): NamespaceStore {
    return this.backing.store
  }
  get sizeBytes(): number {
    return Number(this.blocks) * this.blockSize
  }
  /** A new snapshot with some fields changed. */
  with(changes: Partial<Omit<NamespaceInit, 'nsid' | 'backing'>>): Namespace {
    return new Namespace({
      nsid: this.nsid,
      backing: this.backing,
      blockSize: changes.blockSize ?? this.blockSize,
      blocks: changes.blocks ?? this.blocks,
      uuid: changes.uuid ?? this.uuid,
      nguid: changes.nguid ?? this.nguid,
      anaGroup: changes.anaGroup ?? this.anaGroup,
      enabled: changes.enabled ?? this.enabled,
    })
  }
}
