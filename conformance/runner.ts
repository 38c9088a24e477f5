/**
 * Runs one catalogue entry against one initiator: a target in-process (listen(0) on 127.0.0.1)
 * with the write journal at its store seam and the observer around the fault engine's hooks; the
 * driver connects every path and starts its workload; once it is `ready` the entry's scenario runs
 * on the fault engine; after the I/O time the driver is stopped and the checks are judged.
 */
import type { Logger } from 'pino'
import { seededRandom, systemClock, type Clock } from '../lib/clock.js'
import { randomUuid } from '../lib/nvme/uuid.js'
import { attachFaults, type FaultsHandle } from '../faults/attach.js'
import { parseScenario } from '../faults/scenario.js'
import { createTarget, type TargetHandle } from '../target/index.js'
import type { CatalogueEntry, DriverSummary, JudgeContext } from './catalogue-types.js'
import type { DriverEvent, DriverTarget, DriverWorkload, InitiatorDriver } from './driver-types.js'
import type { CheckResult, ScenarioRun, TimelineEvent, Verdict } from './report-types.js'
import { registerRaceFault } from './race-fault.js'
import { TargetObserver } from './target-observer.js'
import { buildTimeline } from './timeline.js'
import { WriteJournal } from './write-journal.js'

export const CONFORMANCE_SUBNQN = 'nqn.2026-01.io.nvmf-fault:conformance'
const DEFAULT_NS_BYTES = 64 * 1024 * 1024

export interface RunScenarioOptions {
  entry: CatalogueEntry
  driver: InitiatorDriver
  seed: number
  clock?: Clock
  logger?: Logger
  /** Limit for the driver to become ready (ms). Default 30 s in-process, 300 s for other drivers (process start, guest boot). */
  readyTimeoutMs?: number
  /** How long after an ANA log read a command may still reach a path it reported inaccessible. Default: anaGraceMsFor(kind). */
  anaGraceMs?: number
  /** Limit for the driver's stop (ms). Default: driverStopLimitMs(driver.info.kind). */
  stopTimeoutMs?: number
  /** Called as the run moves on ("ready", "scenario", "stopping", "judging"). */
  onPhase?: (phase: string) => void
}

/**
 * The runner's own steps as timeline notes: where the scenario started and where the driver was
 * told to stop (what follows is the stop: a kernel host can hold it for its admin timeout).
 */
function phaseMarks(scenarioStartMs: number, stopMs: number): TimelineEvent[] {
  const marks: TimelineEvent[] = []
  if (scenarioStartMs > 0) marks.push({ tMs: scenarioStartMs, kind: 'note', detail: 'the scenario starts (the driver is ready)' })
  if (stopMs > 0) marks.push({ tMs: stopMs, kind: 'note', detail: 'the runner stops the driver (I/O time over)' })
  return marks
}

/**
 * How long the runner waits for a driver's stop. A kernel host can only disconnect once its
 * reconnect attempt ends: Linux ignores a lost connection while CONNECTING (RESETTING is reachable
 * only from LIVE), so an unanswered Connect is aborted by the admin timeout (nvme_core.admin_timeout,
 * 60 s by default), and `nvme disconnect` waits for that reconnect work. The bound must outlast it,
 * or the run is aborted before the kernel's recovery can be judged.
 */
export function driverStopLimitMs(kind: string): number {
  return kind === 'nvmf-fault' ? 60_000 : 180_000
}

/**
 * Grace for no-io-to-inaccessible: a command whose path was chosen before the host processed the
 * ANA log is already past path selection. In-process that is microseconds (500 ms is generous); a
 * Linux guest under TCG processes the log hundreds of ms after the target built it (measured on
 * 6.1: I/O moved to the other path 767 ms after the change, and one write reached the
 * inaccessible path 617 ms after the log read, before the first write on the other path).
 */
export function anaGraceMsFor(kind: string): number {
  return kind === 'nvmf-fault' ? 500 : 1000
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0) resolve()
    else clock.setTimeout(resolve, ms)
  })
}

function withTimeout<T>(clock: Clock, p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const h = clock.setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)
    p.then(
      (v) => {
        clock.clearTimeout(h)
        resolve(v)
      },
      (err: unknown) => {
        clock.clearTimeout(h)
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}

/** The run's verdict: any fail fails it; else any error errs; all skipped skips; else pass. */
export function overallVerdict(checks: readonly CheckResult[]): Verdict {
  if (checks.some((c) => c.verdict === 'fail')) return 'fail'
  if (checks.some((c) => c.verdict === 'error')) return 'error'
  if (checks.length > 0 && checks.every((c) => c.verdict === 'skip')) return 'skip'
  return 'pass'
}

async function startTarget(entry: CatalogueEntry, seed: number, clock: Clock, journal: WriteJournal, logger: Logger | undefined): Promise<TargetHandle> {
  const t = entry.topology
  return createTarget({
    ports: t.ports.map((p, i) => ({
      id: i + 1,
      address: '127.0.0.1',
      port: 0,
      ...(p.ana !== undefined ? { anaStates: Object.fromEntries(Object.entries(p.ana)) } : {}),
    })),
    subsystems: [
      {
        nqn: CONFORMANCE_SUBNQN,
        ...(t.anaGroups !== undefined ? { anaGroups: t.anaGroups } : {}),
        namespaces: t.namespaces.map((n) => ({
          nsid: n.nsid,
          size: n.sizeBytes ?? DEFAULT_NS_BYTES,
          ...(n.anaGroup !== undefined ? { anaGroup: n.anaGroup } : {}),
          ...(n.enabled !== undefined ? { enabled: n.enabled } : {}),
        })),
      },
    ],
    clock,
    random: seededRandom(`${seed}/target`),
    wrapStore: journal.wrapStore,
    ...(logger !== undefined ? { logger } : {}),
  })
}

/** Run `entry` against `driver`; never throws for a failing initiator (that is a verdict). */
export async function runScenario(o: RunScenarioOptions): Promise<ScenarioRun> {
  const { entry, driver, seed } = o
  const clock = o.clock ?? systemClock
  const phase = o.onPhase ?? (() => undefined)
  const stopLimit = o.stopTimeoutMs ?? driverStopLimitMs(driver.info.kind)
  const journal = new WriteJournal({ clock })
  const t0 = clock.now()
  const checksError = (detail: string): CheckResult[] => entry.checks.map((c) => ({ id: c.id, title: c.title, verdict: 'error', detail, judgedFrom: 'target' }))
  let target: TargetHandle | undefined
  let faults: FaultsHandle | undefined
  let observer: TargetObserver | undefined
  const summary: DriverSummary = { ops: 0, errors: 0, errorDetails: [], failovers: 0, logs: [], ioEvents: 0, done: undefined }
  const driverEvents: TimelineEvent[] = []
  const logExcerpt: string[] = []
  let scenarioStartMs = 0
  let scenarioEndMs = 0
  let stopMs = 0
  let checks: CheckResult[]
  const trsvcids = new Map<number, number>()
  try {
    target = await startTarget(entry, seed, clock, journal, o.logger)
    for (const p of target.ports) trsvcids.set(p.id, p.port)
    const obs = new TargetObserver({ clock, target, journal, graceMs: o.anaGraceMs ?? anaGraceMsFor(driver.info.kind) })
    observer = obs
    faults = await attachFaults(target, { seed, clock, wrapHooks: (h) => obs.wrap(h), ...(o.logger !== undefined ? { logger: o.logger } : {}) })
    obs.attach(faults.engine.trace)
    registerRaceFault(faults.engine)
    const text = typeof entry.scenario === 'string' ? entry.scenario : entry.scenario({ trsvcids: [...trsvcids.values()] })
    const scenario = parseScenario(faults.engine, text, `catalogue:${entry.info.id}`)
    const random = seededRandom(`${seed}/host`)
    const hostid = randomUuid(random)
    const dt: DriverTarget = { traddr: '127.0.0.1', trsvcids: [...trsvcids.values()], subnqn: CONFORMANCE_SUBNQN, hostnqn: `nqn.2014-08.org.nvmexpress:uuid:${hostid}`, hostid }
    const workload: DriverWorkload = { rw: 'verify', bs: 4096, qd: 4, namespaces: 'all', ...entry.workload, durationMs: entry.ioMs, pattern: `seed:${seed}` }
    const onEvent = (e: DriverEvent): void => {
      const tMs = obs.nowMs()
      switch (e.kind) {
        case 'io':
          summary.ioEvents++
          summary.ops += e.ops
          summary.errors += e.errors
          return
        case 'error':
          if (summary.errorDetails.length < 20) summary.errorDetails.push(e.detail)
          driverEvents.push({ tMs, kind: 'error', detail: e.detail })
          return
        case 'failover':
          summary.failovers++
          if (summary.failovers <= 200) driverEvents.push({ tMs, kind: 'failover', detail: e.detail, ...(e.path !== undefined ? { path: e.path } : {}) })
          return
        case 'log':
          if (logExcerpt.length < 50) logExcerpt.push(`${e.level}: ${e.detail}`)
          // Kept for the checks (checks-kernel.ts): every error line (bounded), the first warnings.
          if (summary.logs.length < (e.level === 'error' ? 1000 : 200)) summary.logs.push(`${e.level}: ${e.detail}`)
          return
        case 'done':
          summary.done = { ok: e.ok, detail: e.detail }
          return
        case 'ready':
          return
      }
    }
    phase('connecting')
    await withTimeout(clock, driver.start(dt, workload, onEvent), o.readyTimeoutMs ?? (driver.info.kind === 'nvmf-fault' ? 30_000 : 300_000), `the driver's ready`)
    phase('scenario')
    scenarioStartMs = obs.nowMs()
    const run = await faults.controller.startScenario(scenario, { seed })
    const state = await run.waitFor('finished', entry.ioMs + 10_000)
    scenarioEndMs = obs.nowMs()
    if (state === 'failed') throw new Error(`the scenario failed: ${(run.error as Error | undefined)?.message ?? '?'}`)
    // The rest of the I/O time shows the recovery; then the host disconnects.
    await sleep(clock, scenarioStartMs + entry.ioMs - obs.nowMs())
    phase('stopping')
    obs.markStopping()
    stopMs = obs.nowMs()
    await withTimeout(clock, driver.stop(), stopLimit, "the driver's stop")
    // After the stop: a slow host can meet a fault while it stops (its last writes), and the checks
    // judged from the journal see those firings too (crd-honoured counted 3 CRD writes on 6.17
    // while a count taken before the stop said the fault never fired).
    const faultCounters = new Map(faults.engine.list().map((f) => [f.id, { seen: f.seen, fired: f.fired }]))
    phase('judging')
    const ctx: JudgeContext = { entry, initiator: driver.info, observer: obs, journal, driver: summary, scenarioStartMs, scenarioEndMs, stopMs, trsvcids, events: driverEvents, faults: faultCounters }
    checks = entry.checks.map((c) => {
      try {
        return { id: c.id, title: c.title, ...c.judge(ctx) }
      } catch (err) {
        return { id: c.id, title: c.title, verdict: 'error' as const, judgedFrom: 'target' as const, detail: `the check threw: ${(err as Error).message}` }
      }
    })
  } catch (err) {
    checks = checksError(`run aborted: ${(err as Error).message}`)
    // Bounded again: a stop that already timed out must not hold the run (and the catalogue) forever.
    await withTimeout(clock, driver.stop(), stopLimit, "the driver's stop").catch(() => undefined)
  } finally {
    observer?.detach()
    await faults?.close().catch(() => undefined)
    await target?.close().catch(() => undefined)
  }
  const endMs = observer?.nowMs() ?? clock.now() - t0
  const groups = new Set(entry.topology.namespaces.map((n) => n.anaGroup ?? 1))
  const timeline =
    observer !== undefined
      ? buildTimeline({ observer, trsvcids, driverEvents: [...driverEvents, ...phaseMarks(scenarioStartMs, stopMs)], endMs, ...(groups.size === 1 ? { anagrpid: [...groups][0]! } : {}) })
      : { bucketMs: 250, endMs, paths: [], ana: [], io: [], events: [] }
  return {
    scenario: entry.info.id,
    initiator: driver.info.id,
    seed,
    verdict: overallVerdict(checks),
    durationMs: Math.round(clock.now() - t0),
    checks,
    timeline,
    ...(logExcerpt.length > 0 ? { logExcerpt } : {}),
  }
}
