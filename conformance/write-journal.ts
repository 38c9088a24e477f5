/**
 * The target-side write journal: a seam around each namespace store (`createTarget({ wrapStore })`)
 * that records every write as it reaches the store, learns from the completion seam which of them
 * the host was told succeeded, and checks every read the store serves against what the
 * acknowledged writes allow. It catches, from the target's side alone:
 *
 * - a lost write: a write completed with success that never reached the store (a fault answered it),
 *   or a read that returns older content than an acknowledged write;
 * - a corrupted write: a read returning bytes no write ever carried;
 * - a duplicated or reordered-after-ack write: a read returning a write that an acknowledged later
 *   write superseded (a retry of old data landing after newer data was acknowledged).
 *
 * Ordering rule (NVMe Base 2.0 §3.4.1: no ordering between commands in flight together): write X is
 * superseded at a block once some write Y to that block was acknowledged and Y reached the store
 * after X had completed. Overlapping writes in flight together are all acceptable outcomes; only
 * acknowledged order counts. A read is judged against the candidates alive when it started.
 *
 * One subsystem per target (the conformance topologies): completions are matched to stores by NSID.
 */
import type { Clock } from '../lib/clock.js'
import { crc32c } from '../lib/crc32c.js'
import { IoOpcode } from '../lib/nvme/opcodes.js'
import type { NamespaceStore } from '../target/core/namespace-store.js'
import type { HookCommand, HookContext, StoreWrapper } from '../target/index.js'

export type JournalViolationKind = 'ack-without-store' | 'lost-write' | 'stale-read' | 'corrupt-read'

export interface JournalViolation {
  kind: JournalViolationKind
  nsid: number
  /** First block (in the namespace's block size) the violation was seen on. */
  lba: number
  tMs: number
  detail: string
}

/** One write as it reached the store (and, once known, how it completed). */
export interface WriteAttempt {
  seq: number
  nsid: number
  offset: number
  length: number
  /** CRC-32C of the whole payload: equal payloads are the same application write (data patterns carry a version). */
  crc: number
  landedAtMs: number
  completedAtMs?: number
  status?: number
  /** The response reached the wire (no fault dropped it or closed the connection first). */
  acked: boolean
  portId?: number
  cntlid?: number
}

interface Candidate {
  lba: number
  crc: number
  attempt: WriteAttempt | undefined // undefined: zeroes from Write Zeroes / Deallocate
  startTick: number
  /** Tick at which the store operation finished; undefined while it runs. */
  landTick: number | undefined
  /** Superseded from this tick on (an acknowledged later write). */
  deadTick: number | undefined
}

interface BlockState {
  candidates: Candidate[]
  /** The last few superseded candidates, to name what a stale read returned. */
  superseded: Candidate[]
  /** The block's content before any write (unwritten memory reads zeroes) is gone from this tick. */
  baseDeadTick: number | undefined
}

export interface WriteJournalOptions {
  clock: Clock
  /** Keep at most this many write attempts for the checks (oldest first out). Default 200000. */
  maxAttempts?: number
}

export interface JournalStats {
  writes: number
  acked: number
  reads: number
  blocksVerified: number
}

/** A namespace store under the journal: writes recorded, reads verified. */
class JournaledStore implements NamespaceStore {
  readonly #inner: NamespaceStore
  readonly #journal: WriteJournal
  readonly nsid: number
  readonly blockSize: number
  readonly #blocks = new Map<number, BlockState>()
  readonly #zeroCrc: number
  /** Writes that reached the store and wait for their completion, oldest first. */
  readonly pending: Array<{ attempt: WriteAttempt | undefined; opc: number; offset: number; length: number; cands: Candidate[] }> = []

  constructor(inner: NamespaceStore, ns: { nsid: number; blockSize: number }, journal: WriteJournal) {
    this.#inner = inner
    this.#journal = journal
    this.nsid = ns.nsid
    this.blockSize = ns.blockSize
    this.#zeroCrc = crc32c(Buffer.alloc(ns.blockSize))
  }

  get kind(): 'memory' | 'file' {
    return this.#inner.kind
  }
  get size(): number {
    return this.#inner.size
  }

  #block(i: number): BlockState {
    let b = this.#blocks.get(i)
    if (b === undefined) {
      b = { candidates: [], superseded: [], baseDeadTick: undefined }
      this.#blocks.set(i, b)
    }
    return b
  }

  #record(opc: number, offset: number, data: Buffer | undefined, length: number): { cands: Candidate[]; attempt: WriteAttempt | undefined } {
    const j = this.#journal
    const startTick = j.tick()
    const attempt = data === undefined ? undefined : j.newAttempt(this.nsid, offset, data)
    const cands: Candidate[] = []
    const bs = this.blockSize
    for (let pos = 0; pos < length; pos += bs) {
      const crc = data === undefined ? this.#zeroCrc : crc32c(data.subarray(pos, pos + bs))
      const lba = Math.floor((offset + pos) / bs)
      const c: Candidate = { lba, crc, attempt, startTick, landTick: undefined, deadTick: undefined }
      this.#block(lba).candidates.push(c)
      cands.push(c)
    }
    return { cands, attempt }
  }

  async #landed(opc: number, offset: number, length: number, rec: { cands: Candidate[]; attempt: WriteAttempt | undefined }, op: Promise<void>): Promise<void> {
    await op
    const t = this.#journal.tick()
    for (const c of rec.cands) c.landTick = t
    if (rec.attempt !== undefined) rec.attempt.landedAtMs = this.#journal.nowMs()
    this.pending.push({ attempt: rec.attempt, opc, offset, length, cands: rec.cands })
  }

  write(offset: number, data: Buffer): Promise<void> {
    const rec = this.#record(IoOpcode.WRITE, offset, data, data.length)
    return this.#landed(IoOpcode.WRITE, offset, data.length, rec, this.#inner.write(offset, data))
  }
  writeZeroes(offset: number, length: number): Promise<void> {
    const rec = this.#record(IoOpcode.WRITE_ZEROES, offset, undefined, length)
    return this.#landed(IoOpcode.WRITE_ZEROES, offset, length, rec, this.#inner.writeZeroes(offset, length))
  }
  async deallocate(offset: number, length: number): Promise<void> {
    // Dataset Management carries its ranges in data the completion seam does not show: a
    // deallocation counts as acknowledged once the store has done it.
    const rec = this.#record(IoOpcode.DATASET_MANAGEMENT, offset, undefined, length)
    await this.#inner.deallocate(offset, length)
    const t = this.#journal.tick()
    for (const c of rec.cands) c.landTick = t
    this.settle(rec.cands, true)
  }

  /**
   * A write completed. An acknowledged one supersedes, block by block, every write whose store
   * operation had finished before its own began (the store applied them in that order) and the
   * block's original content.
   */
  settle(cands: Candidate[], acked: boolean): void {
    if (!acked) return
    const t = this.#journal.tick()
    for (const c of cands) {
      const b = this.#blocks.get(c.lba)
      if (b === undefined) continue
      b.baseDeadTick ??= t
      for (const x of b.candidates) if (x !== c && x.deadTick === undefined && x.landTick !== undefined && x.landTick < c.startTick) x.deadTick = t
      this.#gc(b)
    }
  }

  /** Forget superseded candidates no read in flight can still be judged against. */
  #gc(b: BlockState): void {
    const oldest = this.#journal.oldestReadTick(this)
    const keep: Candidate[] = []
    for (const x of b.candidates) {
      if (x.deadTick === undefined || x.deadTick > oldest) keep.push(x)
      else {
        b.superseded.push(x)
        if (b.superseded.length > 4) b.superseded.shift()
      }
    }
    b.candidates = keep
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const j = this.#journal
    const startTick = j.tick()
    j.readStarted(this, startTick)
    try {
      const data = await this.#inner.read(offset, length)
      this.#verify(offset, data, startTick)
      return data
    } finally {
      j.readEnded(this, startTick)
    }
  }

  #verify(offset: number, data: Buffer, startTick: number): void {
    const bs = this.blockSize
    const j = this.#journal
    j.stats.reads++
    for (let pos = 0; pos + bs <= data.length; pos += bs) {
      const lba = Math.floor((offset + pos) / bs)
      const b = this.#blocks.get(lba)
      if (b === undefined) continue // never written: nothing to hold it to
      j.stats.blocksVerified++
      const crc = crc32c(data.subarray(pos, pos + bs))
      const alive = (c: Candidate): boolean => c.deadTick === undefined || c.deadTick > startTick
      if (b.candidates.some((c) => c.crc === crc && alive(c))) continue
      const baseAlive = b.baseDeadTick === undefined || b.baseDeadTick > startTick
      if (baseAlive && (this.#inner.kind !== 'memory' || crc === this.#zeroCrc)) continue
      // No acceptable content: name what was read.
      const stale = b.candidates.find((c) => c.crc === crc) ?? b.superseded.find((c) => c.crc === crc)
      let kind: JournalViolationKind
      let what: string
      if (stale !== undefined && stale.attempt !== undefined) {
        kind = 'stale-read'
        what = `content of write #${stale.attempt.seq} (landed at ${stale.attempt.landedAtMs} ms), superseded by a later acknowledged write (reordered or duplicated after ack)`
      } else if (crc === this.#zeroCrc && !baseAlive) {
        kind = 'lost-write'
        what = 'zeroes, but an acknowledged write to this block exists (lost write)'
      } else {
        kind = 'corrupt-read'
        what = `bytes (crc32c 0x${crc.toString(16)}) that no write to this block carried (corruption)`
      }
      j.violation({ kind, nsid: this.nsid, lba, detail: `read of nsid ${this.nsid} LBA ${lba} returned ${what}` })
      return // one violation per read is enough evidence
    }
  }

  async flush(): Promise<void> {
    return this.#inner.flush()
  }
  async resize(size: number): Promise<void> {
    await this.#inner.resize(size)
    const first = Math.floor(size / this.blockSize)
    for (const i of [...this.#blocks.keys()]) if (i >= first) this.#blocks.delete(i)
  }
  async close(): Promise<void> {
    return this.#inner.close()
  }
  allocatedBytes(): number {
    return this.#inner.allocatedBytes()
  }
}

/** The journal of one target (all of its namespace stores). */
export class WriteJournal {
  readonly stats: JournalStats = { writes: 0, acked: 0, reads: 0, blocksVerified: 0 }
  readonly violations: JournalViolation[] = []
  readonly #clock: Clock
  readonly #t0: number
  readonly #maxAttempts: number
  readonly #attempts: WriteAttempt[] = []
  /** The store currently serving each NSID (the latest one opened). */
  readonly #stores = new Map<number, JournaledStore>()
  readonly #reads = new Map<JournaledStore, Map<number, number>>()
  #tick = 0
  #seq = 0

  constructor(o: WriteJournalOptions) {
    this.#clock = o.clock
    this.#t0 = o.clock.now()
    this.#maxAttempts = o.maxAttempts ?? 200_000
  }

  /** The store seam for `createTarget({ wrapStore })`. */
  readonly wrapStore: StoreWrapper = (store, ns) => {
    const s = new JournaledStore(store, ns, this)
    this.#stores.set(ns.nsid, s)
    return s
  }

  nowMs(): number {
    return this.#clock.now() - this.#t0
  }
  tick(): number {
    return ++this.#tick
  }

  newAttempt(nsid: number, offset: number, data: Buffer): WriteAttempt {
    const a: WriteAttempt = { seq: ++this.#seq, nsid, offset, length: data.length, crc: crc32c(data), landedAtMs: -1, acked: false }
    this.stats.writes++
    this.#attempts.push(a)
    if (this.#attempts.length > this.#maxAttempts) this.#attempts.shift()
    return a
  }

  /** Every write that reached a store, oldest first. */
  get attempts(): readonly WriteAttempt[] {
    return this.#attempts
  }

  violation(v: Omit<JournalViolation, 'tMs'>): void {
    if (this.violations.length < 100) this.violations.push({ ...v, tMs: this.nowMs() })
  }

  readStarted(s: JournaledStore, tick: number): void {
    let m = this.#reads.get(s)
    if (m === undefined) this.#reads.set(s, (m = new Map()))
    m.set(tick, (m.get(tick) ?? 0) + 1)
  }
  readEnded(s: JournaledStore, tick: number): void {
    const m = this.#reads.get(s)
    if (m === undefined) return
    const n = (m.get(tick) ?? 1) - 1
    if (n <= 0) m.delete(tick)
    else m.set(tick, n)
  }
  oldestReadTick(s: JournaledStore): number {
    let min = Number.POSITIVE_INFINITY
    for (const t of this.#reads.get(s)?.keys() ?? []) if (t < min) min = t
    return min
  }

  /**
   * A command hook answered a command itself (`complete` at the command seam): a write answered
   * with success that way never reached the store — the host was told it was written.
   */
  answeredByHook(ctx: HookContext, cmd: HookCommand, status: number): void {
    if (cmd.kind !== 'io' || status !== 0 || (cmd.opc !== IoOpcode.WRITE && cmd.opc !== IoOpcode.WRITE_ZEROES)) return
    this.violation({
      kind: 'ack-without-store',
      nsid: cmd.nsid,
      lba: Number(cmd.slba ?? 0n),
      detail: `write to nsid ${cmd.nsid} LBA ${String(cmd.slba ?? '?')} (+${(cmd.nlb ?? 0) + 1} blocks) on port ${ctx.portId} was completed with success without reaching the store (lost write)`,
    })
  }

  /**
   * The completion seam, after every other hook decided: `status` is what the host is sent and
   * `sent` false when the response never leaves (dropped, connection closed instead).
   */
  completed(ctx: HookContext, cmd: HookCommand, status: number, sent: boolean): void {
    if (cmd.kind !== 'io' || (cmd.opc !== IoOpcode.WRITE && cmd.opc !== IoOpcode.WRITE_ZEROES)) return
    const store = this.#stores.get(cmd.nsid)
    if (store === undefined || cmd.slba === undefined || cmd.nlb === undefined) return
    const offset = Number(cmd.slba) * store.blockSize
    const length = (cmd.nlb + 1) * store.blockSize
    const i = store.pending.findIndex((p) => p.opc === cmd.opc && p.offset === offset && p.length === length)
    const acked = sent && status === 0
    if (i < 0) {
      if (acked) this.answeredByHook(ctx, cmd, 0)
      return
    }
    const p = store.pending.splice(i, 1)[0]!
    if (p.attempt !== undefined) {
      p.attempt.completedAtMs = this.nowMs()
      p.attempt.status = status
      p.attempt.acked = acked
      p.attempt.portId = ctx.portId
      if (ctx.cntlid !== undefined) p.attempt.cntlid = ctx.cntlid
    }
    if (acked) this.stats.acked++
    store.settle(p.cands, acked)
  }

  /** Writes still waiting for their completion (their connection went away, or still in flight). */
  pendingCount(): number {
    let n = 0
    for (const s of this.#stores.values()) n += s.pending.length
    return n
  }
}
