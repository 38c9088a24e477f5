/**
 * What a fuzz run reports: inputs tried, inputs per second, outcome counts per input class, peak
 * RSS, and every invariant violation ("crash") with the seed and case index that replay it.
 */
import { FUZZ_CLASSES, type FuzzClass } from './mutate.js'

/** An invariant that failed after a case. */
export type ViolationKind =
  | 'exit' // the target process died
  | 'probe' // a fresh, well-behaved connection no longer works
  | 'rss' // resident memory above the bound
  | 'unhandled' // an unhandled promise rejection
  | 'uncaught' // an uncaught exception (initiator side, in-process)
  | 'warn-flood' // too many log lines for one input
  | 'bad-termreq' // a TermReq without a valid FES
  | 'untyped-error' // the initiator failed with an error that is not one of the typed kinds
  | 'hang' // the initiator neither finished nor failed within the deadline
  | 'socket-leak' // sockets still open after the initiator gave up or closed

export interface Violation {
  kind: ViolationKind
  caseIndex: number
  cls: FuzzClass
  detail: string
  /** The input (hex, at most 512 bytes) when the case has one. */
  input?: string
}

export interface FuzzReport {
  side: 'target' | 'initiator'
  seed: string
  inputs: number
  elapsedMs: number
  inputsPerSec: number
  /** Per class: outcome → count (e.g. termreq, status, closed, accepted, pending, typed-error...). */
  outcomes: Record<FuzzClass, Record<string, number>>
  peakRssMb: number
  rssLimitMb: number
  violations: Violation[]
}

export function emptyOutcomes(): Record<FuzzClass, Record<string, number>> {
  return Object.fromEntries(FUZZ_CLASSES.map((c) => [c, {}])) as Record<FuzzClass, Record<string, number>>
}

export function count(o: Record<FuzzClass, Record<string, number>>, cls: FuzzClass, outcome: string): void {
  o[cls][outcome] = (o[cls][outcome] ?? 0) + 1
}

export function formatReport(r: FuzzReport): string {
  const lines = [
    `fuzz ${r.side}: seed ${r.seed}, ${r.inputs} inputs in ${(r.elapsedMs / 1000).toFixed(1)} s (${r.inputsPerSec.toFixed(1)}/s), peak RSS ${r.peakRssMb.toFixed(0)} MiB (bound ${r.rssLimitMb} MiB), violations ${r.violations.length}`,
  ]
  for (const [cls, o] of Object.entries(r.outcomes)) {
    const total = Object.values(o).reduce((a, b) => a + b, 0)
    if (total === 0) continue
    lines.push(`  ${cls.padEnd(8)} ${String(total).padStart(6)}  ${Object.entries(o).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`)
  }
  for (const v of r.violations.slice(0, 20)) lines.push(`  VIOLATION ${v.kind} case ${v.caseIndex} (${v.cls}): ${v.detail}${v.input !== undefined ? ` input ${v.input.slice(0, 160)}` : ''}`)
  return lines.join('\n')
}
