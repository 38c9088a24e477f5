/**
 * A scenario run's life: the start condition (`start.onConnect`, `start.afterMs`), the steps on the
 * injected clock, and the finish a caller can wait on (steps done and every timer-driven fault the
 * scenario installed ended). States `pending | running | finished | stopped | failed`.
 */
import { seededRandom, type Random, type TimerHandle } from '../lib/clock.js'
import { InvalidStateError } from '../lib/errors.js'
import { randomUuid } from '../lib/nvme/uuid.js'
import { hasStateName } from '../target/state-names.js'
import type { FaultEngine } from './engine.js'
import type { Scenario, ScenarioStart, ScenarioStep } from './scenario.js'

/**
 * `pending`: created, or waiting for its start condition (setup done); `running`: faults installed,
 * steps scheduled; `finished`: every step ran and every timer-driven fault it installed has ended;
 * `stopped`: stopped (by `stop()` or `durationMs`) before finishing; `failed`: a step threw.
 */
export type ScenarioState = 'pending' | 'running' | 'finished' | 'stopped' | 'failed'

/** What `ScenarioRun.info()` and the control plane report about a run (times on the engine clock). */
export interface ScenarioRunInfo {
  name: string
  seed: string
  state: ScenarioState
  startedAtMs?: number
  finishedAtMs?: number
  error?: string
}

interface Deferred {
  promise: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => undefined) // observed through the getters
  return { promise, resolve, reject }
}

/** Controllers that count for `start.onConnect`: NVM subsystem, enabled, an I/O queue connected. */
function connectedPaths(status: unknown, want: NonNullable<ScenarioStart['onConnect']>): number {
  const ctrls = (status as { controllers?: Array<{ subnqn: string; hostnqn: string; state: string; stateName?: string; discovery: boolean; queues: Array<{ qid?: number }> }> } | null)?.controllers ?? []
  return ctrls.filter(
    (c) =>
      !c.discovery &&
      hasStateName(c, 'ready') && // 'READY' (deprecated) or 'ready'
      c.queues.some((q) => (q.qid ?? 0) > 0) &&
      (want.hostnqn === undefined || c.hostnqn === want.hostnqn) &&
      (want.subnqn === undefined || c.subnqn === want.subnqn),
  ).length
}

/**
 * One run of a scenario on an engine. `start()` runs the setup; then, at once or when the start
 * condition (`scenario.start`) holds, it installs the faults and schedules the steps on the engine's
 * clock. `started` settles then; `done` when the last step ran; `finished` when, in addition, every
 * timer-driven fault the scenario installed has ended (a paced storm's last round). `stop()` removes
 * every fault the scenario installed.
 */
export class ScenarioRun {
  readonly scenario: Scenario
  readonly seed: number | string
  #engine: FaultEngine
  #random: Random
  #faultIds: string[] = []
  #timers = new Set<TimerHandle>()
  #state: ScenarioState = 'pending'
  #armed = false
  #started = deferred()
  #done = deferred()
  #finished = deferred()
  #error: unknown
  #unwatch: (() => void) | undefined
  #startedAt: number | undefined
  #finishedAt: number | undefined
  /** Clock time at the start: step times count from here. */
  #base = 0

  constructor(engine: FaultEngine, scenario: Scenario, opts: { seed?: number | string } = {}) {
    this.#engine = engine
    this.scenario = scenario
    this.seed = opts.seed ?? scenario.seed ?? engine.seed
    this.#random = seededRandom(`${String(this.seed)}/scenario`)
  }

  get state(): ScenarioState {
    return this.#state
  }

  get error(): unknown {
    return this.#error
  }

  /** Settles when the faults are installed and the steps scheduled (the start condition held). */
  get started(): Promise<void> {
    return this.#started.promise
  }

  /** Settles when every step has run (rejects when a step failed). */
  get done(): Promise<void> {
    return this.#done.promise
  }

  /** Settles when the run is finished or stopped (rejects when it failed). */
  get finished(): Promise<void> {
    return this.#finished.promise
  }

  info(): ScenarioRunInfo {
    const err = this.#error
    return {
      name: this.scenario.name || this.scenario.source,
      seed: String(this.seed),
      state: this.#state,
      ...(this.#startedAt !== undefined ? { startedAtMs: this.#startedAt } : {}),
      ...(this.#finishedAt !== undefined ? { finishedAtMs: this.#finishedAt } : {}),
      ...(err !== undefined ? { error: err instanceof Error ? err.message : String(err) } : {}),
    }
  }

  /**
   * Resolve when the run has reached `state` (`running` counts as reached once it is past it) or
   * ended otherwise, or after `timeoutMs` on the engine clock (0 = no limit); answers the state then.
   */
  async waitFor(state: 'running' | 'finished', timeoutMs = 0): Promise<ScenarioState> {
    const p = state === 'running' ? this.#started.promise : this.#finished.promise
    if (timeoutMs <= 0) {
      await p.catch(() => undefined)
      return this.#state
    }
    let h: TimerHandle | undefined
    const timeout = new Promise<void>((resolve) => {
      h = this.#engine.clock.setTimeout(resolve, timeoutMs)
      h.unref?.()
    })
    await Promise.race([p.catch(() => undefined), timeout])
    if (h !== undefined) this.#engine.clock.clearTimeout(h)
    return this.#state
  }

  /** Run the setup, then start at once or arm the start condition. Resolves once the setup is done. */
  async start(): Promise<void> {
    if (this.#armed || this.#state !== 'pending') throw new InvalidStateError(`scenario already ${this.#state === 'pending' ? 'armed' : this.#state}`)
    this.#armed = true
    const sc = this.scenario
    const trace = this.#engine.trace
    trace.record({ kind: 'scenario', action: 'setup', detail: `${sc.name || sc.source} seed ${String(this.seed)}` })
    try {
      for (const [i, s] of sc.setup.entries()) await this.#run(s, `setup[${i}]`)
    } catch (err) {
      this.#fail(err)
      throw err
    }
    if (this.#state !== 'pending') return
    const st = sc.start
    if (st === undefined) return this.#begin()
    const onConnect = st.onConnect
    const afterConnect = (): void => {
      if (st.afterMs > 0) this.#at(st.afterMs, () => this.#begin())
      else this.#begin()
    }
    if (onConnect === undefined) {
      trace.record({ kind: 'scenario', action: 'pending', detail: `start in ${st.afterMs} ms` })
      return afterConnect()
    }
    trace.record({ kind: 'scenario', action: 'pending', detail: `start when ${onConnect.controllers} controller(s) are connected${st.afterMs > 0 ? `, then ${st.afterMs} ms` : ''}` })
    const check = (): boolean => {
      if (this.#state !== 'pending' || this.#unwatch === undefined) return false
      let n = 0
      try {
        n = connectedPaths(this.#engine.ops.status(), onConnect)
      } catch {
        return false // no target attached yet
      }
      if (n < onConnect.controllers) return false
      this.#unwatch()
      this.#unwatch = undefined
      trace.record({ kind: 'scenario', action: 'connected', detail: `${n} controller(s) connected` })
      afterConnect()
      return true
    }
    // Controller and queue changes reach the trace as state events (attach.ts): re-check on those.
    this.#unwatch = trace.subscribe((e) => {
      if (e.kind === 'state' && (e.action?.startsWith('controller-') === true || e.action?.startsWith('queue-') === true)) check()
    })
    check()
  }

  /** The start condition held: install the faults, schedule the steps. */
  #begin(): void {
    if (this.#state !== 'pending') return
    const sc = this.scenario
    try {
      for (const [i, f] of sc.faults.entries()) this.#faultIds.push(this.#engine.add(f, { path: `faults[${i}]`, seed: this.seed }))
    } catch (err) {
      this.#state = 'running'
      this.#fail(err)
      return
    }
    this.#state = 'running'
    this.#base = this.#engine.clock.now()
    this.#startedAt = this.#base
    this.#engine.trace.record({ kind: 'scenario', action: 'start', detail: `${sc.name || sc.source} seed ${String(this.seed)}` })
    this.#started.resolve()
    if (sc.durationMs > 0) this.#at(sc.durationMs, () => this.stop())
    this.#schedule(0)
  }

  #at(ms: number, fn: () => void): void {
    const h = this.#engine.clock.setTimeout(() => {
      this.#timers.delete(h)
      fn()
    }, ms)
    h.unref?.()
    this.#timers.add(h)
  }

  /** Run steps from index i: back to back while they are due, then wait on the clock. */
  #schedule(i: number): void {
    const steps = this.scenario.steps
    const base = this.#base
    const loop = async (j: number): Promise<void> => {
      for (; j < steps.length; j++) {
        if (this.#state !== 'running') return
        const s = steps[j]!
        const wait = base + s.atMs - this.#engine.clock.now()
        if (wait > 0) {
          const next = j
          this.#at(wait, () => void loop(next).catch((err: unknown) => this.#fail(err)))
          return
        }
        await this.#run(s, `steps[${j}]`)
      }
      if (this.#state !== 'running') return
      this.#engine.trace.record({ kind: 'scenario', action: 'done' })
      this.#done.resolve()
      // Finished once the timer-driven faults (storms, sequences) have ended too.
      await Promise.all(this.#faultIds.map((id) => this.#engine.settled(id)))
      if (this.#state !== 'running') return
      this.#state = 'finished'
      this.#finishedAt = this.#engine.clock.now()
      this.#engine.trace.record({ kind: 'scenario', action: 'finished', detail: `after ${this.#finishedAt - base} ms` })
      this.#finished.resolve()
    }
    void loop(i).catch((err: unknown) => this.#fail(err))
  }

  #fail(err: unknown): void {
    if (this.#state !== 'running' && this.#state !== 'pending') return
    this.#state = 'failed'
    this.#error = err
    this.#unwatch?.()
    this.#unwatch = undefined
    this.#engine.trace.record({ kind: 'scenario', action: 'error', detail: err instanceof Error ? err.message : String(err) })
    this.#started.reject(err)
    this.#done.reject(err)
    this.#finished.reject(err)
  }

  async #run(step: ScenarioStep, path: string): Promise<void> {
    const ops = this.#engine.ops
    const op = step.op
    this.#engine.trace.record({ kind: 'scenario', action: op.kind, detail: path })
    switch (op.kind) {
      case 'ana':
        await ops.setAna(op.port, op.group, op.state)
        return
      case 'ns': {
        const { kind: _k, ...rest } = op
        const uuid = op.op === 'uuid' && op.uuid === undefined ? randomUuid(this.#random) : op.uuid
        await ops.namespace({ ...rest, ...(uuid !== undefined ? { uuid } : {}) })
        return
      }
      case 'addFault':
        this.#faultIds.push(this.#engine.add(op.fault, { path, seed: this.seed }))
        return
      case 'removeFault':
        this.#engine.remove(op.id)
        return
      case 'clearFaults':
        this.#engine.clear()
        return
      case 'port':
        if (op.op === 'add') await ops.addPort({ portId: op.port, ...(op.address !== undefined ? { address: op.address } : {}), ...(op.trsvcid !== undefined ? { trsvcid: op.trsvcid } : {}) })
        else await ops.removePort(op.port)
        return
      case 'controller':
        if (op.op === 'fatal') await ops.controllerFatal(op.cntlid!)
        else await ops.deleteControllers({ ...(op.cntlid !== undefined ? { cntlid: op.cntlid } : {}), ...(op.port !== undefined ? { portId: op.port } : {}), ...(op.hostnqn !== undefined ? { hostnqn: op.hostnqn } : {}) })
        return
      case 'aen':
        for (let i = 0; i < op.count; i++) await ops.raiseAen(op.event, { ...(op.port !== undefined ? { portId: op.port } : {}), ...(op.nsids !== undefined ? { nsids: op.nsids } : {}) })
        return
      case 'referral':
        await ops.addReferral({ address: op.address, trsvcid: op.trsvcid, ...(op.port !== undefined ? { portId: op.port } : {}) })
        return
      case 'mark':
        this.#engine.trace.record({ kind: 'scenario', action: 'mark', detail: op.text })
        return
    }
  }

  /** Stop: cancel the start condition and pending steps, remove the faults this scenario installed. */
  stop(): void {
    this.#unwatch?.()
    this.#unwatch = undefined
    for (const h of this.#timers) this.#engine.clock.clearTimeout(h)
    this.#timers.clear()
    for (const id of this.#faultIds) this.#engine.remove(id)
    this.#faultIds = []
    if (this.#state === 'running' || this.#state === 'pending') {
      this.#state = 'stopped'
      this.#finishedAt = this.#engine.clock.now()
      this.#engine.trace.record({ kind: 'scenario', action: 'stop' })
      this.#started.resolve()
      this.#done.resolve()
      this.#finished.resolve()
    }
  }
}
