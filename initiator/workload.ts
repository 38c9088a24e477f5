/**
 * A bounded read/write/verify workload over an {@link NvmeDevice}, used by `nvmf-fault io`: `qd`
 * workers issue I/O of `blockCount` blocks at random (seeded) or sequential LBAs until `count`
 * operations or `timeMs` elapsed. In `verify` mode every write is read back and compared, and a
 * journal of the last acknowledged pattern per LBA is kept for a final pass. Latency goes into an
 * HDR histogram (µs); failovers are read from the head's counters.
 */
import * as hdr from 'hdr-histogram-js'
import type { Clock, Random } from '../lib/clock.js'
import { InvalidArgumentError } from '../lib/errors.js'
import type { NvmeDevice } from './device.js'
import { summarize, type LatencySummary } from './qos/latency-tracker.js'

export const WORKLOAD_MODES = ['read', 'write', 'randrw', 'verify'] as const
export type WorkloadMode = (typeof WORKLOAD_MODES)[number]

export interface WorkloadOptions {
  mode: WorkloadMode
  /** Blocks per I/O. */
  blockCount?: number
  /** Concurrent workers. */
  qd?: number
  /** Total operations (bound). */
  count?: number
  /** Time bound (ms). */
  timeMs?: number
  /** Restrict LBAs to the first `spanBlocks` blocks (default: whole namespace, capped at 2^20). */
  spanBlocks?: number
  sequential?: boolean
  clock: Clock
  random: Random
  onProgress?: (p: WorkloadProgress) => void
  /** Progress callback period (ms). */
  progressMs?: number
}

export interface WorkloadProgress {
  done: number
  total: number | undefined
  elapsedMs: number
  errors: number
}

export interface WorkloadSummary {
  ops: number
  reads: number
  writes: number
  errors: number
  verifyFailures: number
  elapsedMs: number
  iops: number
  mbps: number
  latency: LatencySummary
  failovers: number
  requeued: number
  firstError: string | undefined
}

/** The grain of the pattern: each 512-byte unit carries its own header (as fio's scramble_buffers). */
const UNIT = 512

/**
 * The bytes written for (lba, version), for I/Os of `bytes` (a multiple of 512): every 512-byte unit
 * starts with its own LBA (low 32 bits) and a hash of the version, little endian; its other 504 bytes
 * are a filler that depends only on the offset. A misdirected, lost or stale write shows in a unit's
 * header, a changed byte anywhere in the comparison. Per write that is one copy of the filler and two
 * words per unit: computing every word (the pattern before) cost 1.5-2 µs of the initiator's CPU per
 * 4 KiB write, more than the rest of the workload (docs/performance.md, round 4).
 */
function patterns(bytes: number): (lba: bigint, version: number, alloc?: (bytes: number) => Buffer) => Buffer {
  const filler = Buffer.allocUnsafe(bytes)
  for (let i = 0; i < bytes; i += 4) filler.writeUInt32LE(Math.imul(i + 1, 0x85ebca6b) >>> 0, i)
  return (lba, version, alloc = Buffer.allocUnsafe) => {
    const b = alloc(bytes)
    filler.copy(b)
    // A DataView: several times cheaper per word than Buffer.writeUInt32LE (round 2).
    const v = new DataView(b.buffer, b.byteOffset, bytes)
    const lo = Number(lba & 0xffffffffn)
    const h = Math.imul(version, 0x9e3779b1) >>> 0
    for (let u = 0; u < bytes; u += UNIT) {
      v.setUint32(u, (lo + u / UNIT) >>> 0, true)
      v.setUint32(u + 4, h, true)
    }
    return b
  }
}

/** Write buffers: consecutive pieces of one slab, a new slab when the tail is too short. */
const WRITE_SLAB = 256 * 1024

/**
 * Buffers for the data of writes, carved from 256 KiB slabs and never handed out twice (a piece the
 * transport may still hold is never written again). `Buffer.allocUnsafe(4096)` is just past Node's
 * shared pool (it serves sizes below 4 KiB), so every 4 KiB write cost a new ArrayBuffer, and that
 * external memory makes V8 collect more often (docs/performance.md, round 4).
 */
function writeBuffers(): (bytes: number) => Buffer {
  let slab = Buffer.allocUnsafe(0)
  let used = 0
  return (bytes) => {
    if (bytes > WRITE_SLAB / 4) return Buffer.allocUnsafe(bytes)
    if (slab.length - used < bytes) {
      slab = Buffer.allocUnsafe(WRITE_SLAB)
      used = 0
    }
    used += bytes
    return slab.subarray(used - bytes, used)
  }
}

export async function runDeviceWorkload(device: NvmeDevice, o: WorkloadOptions): Promise<WorkloadSummary> {
  if (!WORKLOAD_MODES.includes(o.mode)) throw new InvalidArgumentError('mode', `must be one of ${WORKLOAD_MODES.join(', ')}`)
  const bc = o.blockCount ?? 8
  const qd = o.qd ?? 8
  if (!Number.isInteger(bc) || bc < 1 || bc > 65536) throw new InvalidArgumentError('blockCount', 'must be an integer in [1, 65536]')
  if (!Number.isInteger(qd) || qd < 1 || qd > 1024) throw new InvalidArgumentError('qd', 'must be an integer in [1, 1024]')
  if (o.count === undefined && o.timeMs === undefined) throw new InvalidArgumentError('count', 'a count or a time bound is required')
  if (o.count !== undefined && (!Number.isInteger(o.count) || o.count < 1)) throw new InvalidArgumentError('count', 'must be a positive integer')
  if (o.timeMs !== undefined && (!Number.isFinite(o.timeMs) || o.timeMs <= 0)) throw new InvalidArgumentError('timeMs', 'must be a positive number of ms')
  const nsze = device.head.nsze
  const span = BigInt(Math.max(bc, Math.min(o.spanBlocks ?? 1 << 20, Number(nsze > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : nsze))))
  const slots = span / BigInt(bc)
  if (slots < 1n) throw new InvalidArgumentError('blockCount', `larger than the namespace (${nsze} blocks)`)
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
  const journal = new Map<bigint, number>()
  const writeBuffer = writeBuffers()
  const bytes = bc * device.blockSize
  const pattern = patterns(bytes)
  const start = o.clock.now()
  const f0 = device.head.counters.failovers
  const r0 = device.head.counters.requeued
  const s: Omit<WorkloadSummary, 'latency' | 'iops' | 'mbps' | 'elapsedMs' | 'failovers' | 'requeued'> = {
    ops: 0,
    reads: 0,
    writes: 0,
    errors: 0,
    verifyFailures: 0,
    firstError: undefined,
  }
  let issued = 0
  let seq = 0n
  let version = 0
  const expired = (): boolean => (o.count !== undefined && issued >= o.count) || (o.timeMs !== undefined && o.clock.now() - start >= o.timeMs)
  // An LBA is used by one worker at a time, so the journal always names the content to expect. Only
  // runs that both write and read keep a journal: a read-only run writes nothing, a write-only run
  // reads nothing back; their workers need no exclusion (as fio's random jobs).
  const exclusive = o.mode === 'randrw' || o.mode === 'verify'
  const busy = new Set<bigint>()
  const randomSlots = Number(slots > 2n ** 31n ? 2n ** 31n : slots)
  const bcBig = BigInt(bc)
  const nextLba = (): bigint => {
    for (let tries = 0; ; tries++) {
      const slot = o.sequential === true ? seq++ % slots : BigInt(o.random.int(randomSlots))
      const lba = slot * bcBig
      if (!exclusive || !busy.has(lba) || tries > 64) return lba
    }
  }
  let lastProgress = start
  const progress = (): void => {
    if (o.onProgress === undefined) return
    const now = o.clock.now()
    if (now - lastProgress >= (o.progressMs ?? 200)) {
      lastProgress = now
      o.onProgress({ done: s.ops, total: o.count, elapsedMs: now - start, errors: s.errors })
    }
  }
  // Latency of one I/O from just before the call to just after its promise settled (µs); measured
  // inline, no wrapper closure or extra promise per I/O (docs/performance.md, round 3).
  const record = (t0: number): void => {
    hist.recordValue(Math.max(1, Math.round((o.clock.now() - t0) * 1000)))
  }
  const worker = async (): Promise<void> => {
    while (!expired()) {
      issued++
      const lba = nextLba()
      if (exclusive) {
        if (busy.has(lba)) {
          // The namespace span is smaller than the queue depth: wait for a turn.
          await new Promise<void>((r) => o.clock.setTimeout(r, 1))
          issued--
          continue
        }
        busy.add(lba)
      }
      const write = o.mode === 'write' || o.mode === 'verify' || (o.mode === 'randrw' && o.random.next() < 0.5)
      try {
        if (write) {
          const v = ++version
          const data = pattern(lba, v, writeBuffer)
          // Claim the LBA before the write so a concurrent writer's journal entry cannot go stale.
          let t0 = o.clock.now()
          await device.write(lba, data)
          record(t0)
          if (exclusive) journal.set(lba, v)
          s.writes++
          if (o.mode === 'verify') {
            t0 = o.clock.now()
            const back = await device.read(lba, bc)
            record(t0)
            s.reads++
            if (!back.equals(data)) s.verifyFailures++
          }
        } else {
          const t0 = o.clock.now()
          const back = await device.read(lba, bc)
          record(t0)
          s.reads++
          const v = journal.get(lba)
          if (v !== undefined && !back.equals(pattern(lba, v))) s.verifyFailures++
        }
      } catch (err) {
        s.errors++
        s.firstError ??= (err as Error).message
        // The content of a failed write is unknown.
        journal.delete(lba)
      } finally {
        if (exclusive) busy.delete(lba)
      }
      s.ops++
      progress()
    }
  }
  // A read-only run chains each worker's reads by callback: the next command is written straight
  // from the last one's completion (no promise, microtask or async resume in between), and the
  // bookkeeping that can wait (histogram, progress) runs after it, while the controller works
  // (docs/performance.md, round 4). The async worker above does the same for the other modes.
  const readWorker = (): Promise<void> =>
    new Promise<void>((finish) => {
      let t0 = 0
      const issue = (): void => {
        if (expired()) return finish()
        issued++
        t0 = o.clock.now()
        try {
          device.readWith(nextLba(), bc, onRead)
        } catch (err) {
          // Never call back from inside issue(): a loop of synchronous failures would grow the stack.
          queueMicrotask(() => onRead(err as Error))
        }
      }
      const onRead = (err: Error | undefined): void => {
        const us = err === undefined ? Math.max(1, Math.round((o.clock.now() - t0) * 1000)) : 0
        if (err === undefined) s.reads++
        else {
          s.errors++
          s.firstError ??= err.message
        }
        s.ops++
        issue()
        if (us > 0) hist.recordValue(us)
        progress()
      }
      issue()
    })
  await Promise.all(Array.from({ length: qd }, () => (o.mode === 'read' ? readWorker() : worker())))
  const elapsedMs = Math.max(1, o.clock.now() - start)
  o.onProgress?.({ done: s.ops, total: o.count, elapsedMs, errors: s.errors })
  return {
    ...s,
    elapsedMs,
    iops: Math.round((s.ops * 1000) / elapsedMs),
    mbps: Math.round(((s.ops * bytes) / 1e6 / (elapsedMs / 1000)) * 100) / 100,
    latency: summarize(hist),
    failovers: device.head.counters.failovers - f0,
    requeued: device.head.counters.requeued - r0,
  }
}
