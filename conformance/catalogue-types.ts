/**
 * The shape of one catalogue entry: a target topology, a fault scenario (the faults/ scenario
 * format, run by the engine on the target), the workload the driver runs, and the checks judged
 * afterwards. The runner (runner.ts) knows nothing about individual entries.
 */
import type { AnaStateName, CheckResult, InitiatorInfo, ScenarioInfo } from './report-types.js'
import type { DriverWorkload } from './driver-types.js'
import type { TargetObserver } from './target-observer.js'
import type { WriteJournal } from './write-journal.js'
import type { TimelineEvent } from './report-types.js'

export interface TopologyPort {
  /** ANA state per group on this port (unlisted groups: optimized). */
  ana?: Record<number, AnaStateName>
}

export interface Topology {
  ports: TopologyPort[]
  /** Default: one group (1). */
  anaGroups?: number[]
  namespaces: Array<{ nsid: number; sizeBytes?: number; anaGroup?: number; enabled?: boolean }>
}

/** What the driver told the runner, summed up. */
export interface DriverSummary {
  ops: number
  errors: number
  errorDetails: string[]
  failovers: number
  logs: string[]
  ioEvents: number
  done: { ok: boolean; detail: string } | undefined
}

/** Everything a check is judged from. Times are ms since the scenario run started. */
export interface JudgeContext {
  entry: CatalogueEntry
  initiator: InitiatorInfo
  observer: TargetObserver
  journal: WriteJournal
  driver: DriverSummary
  /** When the fault scenario started (the driver was ready) and finished. */
  scenarioStartMs: number
  scenarioEndMs: number
  /** When the runner began stopping the driver. */
  stopMs: number
  /** port id -> trsvcid */
  trsvcids: ReadonlyMap<number, number>
  events: readonly TimelineEvent[]
  /** The engine's counters per fault id once the driver stopped (faults a scenario installed). */
  faults: ReadonlyMap<string, { seen: number; fired: number }>
}

export type CheckOutcome = Omit<CheckResult, 'id' | 'title'>

export interface CheckDefinition {
  id: string
  title: string
  judge(ctx: JudgeContext): CheckOutcome
}

export interface CatalogueEntry {
  info: ScenarioInfo
  /** What it does, one sentence (docs/conformance.md, --list). */
  summary: string
  topology: Topology
  /**
   * Scenario in the faults/ format (YAML or JSON text); its times count from the driver's `ready`.
   * A function gets the bound TCP ports (port id i+1 is trsvcids[i]) for steps that need them.
   */
  scenario: string | ((bound: { trsvcids: number[] }) => string)
  /** Workload overrides (defaults: verify, 4 KiB, qd 4, every namespace). */
  workload?: Partial<Omit<DriverWorkload, 'durationMs' | 'pattern'>>
  /** I/O time (ms): the scenario runs within it; the runner stops the driver after it. */
  ioMs: number
  /** Controller options the entry needs from a driver that can take them (our initiator). */
  hostOptions?: { kato?: number; reconnectDelayMs?: number; ctrlLossTmoMs?: number; maxRetries?: number; persistentDiscovery?: boolean; delayedRemovalMs?: number; hdgst?: boolean; ddgst?: boolean }
  checks: CheckDefinition[]
}
