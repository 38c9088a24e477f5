/**
 * The in-process control API: the same operations the control socket and `nvmf-fault ctl` offer
 * (status, ANA, namespaces, ports, controllers, AENs, faults, scenarios, trace), on one engine.
 */
import { InvalidArgumentError, InvalidStateError } from '../lib/errors.js'
import type { FaultEngine, FaultInfo } from './engine.js'
import type { JsonObject } from './proto.js'
import { parseScenario, ScenarioRun, type Scenario, type ScenarioRunInfo, type ScenarioState } from './scenario.js'
import type { ControllerFilter, NamespaceOp, PortAddOptions } from './target-ops.js'
import type { TraceFormat } from './trace.js'

export interface ControlStatus {
  target: unknown
  faults: Array<Omit<FaultInfo, 'spec'>>
  scenario: { name: string; state: ScenarioState; seed: string } | null
  trace: { events: number; dropped: number; pdus: boolean }
}

export class FaultController {
  readonly engine: FaultEngine
  #run: ScenarioRun | undefined

  constructor(engine: FaultEngine) {
    this.engine = engine
  }

  status(): ControlStatus {
    let target: unknown = null
    if (this.engine.ops.handle !== undefined) target = this.engine.ops.status()
    return {
      target,
      faults: this.engine.list().map(({ spec: _s, ...f }) => f),
      scenario: this.#run === undefined ? null : { name: this.#run.scenario.name || this.#run.scenario.source, state: this.#run.state, seed: String(this.#run.seed) },
      trace: { events: this.engine.trace.events.length, dropped: this.engine.trace.dropped, pdus: this.engine.trace.pdus },
    }
  }

  /** The target's live configuration as a config document (`ctl config export`). */
  exportConfig(format: string): unknown {
    return this.engine.ops.exportConfig(format)
  }

  setAna(port: number, group: number, state: string): Promise<void> {
    return this.engine.ops.setAna(port, group, state)
  }

  namespace(op: NamespaceOp): Promise<{ uuid?: string }> {
    return this.engine.ops.namespace(op)
  }

  addPort(opts: PortAddOptions): Promise<unknown> {
    return this.engine.ops.addPort(opts)
  }

  removePort(portId: number): Promise<void> {
    return this.engine.ops.removePort(portId)
  }

  controllerFatal(cntlid: number): Promise<void> {
    return this.engine.ops.controllerFatal(cntlid)
  }

  deleteControllers(filter: ControllerFilter = {}): Promise<unknown> {
    return this.engine.ops.deleteControllers(filter)
  }

  raiseAen(event: string, opts: { portId?: number; nsids?: number[]; count?: number } = {}): Promise<void> {
    const { count = 1, ...rest } = opts
    if (!Number.isInteger(count) || count < 1 || count > 10000) throw new InvalidArgumentError('count', 'must be an integer in [1, 10000]')
    return (async () => {
      for (let i = 0; i < count; i++) await this.engine.ops.raiseAen(event, rest)
    })()
  }

  addFault(json: JsonObject): string {
    return this.engine.add(json)
  }

  listFaults(): FaultInfo[] {
    return this.engine.list()
  }

  /** Remove one fault (by id) or all; returns how many were removed. */
  clearFaults(id?: string): number {
    if (id !== undefined && id !== '') {
      if (!this.engine.remove(id)) throw new InvalidArgumentError('id', `no fault with id '${id}'`)
      return 1
    }
    return this.engine.clear()
  }

  /** Parse and start a scenario (stopping the current one). Resolves once its setup is done. */
  async runScenario(text: string, opts: { seed?: number | string; source?: string } = {}): Promise<ScenarioRun> {
    const scenario = parseScenario(this.engine, text, opts.source ?? 'scenario')
    return this.startScenario(scenario, opts)
  }

  /** Start an already parsed scenario (stopping the current one). */
  async startScenario(scenario: Scenario, opts: { seed?: number | string } = {}): Promise<ScenarioRun> {
    this.stopScenario()
    const run = new ScenarioRun(this.engine, scenario, opts.seed !== undefined ? { seed: opts.seed } : {})
    this.#run = run
    await run.start()
    return run
  }

  get scenario(): ScenarioRun | undefined {
    return this.#run
  }

  /** The current run's state and times (engine clock), or null when no scenario ran. */
  scenarioInfo(): ScenarioRunInfo | null {
    return this.#run?.info() ?? null
  }

  /**
   * Wait until the current scenario is `running` (its start condition held) or `finished` (steps done,
   * timer-driven faults ended), it ended otherwise, or `timeoutMs` passed (0 = no limit). Answers the
   * run's info then and whether `state` was reached.
   */
  async waitScenario(state: string, timeoutMs = 0): Promise<ScenarioRunInfo & { reached: boolean }> {
    if (state !== 'running' && state !== 'finished') throw new InvalidArgumentError('state', `must be running or finished, got '${state}'`)
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw new InvalidArgumentError('timeoutMs', 'must be an integer >= 0')
    const run = this.#run
    if (run === undefined) throw new InvalidStateError('no scenario to wait for')
    const now = await run.waitFor(state, timeoutMs)
    const reached = state === 'finished' ? now === 'finished' : now !== 'pending'
    return { ...run.info(), reached }
  }

  stopScenario(): boolean {
    const r = this.#run
    if (r === undefined) return false
    r.stop()
    return true
  }

  dumpTrace(format: TraceFormat = 'jsonl', opts: { clear?: boolean } = {}): Buffer {
    const out = this.engine.trace.export(format)
    if (opts.clear === true) this.engine.trace.clear()
    return out
  }
}
