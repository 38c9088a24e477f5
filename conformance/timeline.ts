/**
 * The timeline of one scenario run (report-types.ts `Timeline`): ANA state per path, I/O per path
 * in buckets, and the events — faults fired, AENs, controllers connecting and going, remap steps,
 * and what the driver reported (failovers, errors). Built after the run from the observer's
 * records; the events are sorted by time.
 */
import type { TargetObserver } from './target-observer.js'
import type { PathInfo, Timeline, TimelineEvent, TimelineIo } from './report-types.js'

export interface TimelineInput {
  observer: TargetObserver
  /** port id -> trsvcid */
  trsvcids: ReadonlyMap<number, number>
  /** ANA group of each port's path when the topology has one group per port (else undefined). */
  anagrpid?: number
  driverEvents: readonly TimelineEvent[]
  endMs: number
  bucketMs?: number
  /** At most this many events (the rest are counted in one `note`). */
  maxEvents?: number
}

export function pathId(trsvcid: number | undefined, portId: number): string {
  return trsvcid === undefined ? `port${portId}` : String(trsvcid)
}

export function buildTimeline(i: TimelineInput): Timeline {
  const bucketMs = i.bucketMs ?? 250
  const o = i.observer
  const pid = (portId: number): string => pathId(i.trsvcids.get(portId), portId)
  const paths: PathInfo[] = [...i.trsvcids].map(([portId, trsvcid]) => ({
    id: pid(portId),
    label: `port ${portId} (${trsvcid})`,
    trsvcid,
    ...(i.anagrpid !== undefined ? { anagrpid: i.anagrpid } : {}),
  }))
  const buckets = new Map<string, TimelineIo>()
  for (const r of o.io) {
    const tMs = Math.floor(r.tMs / bucketMs) * bucketMs
    const k = `${tMs}/${r.portId}`
    let b = buckets.get(k)
    if (b === undefined) buckets.set(k, (b = { tMs, path: pid(r.portId), ops: 0, bytes: 0, errors: 0 }))
    if (r.status === 0 && r.sent) {
      b.ops++
      b.bytes += r.blocks * 512
    } else b.errors++
  }
  const events: TimelineEvent[] = [...i.driverEvents]
  for (const e of o.trace) {
    const path = e.port !== undefined ? { path: pid(e.port) } : {}
    if (e.kind === 'fault' && e.action !== 'installed' && e.action !== 'removed') events.push({ tMs: e.timeMs, kind: 'fault', ...path, detail: `${e.faultId ?? '?'} (${e.faultType ?? '?'}): ${e.action ?? ''}${e.detail !== undefined ? ` ${e.detail}` : ''}` })
    else if (e.kind === 'state' && e.action?.startsWith('ns-') === true) events.push({ tMs: e.timeMs, kind: 'remap', detail: e.detail ?? e.action })
    else if (e.kind === 'state' && (e.action === 'controller-fatal' || e.action?.startsWith('port-') === true)) events.push({ tMs: e.timeMs, kind: 'fault', ...path, detail: e.detail ?? e.action })
    else if (e.kind === 'scenario' && e.action === 'mark') events.push({ tMs: e.timeMs, kind: 'note', detail: e.detail ?? '' })
  }
  for (const c of o.controllers)
    events.push({ tMs: c.tMs, kind: c.type === 'created' ? 'connect' : 'disconnect', path: pid(c.portId), detail: `controller ${c.cntlid} ${c.type}${c.reason !== undefined ? ` (${c.reason})` : ''}` })
  for (const a of o.aens) events.push({ tMs: a.tMs, kind: 'aen', path: pid(a.portId), detail: `AEN 0x${a.dw0.toString(16)} to controller ${a.cntlid}` })
  events.sort((a, b) => a.tMs - b.tMs)
  const max = i.maxEvents ?? 2000
  if (events.length > max) {
    const dropped = events.length - max
    events.length = max
    events.push({ tMs: events[max - 1]!.tMs, kind: 'note', detail: `${dropped} more events not shown` })
  }
  return {
    bucketMs,
    endMs: Math.round(i.endMs),
    paths,
    ana: o.ana.map((a) => ({ tMs: Math.max(0, Math.round(a.tMs)), path: pid(a.portId), anagrpid: a.anagrpid, state: a.state })),
    io: [...buckets.values()].sort((a, b) => a.tMs - b.tMs || a.path.localeCompare(b.path)),
    events: events.map((e) => ({ ...e, tMs: Math.round(e.tMs) })),
  }
}
