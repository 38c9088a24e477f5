/**
 * A verified I/O workload for the initiator tests: each writer owns a disjoint LBA range and writes
 * versioned patterns sequentially (waiting for each acknowledgement), so the last acknowledged
 * version of every LBA is exactly what the namespace must hold. A host-side journal records it; reads
 * during the run check the data, and `verifyAgainst` compares the journal with the target's store
 * (target.readNamespace). A stale duplicate of an older write landing after a newer one shows up as
 * a mismatch there.
 */
import type { NvmeDevice } from '../../../initiator/device.js'

export function pattern(lba: number, version: number, bs: number): Buffer {
  const b = Buffer.alloc(bs)
  b.writeUInt32LE(lba, 0)
  b.writeUInt32LE(version, 4)
  for (let i = 8; i < bs; i += 4) b.writeUInt32LE((Math.imul(lba + 1, 0x9e3779b1) ^ Math.imul(version + 7, 0x85ebca6b) ^ i) >>> 0, i)
  return b
}

export interface WorkloadResult {
  writes: number
  reads: number
  readMismatches: number
  errors: Error[]
  journal: Map<number, number>
}

export interface WorkloadOptions {
  device: NvmeDevice
  writers: number
  /** LBAs per writer. */
  span: number
  /** Keep going until this resolves (then `tailOps` more per writer). */
  until: Promise<unknown>
  tailOps?: number
  /** Hard bound on operations per writer. */
  maxOpsPerWriter?: number
  /** Read back every n-th write. */
  verifyEvery?: number
}

export async function runWorkload(o: WorkloadOptions): Promise<WorkloadResult> {
  const bs = o.device.blockSize
  const journal = new Map<number, number>()
  const res: WorkloadResult = { writes: 0, reads: 0, readMismatches: 0, errors: [], journal }
  let done = false
  void o.until.finally(() => {
    done = true
  })
  const tail = o.tailOps ?? 20
  const max = o.maxOpsPerWriter ?? 5000
  const verifyEvery = o.verifyEvery ?? 3
  const writer = async (w: number): Promise<void> => {
    let afterDone = 0
    for (let k = 0; k < max; k++) {
      if (done && afterDone++ >= tail) return
      const lba = w * o.span + (k % o.span)
      const version = k + 1
      const data = pattern(lba, version, bs)
      try {
        await o.device.write(lba, data)
        journal.set(lba, version)
        res.writes++
        if (k % verifyEvery === 0) {
          const back = await o.device.read(lba, 1)
          res.reads++
          if (!back.equals(data)) res.readMismatches++
        }
      } catch (err) {
        res.errors.push(err as Error)
        return
      }
    }
  }
  await Promise.all(Array.from({ length: o.writers }, (_, w) => writer(w)))
  return res
}

/** LBAs whose content on the target differs from the journal (lost or stale-duplicated writes). */
export async function verifyAgainst(
  read: (offsetBytes: number, length: number) => Promise<Buffer>,
  journal: Map<number, number>,
  bs: number,
): Promise<number[]> {
  const bad: number[] = []
  for (const [lba, version] of journal) {
    const got = await read(lba * bs, bs)
    if (!got.equals(pattern(lba, version, bs))) bad.push(lba)
  }
  return bad
}
