/**
 * A queue pair's outstanding commands, one slot per tag (the CID's low bits): a lookup by the CID a
 * PDU names is an array index and a CID compare, not a Map hash (four Map operations per command were
 * measurable at QD1: docs/performance.md, round 3). A CID whose tag slot holds another generation, or
 * a tag beyond the queue's depth, finds nothing. Free tags are handed out as CIDs with a 4-bit
 * generation above the tag bits (as the Linux host), so a reused tag gets a new CID.
 */
export class CommandSlots<P extends { readonly cid: number }> {
  readonly #slots: (P | undefined)[]
  readonly #tagMask: number
  /** Free tags, the next one last; and each tag's last generation. */
  readonly #free: number[] = []
  readonly #gen: number[] = []
  #size = 0

  /** `tagMask`: the CID's tag bits (2^k − 1); the generation goes in the 4 bits above them. */
  constructor(o: { depth: number; tagMask: number }) {
    this.#slots = new Array<P | undefined>(o.depth).fill(undefined)
    this.#tagMask = o.tagMask
    for (let t = o.depth - 1; t >= 0; t--) this.#free.push(t)
    for (let t = 0; t < o.depth; t++) this.#gen.push(0)
  }

  /** The CID for a free tag (its generation advanced), or undefined when every tag is in use. */
  nextCid(): number | undefined {
    const tag = this.#free.pop()
    if (tag === undefined) return undefined
    const gen = ((this.#gen[tag] ?? 0) + 1) & 0xf
    this.#gen[tag] = gen
    return tag | (gen * (this.#tagMask + 1))
  }

  /** Give back the tag of a CID from {@link nextCid} that never became a command. */
  release(cid: number): void {
    this.#free.push(cid & this.#tagMask)
  }

  get size(): number {
    return this.#size
  }

  /** The command with exactly this CID, if outstanding. */
  get(cid: number): P | undefined {
    const p = this.#slots[cid & this.#tagMask]
    return p !== undefined && p.cid === cid ? p : undefined
  }

  /** Occupy the slot of `p.cid`'s tag (a CID from {@link nextCid}). */
  add(p: P): void {
    const tag = p.cid & this.#tagMask
    if (this.#slots[tag] === undefined) this.#size++
    this.#slots[tag] = p
  }

  /** Free `p`'s slot and tag (only if the slot still holds `p`). */
  delete(p: P): void {
    const tag = p.cid & this.#tagMask
    if (this.#slots[tag] !== p) return
    this.#slots[tag] = undefined
    this.#size--
    this.#free.push(tag)
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
