/**
 * The conformance run's result: one JSON document that the TAP, JSON and HTML outputs are all
 * rendered from. It is the contract between the runner (conformance/runner*.ts), the initiator
 * drivers (conformance/drivers/) and the reporters (conformance/report-*.ts); bump `format` when a
 * field changes meaning.
 *
 * Times are milliseconds since the run's own start (`ConformanceRun.startedAt`), taken from the
 * injected clock, so a replayed run (same seed) gives the same timeline shape.
 */

export const REPORT_FORMAT = 'nvmf-fault-conformance-1'

export type Verdict = 'pass' | 'fail' | 'skip' | 'error'

/** One initiator under test. */
export interface InitiatorInfo {
  /** Stable id used in the verdict table ("nvmf-fault", "linux-6.12.118", "driver:spdk"). */
  id: string
  kind: 'nvmf-fault' | 'linux' | 'driver'
  /** What a person reads: "Linux 6.12.118 (Debian trixie) in QEMU/TCG, nvme-cli 2.13". */
  description: string
  kernelRelease?: string
}

/** A path as the target sees it: one port x one controller. */
export interface PathInfo {
  /** "4420" or "4420/c2" — unique within a scenario run. */
  id: string
  label: string
  trsvcid: number
  anagrpid?: number
}

export type AnaStateName = 'optimized' | 'non-optimized' | 'inaccessible' | 'persistent-loss' | 'change'

export interface TimelineAna {
  tMs: number
  path: string
  anagrpid: number
  state: AnaStateName
}

/** I/O completed per path per bucket (the runner buckets by `bucketMs`). */
export interface TimelineIo {
  tMs: number
  path: string
  ops: number
  bytes: number
  /** Commands completed with a non-zero NVMe status, or aborted by the transport. */
  errors: number
}

export type TimelineEventKind =
  | 'fault' // an injected fault fired (detail names the fault id and action)
  | 'failover' // the initiator reported a failover, or the target saw a command retried on another path
  | 'error' // an error the initiator reported to its application
  | 'aen' // an AEN the target sent
  | 'connect'
  | 'disconnect'
  | 'remap' // a namespace remap step (nvme/058 style)
  | 'note'

export interface TimelineEvent {
  tMs: number
  kind: TimelineEventKind
  path?: string
  detail: string
}

export interface Timeline {
  bucketMs: number
  endMs: number
  paths: PathInfo[]
  ana: TimelineAna[]
  io: TimelineIo[]
  events: TimelineEvent[]
}

export interface CheckResult {
  /** Stable check id within the scenario ("no-io-to-inaccessible", "dnr-obeyed"). */
  id: string
  title: string
  verdict: Verdict
  /** Why: the evidence for a pass, the first violation for a fail, what is missing for a skip. */
  detail: string
  /** Where the judgement came from. */
  judgedFrom: 'target' | 'initiator' | 'kernel-log' | 'journal'
}

export interface ScenarioRun {
  scenario: string
  initiator: string
  seed: number
  verdict: Verdict
  durationMs: number
  checks: CheckResult[]
  timeline: Timeline
  /** Kernel console excerpts (oops/WARNING/BUG/hung task) or driver stderr, short. */
  logExcerpt?: string[]
}

export interface ScenarioInfo {
  id: string
  title: string
  /** The blktests test or spec section it mirrors ("nvme/057", "NVMe-oF 1.1 §3.6"). */
  reference?: string
  category: 'multipath' | 'status' | 'transport' | 'lifecycle' | 'data' | 'discovery' | 'keep-alive'
}

export interface ConformanceReport {
  format: typeof REPORT_FORMAT
  tool: { name: 'nvmf-fault'; version: string }
  startedAt: string // ISO time, wall clock, for the reader only
  seed: number
  initiators: InitiatorInfo[]
  scenarios: ScenarioInfo[]
  runs: ScenarioRun[]
  summary: { pass: number; fail: number; skip: number; error: number }
}
