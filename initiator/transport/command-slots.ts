/**
 * A queue pair's outstanding commands, one slot per tag (the CID's low bits): a lookup by the CID a
 * PDU names is an array index and a CID compare, not a Map hash (four Map operations per command were
 * measurable at QD1: docs/performance.md, round 3). A CID whose tag slot holds another generation, or
 * a tag beyond the queue's depth, finds nothing.
 */
export class CommandSlots<P extends { readonly cid: number }> {
  readonly #slots: (P | undefined)[]
  readonly #tagMask: number
  #size = 0

  constructor(o: { depth: number; tagMask: number }) {
    this.#slots = new Array<P | undefined>(o.depth).fill(undefined)
    this.#tagMask = o.tagMask
  }

  get size(): number {
    return this.#size
  }

  /** The command with exactly this CID, if outstanding. */
  get(cid: number): P | undefined {
    const p = this.#slots[cid & this.#tagMask]
    return p !== undefined && p.cid === cid ? p : undefined
  }

  /** Occupy the slot of `p.cid`'s tag (the caller took that tag from its free list). */
  add(p: P): void {
    const tag = p.cid & this.#tagMask
    if (this.#slots[tag] === undefined) this.#size++
    this.#slots[tag] = p
  }

  /** Free `p`'s slot (only if it still holds `p`). */
  delete(p: P): void {
    const tag = p.cid & this.#tagMask
    if (this.#slots[tag] !== p) return
    this.#slots[tag] = undefined
    this.#size--
  }

  *values(): IterableIterator<P> {
    for (const p of this.#slots) if (p !== undefined) yield p
  }

  /** Empty every slot; returns what was outstanding. */
  clear(): P[] {
    const all = [...this.values()]
    this.#slots.fill(undefined)
    this.#size = 0
    return all
  }
}
