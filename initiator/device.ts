/**
 * The public face of a namespace: a multipath device. Every call becomes a {@link HostIo} submitted
 * to the head, and resolves once the I/O settled (on whichever path, after any failovers). Arguments
 * are validated before anything is queued (InvalidArgumentError naming the argument).
 */
import { Readable, Writable } from 'node:stream'
import type { Clock } from '../lib/clock.js'
import { InvalidArgumentError } from '../lib/errors.js'
import { emptyQosFlags, type HostIo, type IoOp } from './host-io.js'
import type { MultipathHead } from './multipath-head.js'
import type { NsIds } from './ns-ids.js'

export interface DeviceInfo {
  id: string
  subnqn: string
  nsid: number
  ids: NsIds
  blockSize: number
  nsze: bigint
  capacityBytes: bigint
}

export interface DiscardRange {
  slba: bigint | number
  nlb: number
}

const toVoid = (): void => undefined

/** Max logical blocks per command (NLB is a 0's based 16-bit field: NVMe Base 2.0 NVM cmd set 3.2). */
export const MAX_NLB = 65536

export class NvmeDevice {
  readonly head: MultipathHead
  readonly #clock: Clock
  readonly #nextId: () => number
  constructor(options: { head: MultipathHead; clock: Clock; nextIoId: () => number }) {
    this.head = options.head
    this.#clock = options.clock
    this.#nextId = options.nextIoId
  }
  get id(): string {
    return this.head.id
  }
  get nsid(): number {
    return this.head.nsid
  }
  get blockSize(): number {
    return this.head.blockSize
  }
  get info(): DeviceInfo {
    const h = this.head
    return { id: h.id, subnqn: h.subnqn, nsid: h.nsid, ids: h.ids, blockSize: h.blockSize, nsze: h.nsze, capacityBytes: h.nsze * BigInt(h.blockSize) }
  }

  #lba(name: string, v: bigint | number): bigint {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(name, `must be a non-negative integer LBA, got ${v}`)
      return BigInt(v)
    }
    if (typeof v !== 'bigint' || v < 0n) throw new InvalidArgumentError(name, 'must be a non-negative LBA')
    return v
  }
  #range(slba: bigint, nlb: number, nlbName = 'nlb'): void {
    if (!Number.isInteger(nlb) || nlb < 1 || nlb > MAX_NLB) throw new InvalidArgumentError(nlbName, `must be an integer in [1, ${MAX_NLB}], got ${nlb}`)
    if (slba + BigInt(nlb) > this.head.nsze) {
      throw new InvalidArgumentError('slba', `range ${slba}+${nlb} exceeds the namespace size of ${this.head.nsze} blocks`)
    }
  }

  #submit(op: IoOp, slba: bigint, nlb: number, data: Buffer | undefined, length: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => this.#issue(op, slba, nlb, data, length, resolve, reject))
  }

  #issue(op: IoOp, slba: bigint, nlb: number, data: Buffer | undefined, length: number, resolve: (buf: Buffer) => void, reject: (err: Error) => void): void {
    const io: HostIo = {
      id: this.#nextId(),
      op,
      slba,
      nlb,
      data,
      length,
      submittedAt: this.#clock.now(),
      device: this.head,
      qos: emptyQosFlags(),
      retries: 0,
      failovers: 0,
      history: [],
      issuedAt: 0,
      issuedOn: undefined,
      settled: false,
      resolve,
      reject,
    }
    this.head.submit(io)
  }

  /**
   * {@link read} without a promise, for loops that issue their next I/O from the last one's
   * completion (the workload): no promise, microtask or async resume between the data's arrival and
   * the next command (docs/performance.md, round 4). `done` gets the data or the error, once, never
   * from inside this call; bad arguments throw here, as `read` rejects for them.
   */
  readWith(slba: bigint | number, nlb: number, done: (err: Error | undefined, data: Buffer | undefined) => void): void {
    const s = this.#lba('slba', slba)
    this.#range(s, nlb)
    if (nlb > this.maxBlocksPerCommand) {
      this.read(s, nlb).then(
        (buf) => done(undefined, buf),
        (err: unknown) => done(err as Error, undefined),
      )
      return
    }
    // An I/O the head settles at once (a removed device) must not call back into the caller's loop
    // from inside this call.
    let inside = true
    const settle = (err: Error | undefined, buf: Buffer | undefined): void => {
      if (inside) queueMicrotask(() => done(err, buf))
      else done(err, buf)
    }
    this.#issue(
      'read',
      s,
      nlb,
      undefined,
      nlb * this.head.blockSize,
      (buf) => settle(undefined, buf),
      (err) => settle(err, undefined),
    )
    inside = false
  }

  /** Blocks per command: at most 1 MiB and the smallest MDTS among the head's paths. */
  get maxBlocksPerCommand(): number {
    let bytes = 1 << 20
    for (const p of this.head.paths) {
      const m = (p.backend as { maxTransferBytes?: number }).maxTransferBytes
      if (m !== undefined && m > 0) bytes = Math.min(bytes, m)
    }
    return Math.max(1, Math.floor(bytes / this.head.blockSize))
  }

  /** Read `nlb` blocks from `slba` (split into commands of at most {@link maxBlocksPerCommand}). */
  read(slba: bigint | number, nlb: number): Promise<Buffer> {
    const s = this.#lba('slba', slba)
    this.#range(s, nlb)
    const per = this.maxBlocksPerCommand
    if (nlb <= per) return this.#submit('read', s, nlb, undefined, nlb * this.head.blockSize)
    const parts: Promise<Buffer>[] = []
    for (let off = 0; off < nlb; off += per) {
      const n = Math.min(per, nlb - off)
      parts.push(this.#submit('read', s + BigInt(off), n, undefined, n * this.head.blockSize))
    }
    return Promise.all(parts).then((bufs) => Buffer.concat(bufs))
  }
  /**
   * Write `data` (a whole number of blocks) at `slba`. A bad argument rejects (nothing is queued).
   * Not an async function: a write that fits one command costs one promise more than a read, not an
   * async frame and a Promise.all (docs/performance.md, round 4).
   */
  write(slba: bigint | number, data: Uint8Array): Promise<void> {
    let s: bigint
    let nlb: number
    try {
      s = this.#lba('slba', slba)
      if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('data', 'must be a Buffer or Uint8Array')
      if (data.length === 0 || data.length % this.head.blockSize !== 0) {
        throw new InvalidArgumentError('data', `length ${data.length} must be a non-zero multiple of the block size ${this.head.blockSize}`)
      }
      nlb = data.length / this.head.blockSize
      this.#range(s, nlb, 'data')
    } catch (err) {
      return Promise.reject(err as Error)
    }
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    const per = this.maxBlocksPerCommand
    if (nlb <= per) return this.#submit('write', s, nlb, buf, buf.length).then(toVoid)
    const bs = this.head.blockSize
    const parts: Promise<Buffer>[] = []
    for (let off = 0; off < nlb; off += per) {
      const n = Math.min(per, nlb - off)
      parts.push(this.#submit('write', s + BigInt(off), n, buf.subarray(off * bs, (off + n) * bs), n * bs))
    }
    return Promise.all(parts).then(toVoid)
  }
  async flush(): Promise<void> {
    await this.#submit('flush', 0n, 0, undefined, 0)
  }
  async writeZeroes(slba: bigint | number, nlb: number): Promise<void> {
    const s = this.#lba('slba', slba)
    this.#range(s, nlb)
    await this.#submit('write-zeroes', s, nlb, undefined, 0)
  }
  /** Deallocate one range (Dataset Management, AD). */
  async discard(slba: bigint | number, nlb: number): Promise<void> {
    const s = this.#lba('slba', slba)
    this.#range(s, nlb)
    await this.#submit('discard', s, nlb, undefined, 0)
  }

  /** A Readable over `[start, end)` bytes (block aligned), read `chunkBlocks` at a time. */
  createReadStream(options: { start?: number; end?: number; chunkBlocks?: number } = {}): Readable {
    const bs = this.head.blockSize
    const start = options.start ?? 0
    const end = options.end ?? Number(this.head.nsze * BigInt(bs))
    const chunk = options.chunkBlocks ?? 32
    if (!Number.isSafeInteger(start) || start < 0 || start % bs !== 0) throw new InvalidArgumentError('start', `must be a block-aligned byte offset (block size ${bs})`)
    if (!Number.isSafeInteger(end) || end < start || end % bs !== 0) throw new InvalidArgumentError('end', `must be a block-aligned byte offset >= start`)
    if (!Number.isInteger(chunk) || chunk < 1 || chunk > MAX_NLB) throw new InvalidArgumentError('chunkBlocks', `must be an integer in [1, ${MAX_NLB}]`)
    let pos = start
    const readable: Readable = new Readable({
      read: () => {
        if (pos >= end) {
          readable.push(null)
          return
        }
        const nlb = Math.min(chunk, (end - pos) / bs)
        const lba = pos / bs
        pos += nlb * bs
        this.read(lba, nlb).then(
          (buf) => readable.push(buf),
          (err: unknown) => readable.destroy(err as Error),
        )
      },
    })
    return readable
  }

  /** A Writable from byte offset `start` (block aligned); a trailing partial block is an error. */
  createWriteStream(options: { start?: number } = {}): Writable {
    const bs = this.head.blockSize
    const start = options.start ?? 0
    if (!Number.isSafeInteger(start) || start < 0 || start % bs !== 0) throw new InvalidArgumentError('start', `must be a block-aligned byte offset (block size ${bs})`)
    let pos = start
    let pending: Buffer = Buffer.alloc(0)
    const flushWhole = async (final: boolean): Promise<void> => {
      const whole = Math.floor(pending.length / bs) * bs
      if (final && whole !== pending.length) throw new InvalidArgumentError('data', `stream ended with ${pending.length - whole} bytes short of a whole block`)
      let off = 0
      while (off < whole) {
        const len = Math.min(whole - off, MAX_NLB * bs)
        await this.write(pos / bs, pending.subarray(off, off + len))
        pos += len
        off += len
      }
      pending = Buffer.from(pending.subarray(whole))
    }
    return new Writable({
      write: (c: Buffer, _enc, cb) => {
        pending = pending.length === 0 ? c : Buffer.concat([pending, c])
        flushWhole(false).then(() => cb(), cb)
      },
      final: (cb) => {
        flushWhole(true).then(() => cb(), cb)
      },
    })
  }

  stats(): Record<string, unknown> {
    return this.head.stats()
  }
}
