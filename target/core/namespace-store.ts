/**
 * Namespace backing stores: a sparse in-memory store (default) and a file store whose flush reaches
 * the disk (fdatasync). Offsets and lengths are bytes; callers (the I/O commands) have already checked
 * them against the namespace size.
 */
// The module's Buffer, not the global: in ESM the global is a getter run on every use (hot path).
import { Buffer } from 'node:buffer'
import { open, type FileHandle } from 'node:fs/promises'
import { InvalidArgumentError } from '../../lib/errors.js'

export interface NamespaceStore {
  readonly kind: 'memory' | 'file'
  /** Size in bytes. */
  readonly size: number
  read(offset: number, length: number): Promise<Buffer>
  write(offset: number, data: Buffer): Promise<void>
  writeZeroes(offset: number, length: number): Promise<void>
  /** Deallocate (DSM AD): reads of the range return zeroes afterwards. */
  deallocate(offset: number, length: number): Promise<void>
  /** Make completed writes durable (Flush). */
  flush(): Promise<void>
  resize(size: number): Promise<void>
  close(): Promise<void>
  /** Bytes actually held (memory store) or the file size. */
  allocatedBytes(): number
}

const CHUNK = 64 * 1024

/**
 * Sparse memory: 64 KiB chunks allocated on first write; unwritten chunks read as zeroes.
 *
 * Reads for the I/O path ({@link readView}) return a view into a chunk instead of a copy when the
 * range lies in one chunk. The view may still be queued on a socket (or held by a fault) after the
 * command completed, so a chunk that has been lent out is copied before it is changed (copy on
 * write): the bytes a read returned never change under it, whatever the host writes next, and a
 * data digest computed over them stays right.
 */
export class MemoryStore implements NamespaceStore {
  readonly kind = 'memory' as const
  #size: number
  #chunks = new Map<number, Buffer>()
  /** Chunks with views lent out by readView: copied before the next change. */
  readonly #lent = new Set<number>()
  /** Lent for reads of unwritten chunks; never written. */
  #zeroes: Buffer | undefined
  constructor(options: { size: number }) {
    if (!Number.isSafeInteger(options.size) || options.size < 0) throw new InvalidArgumentError('size', 'must be a non-negative integer (bytes)')
    this.#size = options.size
  }
  get size(): number {
    return this.#size
  }
  /** A copy of the range (the caller may keep or change it), in a buffer from `alloc`. */
  readSync(offset: number, length: number, alloc: (bytes: number) => Buffer = Buffer.allocUnsafe): Buffer {
    const out = alloc(length)
    let pos = offset
    while (pos < offset + length) {
      const idx = Math.floor(pos / CHUNK)
      const within = pos - idx * CHUNK
      const n = Math.min(CHUNK - within, offset + length - pos)
      const chunk = this.#chunks.get(idx)
      if (chunk !== undefined) chunk.copy(out, pos - offset, within, within + n)
      else out.fill(0, pos - offset, pos - offset + n)
      pos += n
    }
    return out
  }
  /**
   * The range for sending: a read-only view when it lies in one chunk (no copy), else a copy. The
   * caller must not write into it. `alloc` provides the buffer for a copy.
   */
  readView(offset: number, length: number, alloc?: (bytes: number) => Buffer): Buffer {
    const idx = Math.floor(offset / CHUNK)
    const within = offset - idx * CHUNK
    if (within + length > CHUNK) return this.readSync(offset, length, alloc)
    const chunk = this.#chunks.get(idx)
    if (chunk === undefined) {
      this.#zeroes ??= Buffer.alloc(CHUNK)
      return this.#zeroes.subarray(0, length)
    }
    this.#lent.add(idx)
    return chunk.subarray(within, within + length)
  }
  /** The chunk to change in place: a fresh copy if views of it are out. */
  #own(idx: number, chunk: Buffer): Buffer {
    if (!this.#lent.delete(idx)) return chunk
    const copy = Buffer.allocUnsafe(CHUNK)
    chunk.copy(copy)
    this.#chunks.set(idx, copy)
    return copy
  }
  writeSync(offset: number, data: Buffer): void {
    let pos = offset
    const end = offset + data.length
    while (pos < end) {
      const idx = Math.floor(pos / CHUNK)
      const within = pos - idx * CHUNK
      const n = Math.min(CHUNK - within, end - pos)
      let chunk = this.#chunks.get(idx)
      if (chunk === undefined) {
        chunk = Buffer.alloc(CHUNK)
        this.#chunks.set(idx, chunk)
      } else chunk = this.#own(idx, chunk)
      data.copy(chunk, within, pos - offset, pos - offset + n)
      pos += n
    }
  }
  #zero(offset: number, length: number): void {
    let pos = offset
    const end = offset + length
    while (pos < end) {
      const idx = Math.floor(pos / CHUNK)
      const within = pos - idx * CHUNK
      const n = Math.min(CHUNK - within, end - pos)
      const chunk = this.#chunks.get(idx)
      if (chunk !== undefined) {
        if (n === CHUNK) {
          this.#chunks.delete(idx)
          this.#lent.delete(idx)
        } else this.#own(idx, chunk).fill(0, within, within + n)
      }
      pos += n
    }
  }
  async read(offset: number, length: number): Promise<Buffer> {
    return this.readSync(offset, length)
  }
  async write(offset: number, data: Buffer): Promise<void> {
    this.writeSync(offset, data)
  }
  async writeZeroes(offset: number, length: number): Promise<void> {
    this.#zero(offset, length)
  }
  async deallocate(offset: number, length: number): Promise<void> {
    this.#zero(offset, length)
  }
  async flush(): Promise<void> {}
  async resize(size: number): Promise<void> {
    if (size < this.#size) this.#zero(size, Math.ceil(this.#size / CHUNK) * CHUNK - size)
    this.#size = size
  }
  async close(): Promise<void> {
    this.#chunks.clear()
    this.#lent.clear()
  }
  allocatedBytes(): number {
    return this.#chunks.size * CHUNK
  }
}

/** A regular file (created sparse if missing). Flush is fdatasync, so it reaches the disk. */
export class FileStore implements NamespaceStore {
  readonly kind = 'file' as const
  readonly path: string
  #size: number
  #fh: FileHandle
  private constructor(path: string, fh: FileHandle, size: number) {
    this.path = path
    this.#fh = fh
    this.#size = size
  }
  /** Opens (creating if needed) `path`; `size` extends the file (never shrinks existing data). */
  static async open(options: { path: string; size?: number }): Promise<FileStore> {
    const fh = await open(options.path, 'a+').then(async (h) => {
      await h.close()
      return open(options.path, 'r+')
    })
    const st = await fh.stat()
    let size = st.size
    if (options.size !== undefined) {
      if (!Number.isSafeInteger(options.size) || options.size < 0) {
        await fh.close()
        throw new InvalidArgumentError('size', 'must be a non-negative integer (bytes)')
      }
      if (st.size < options.size) await fh.truncate(options.size)
      size = options.size
    }
    return new FileStore(options.path, fh, size)
  }
  get size(): number {
    return this.#size
  }
  async read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await this.#fh.read(out, done, length - done, offset + done)
      if (bytesRead === 0) break // beyond EOF reads as zeroes
      done += bytesRead
    }
    return out
  }
  async write(offset: number, data: Buffer): Promise<void> {
    let done = 0
    while (done < data.length) {
      const { bytesWritten } = await this.#fh.write(data, done, data.length - done, offset + done)
      done += bytesWritten
    }
  }
  async writeZeroes(offset: number, length: number): Promise<void> {
    const zero = Buffer.alloc(Math.min(length, 1 << 20))
    for (let pos = 0; pos < length; pos += zero.length) {
      await this.write(offset + pos, zero.subarray(0, Math.min(zero.length, length - pos)))
    }
  }
  async deallocate(offset: number, length: number): Promise<void> {
    // No portable hole punching from Node: deallocated blocks must read as zeroes (DLFEAT 001b).
    await this.writeZeroes(offset, length)
  }
  /**
   * Flush (and FUA): fdatasync — the written data and the metadata needed to read it back (the file
   * size) reach the disk; timestamps need not (NVMe Base 2.0 section 7.1 Flush, 6.15 FUA).
   */
  async flush(): Promise<void> {
    await this.#fh.datasync()
  }
  async resize(size: number): Promise<void> {
    await this.#fh.truncate(size)
    this.#size = size
  }
  async close(): Promise<void> {
    await this.#fh.close()
  }
  allocatedBytes(): number {
    return this.#size
  }
}
