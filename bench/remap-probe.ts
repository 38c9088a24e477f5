/**
 * I/O on namespaces that are being remapped, run in the initiator's process (bench/remap-storm.ts).
 *
 * A remap (disable, new UUID, enable) gives the NSID a new identity. Our host does what Linux does
 * ("IDs don't match": remove the old namespace, allocate a new one): the rescan after the
 * Namespace Attribute Changed AEN removes the path, the last path's removal removes the multipath
 * head, and every I/O still addressed to that device — in flight, requeued or submitted later —
 * fails with "device ... removed"; the NSID comes back as a new device. So a workload bound to one
 * device (`runDeviceWorkload`) fails all its I/O after the first remap, by design.
 *
 * This probe instead reopens the device for every I/O, as an application that follows the block
 * device would: it looks the NSID up again (waiting a millisecond while no device is visible), and
 * sorts each failure by whether the device it was issued to had been removed under it (the
 * namespace-gone outcome, expected) or not (a real failure).
 */
import type { NvmeHost } from '../initiator/index.js'
import { seededRandom } from '../lib/clock.js'

export interface RemapProbeJob {
  nsids: number[]
  /** Outstanding I/Os per NSID. */
  qd: number
  blockCount: number
  timeMs: number
  maxOps: number
  seed: number
}

export interface RemapProbeResult {
  /** I/Os issued (completed + namespaceGone + otherErrors). */
  ops: number
  completed: number
  /** Failed because the device they were issued to was removed under them (its identity went away). */
  namespaceGone: number
  /** Failed on a device that was not removed: a real failure. */
  otherErrors: number
  firstOtherError?: string
  firstGoneError?: string
  /** Times a worker found no device for its NSID (between the old one's removal and the new one). */
  noDeviceWaits: number
  /** Distinct devices (identities) that served I/O, over all NSIDs. */
  devicesUsed: number
  elapsedMs: number
}

export async function runRemapProbe(host: NvmeHost, subnqn: string, j: RemapProbeJob): Promise<RemapProbeResult> {
  const r: RemapProbeResult = { ops: 0, completed: 0, namespaceGone: 0, otherErrors: 0, noDeviceWaits: 0, devicesUsed: 0, elapsedMs: 0 }
  const used = new Set<unknown>()
  const start = performance.now()
  const end = start + j.timeMs
  const worker = async (nsid: number, seed: number): Promise<void> => {
    const random = seededRandom(seed)
    let data: Buffer | undefined
    while (performance.now() < end && r.ops < j.maxOps) {
      const d = host.device(nsid, subnqn)
      if (d === undefined) {
        r.noDeviceWaits++
        await new Promise((res) => setTimeout(res, 1))
        continue
      }
      used.add(d)
      const slots = Math.max(1, Math.min(Number(d.head.nsze) / j.blockCount, 2 ** 31))
      const lba = random.int(slots) * j.blockCount
      r.ops++
      try {
        if (random.next() < 0.5) await d.read(lba, j.blockCount)
        else await d.write(lba, (data ??= Buffer.alloc(j.blockCount * d.blockSize, nsid & 0xff)))
        r.completed++
      } catch (e) {
        if (d.head.removed) {
          r.namespaceGone++
          r.firstGoneError ??= (e as Error).message
        } else {
          r.otherErrors++
          r.firstOtherError ??= (e as Error).message
        }
      }
    }
  }
  await Promise.all(j.nsids.flatMap((nsid, i) => Array.from({ length: j.qd }, (_, k) => worker(nsid, j.seed + i * 1000 + k))))
  r.devicesUsed = used.size
  r.elapsedMs = performance.now() - start
  return r
}
