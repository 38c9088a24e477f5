/**
 * How checks word their evidence: a port as the host saw it (its TRSVCID), a status by name and
 * value, a time in ms, and one application write (with its retries, grouped by identity). Shared by
 * checks.ts and checks-retry.ts so every verdict names things the same way.
 */
import { statusName } from '../lib/status.js'
import type { JudgeContext } from './catalogue-types.js'
import type { WriteAttempt } from './write-journal.js'

export function port(ctx: JudgeContext, portId: number): string {
  return String(ctx.trsvcids.get(portId) ?? `#${portId}`)
}

export function st(s: number): string {
  return `${statusName(s, 'io')} (0x${s.toString(16)})`
}

export function ms(n: number): string {
  return `${Math.round(n)} ms`
}

/** Writes grouped by identity (NSID, offset, payload CRC): one application write and its retries. */
export function writeGroups(attempts: readonly WriteAttempt[]): Map<string, WriteAttempt[]> {
  const m = new Map<string, WriteAttempt[]>()
  for (const a of attempts) {
    const k = `${a.nsid}/${a.offset}/${a.length}/${a.crc}`
    const l = m.get(k)
    if (l === undefined) m.set(k, [a])
    else l.push(a)
  }
  return m
}

export function describeWrite(ctx: JudgeContext, a: WriteAttempt): string {
  return `write #${a.seq} (nsid ${a.nsid}, byte offset ${a.offset}, ${a.length} bytes) on port ${a.portId !== undefined ? port(ctx, a.portId) : '?'}`
}
