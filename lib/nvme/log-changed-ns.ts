/**
 * Changed Namespace List log page (LID 04h), 4096 bytes (wire reference 5.3): up to 1024 NSIDs,
 * zero-filled; more than 1024 changes are reported as a single 0xFFFFFFFF entry.
 */
import { InvalidArgumentError } from '../errors.js'
import { asBuffer } from './codec.js'

export const CHANGED_NS_LOG_SIZE = 4096
export const CHANGED_NS_LIST_MAX = 1024
export const CHANGED_NS_OVERFLOW = 0xffffffff

/**
 * Encode a list (as {@link NamespaceMap.takeChangedList} returns it: ascending NSIDs, or
 * `[0xFFFFFFFF]` after an overflow). More than 1024 entries are encoded as the overflow marker.
 */
export function encodeChangedNsList(nsids: readonly number[]): Buffer {
  const buf = Buffer.alloc(CHANGED_NS_LOG_SIZE)
  if (nsids.length > CHANGED_NS_LIST_MAX) {
    buf.writeUInt32LE(CHANGED_NS_OVERFLOW, 0)
    return buf
  }
  nsids.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new InvalidArgumentError('nsids', `contains an invalid NSID ${n}`)
    buf.writeUInt32LE(n, i * 4)
  })
  return buf
}

export interface ChangedNsList {
  /** More than 1024 namespaces changed: rescan everything. */
  overflow: boolean
  nsids: number[]
}

/** Decode entries up to the first zero (any dword-multiple buffer, at most 1024 entries). */
export function decodeChangedNsList(buf: Uint8Array): ChangedNsList {
  const b = asBuffer(buf)
  const n = Math.min(CHANGED_NS_LIST_MAX, Math.floor(b.length / 4))
  const nsids: number[] = []
  for (let i = 0; i < n; i++) {
    const v = b.readUInt32LE(i * 4)
    if (v === 0) break
    nsids.push(v)
  }
  return { overflow: nsids[0] === CHANGED_NS_OVERFLOW, nsids }
}
