/**
 * Wiring faults into a target: adapt a `TargetHandle` to the operations the fault engine drives,
 * install the engine's hooks (re-installed whenever the fault list changes), optionally run a
 * scenario and open the control endpoint. `nvmf-fault target --scenario/--control` uses this;
 * library users call it directly.
 */
import type { Logger } from 'pino'
import { type Clock } from '../lib/clock.js'
import { InvalidArgumentError } from '../lib/errors.js'
import type { ControllerEvent, HostAuthConfig, QueueEvent, TargetHandle, TargetHooks } from '../target/index.js'
import { FaultController } from './controller.js'
import { startControlServer, type ControlServer } from './control-server.js'
import type { HttpApi, HttpApiOptions } from './control-http.js'
import { FaultEngine } from './engine.js'
import type { FaultRegistry } from './registry.js'
import { loadScenarioFile, type ScenarioRun } from './scenario.js'
import type { FaultTargetHandle, NamespaceAddOptions } from './target-ops.js'
import type { TraceRecorder } from './trace.js'
import type { TargetMetrics } from '../target/metrics.js'

const DEFAULT_NS_SIZE = 1024 * 1024 * 1024

/** The fault engine's view of a TargetHandle (namespace ops default to the first NVM subsystem). */
export function adaptTargetHandle(handle: TargetHandle): FaultTargetHandle {
  const defaultSubnqn = (): string => {
    const s = handle.status().subsystems[0]
    if (s === undefined) throw new InvalidArgumentError('subnqn', 'the target has no NVM subsystem')
    return s.nqn
  }
  const sub = (s: string | undefined): string => s ?? defaultSubnqn()
  return {
    status: () => handle.status(),
    exportConfig: (format) => handle.exportConfig({ format: format === 'nvmetcli' ? 'nvmetcli' : 'native' }),
    setAnaState: (a) => handle.setAnaState({ portId: a.portId, grpid: a.grpid, state: a.state }),
    addNamespace: (o: NamespaceAddOptions) =>
      handle.addNamespace(sub(o.subnqn), {
        nsid: o.nsid,
        size: o.sizeBytes ?? DEFAULT_NS_SIZE,
        ...(o.blockSize !== undefined ? { blockSize: o.blockSize } : {}),
        ...(o.uuid !== undefined ? { uuid: o.uuid } : {}),
        ...(o.anagrpid !== undefined ? { anaGroup: o.anagrpid } : {}),
        ...(o.enabled !== undefined ? { enabled: o.enabled } : {}),
      }),
    removeNamespace: (nsid, s) => handle.removeNamespace(sub(s), nsid),
    enableNamespace: (nsid, s) => handle.enableNamespace(sub(s), nsid),
    disableNamespace: (nsid, s) => handle.disableNamespace(sub(s), nsid),
    setNamespaceUuid: (nsid, uuid, s) => handle.setNamespaceUuid(sub(s), nsid, uuid),
    setNamespaceNguid: (nsid, nguid, s) => handle.setNamespaceNguid(sub(s), nsid, nguid),
    setNamespaceGroup: (nsid, grpid, s) => handle.setNamespaceGroup(sub(s), nsid, grpid),
    resizeNamespace: (nsid, sizeBytes, s) => {
      const subnqn = sub(s)
      const ns = handle.status().subsystems.find((x) => x.nqn === subnqn)?.namespaces.find((n) => n.nsid === nsid)
      if (ns === undefined) throw new InvalidArgumentError('nsid', `no namespace ${nsid} in ${subnqn}`)
      if (sizeBytes % ns.blockSize !== 0) throw new InvalidArgumentError('sizeBytes', `must be a multiple of the block size ${ns.blockSize}`)
      return handle.resizeNamespace(subnqn, nsid, sizeBytes / ns.blockSize)
    },
    addPort: (o) => handle.addPort({ id: o.portId, address: o.address ?? '127.0.0.1', port: o.trsvcid ?? 0, ...(o.subsystems !== undefined ? { subsystems: o.subsystems } : {}) }),
    setPortSubsystem: (portId, nqn, exposed) => handle.setPortSubsystem(portId, nqn, exposed),
    removePort: (portId) => handle.removePort(portId),
    addReferral: (o) => handle.addReferral({ address: o.address, port: o.trsvcid, ...(o.portId !== undefined ? { portId: o.portId } : {}) }),
    removeReferral: (id) => handle.removeReferral(id),
    addSubsystem: (c) => handle.addSubsystem(c as unknown as Parameters<TargetHandle['addSubsystem']>[0]),
    removeSubsystem: (nqn) => handle.removeSubsystem(nqn),
    setSubsystemHost: (nqn, hostnqn, allowed) => handle.setSubsystemHost(nqn, hostnqn, allowed),
    setSubsystemMaxIoQueues: (nqn, n) => handle.setSubsystemMaxIoQueues(nqn, n),
    setHostAuth: (hostnqn, auth) => handle.setHostAuth(hostnqn, auth as HostAuthConfig),
    removeHostAuth: (hostnqn) => handle.removeHostAuth(hostnqn),
    updateHostAuth: (hostnqn, auth) => handle.updateHostAuth(hostnqn, auth as HostAuthConfig),
    deleteControllers: (f) => handle.deleteControllers(f),
    setControllerFatal: (cntlid) => handle.setControllerFatal(cntlid),
    raiseAen: (a) => {
      // The handle raises per controller; a port filter picks that port's controllers.
      const cntlids = a.portId === undefined ? [undefined] : handle.status().controllers.filter((c) => c.portId === a.portId).map((c) => c.cntlid)
      const nsids = a.nsids ?? [undefined]
      let n = 0
      for (const cntlid of cntlids) {
        for (const nsid of a.event === 'ns-changed' ? nsids : [undefined]) {
          n += handle.raiseAen({ type: a.event, ...(cntlid !== undefined ? { cntlid } : {}), ...(nsid !== undefined ? { nsid } : {}) })
        }
      }
      return n
    },
  }
}

export interface AttachFaultsOptions {
  /** Scenario file to run at once. */
  scenario?: string
  /** Control endpoint: a Unix socket path (mode 0600). */
  control?: string
  /** Optional loopback TCP control endpoint with a token. */
  controlTcp?: { host: string; port: number; token: string }
  /** Run seed (overrides the scenario's). */
  seed?: number | string
  clock?: Clock
  registry?: FaultRegistry
  trace?: TraceRecorder
  recordPdus?: boolean
  logger?: Logger
  /** HTTP/JSON control API (and /metrics when `http.metrics` is given). */
  http?: Omit<HttpApiOptions, 'controller'>
  /** Target metrics: their observing hooks wrap the engine's, and /metrics serves them. */
  metrics?: TargetMetrics
  /**
   * Observers composed around the engine's hooks (outermost), re-applied whenever the fault list
   * changes: the conformance runner's journal and timeline see every final decision.
   */
  wrapHooks?: (hooks: TargetHooks) => TargetHooks
}

export interface FaultsHandle {
  readonly engine: FaultEngine
  readonly controller: FaultController
  readonly control: ControlServer | undefined
  readonly http: HttpApi | undefined
  readonly scenario: ScenarioRun | undefined
  /** Stop the scenario, remove every fault and hook, close the control endpoint. */
  close(): Promise<void>
}

/** Attach a fault engine to a running target (and optionally a scenario and a control endpoint). */
export async function attachFaults(handle: TargetHandle, opts: AttachFaultsOptions = {}): Promise<FaultsHandle> {
  const log = opts.logger
  const engine = new FaultEngine({
    target: adaptTargetHandle(handle),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
    ...(opts.registry !== undefined ? { registry: opts.registry } : {}),
    ...(opts.trace !== undefined ? { trace: opts.trace } : {}),
    ...(opts.recordPdus !== undefined ? { recordPdus: opts.recordPdus } : {}),
    onError: (err, id) => log?.warn({ err, faultId: id }, 'fault failed'),
  })
  engine.trace.serverAddress ??= (portId) => {
    const p = handle.ports.find((b) => b.id === portId)
    return p === undefined ? undefined : { addr: p.address, port: p.port }
  }
  const metrics = opts.metrics
  const wrap = opts.wrapHooks ?? ((h: TargetHooks): TargetHooks => h)
  const install = (): void => handle.setHooks(wrap(metrics !== undefined ? metrics.wrap(engine.hooks()) : engine.hooks()))
  const unsubscribeHooks = engine.onChange(install)
  install()
  // Controller and queue life-cycle changes go into the trace as state events.
  const onController = (e: ControllerEvent): void => {
    engine.trace.record({
      kind: 'state',
      action: `controller-${e.type}`,
      port: e.portId,
      cntlid: e.cntlid,
      // The deprecated upper-case states, then their lower-case names (docs/design.md "State names").
      detail: `controller ${e.cntlid} ${e.type}${e.from !== undefined ? ` ${e.from} -> ${e.state} (${e.fromName ?? ''} -> ${e.stateName})` : ` ${e.state} (${e.stateName})`}${e.reason !== undefined ? ` (${e.reason})` : ''}`,
    })
  }
  const onQueue = (e: QueueEvent): void => {
    engine.trace.record({
      kind: 'state',
      action: `queue-${e.type}`,
      port: e.portId,
      connectionId: e.connectionId,
      ...(e.qid !== undefined ? { qid: e.qid } : {}),
      ...(e.cntlid !== undefined ? { cntlid: e.cntlid } : {}),
    })
  }
  handle.on('controller', onController)
  handle.on('queue', onQueue)
  const unsubscribe = (): void => {
    unsubscribeHooks()
    handle.off('controller', onController)
    handle.off('queue', onQueue)
  }
  const controller = new FaultController(engine)
  metrics?.bindFaults({
    faults: () => engine.list(),
    scenario: () => {
      const run = controller.scenario
      if (run === undefined) return null
      const step = (run as unknown as { step?: unknown }).step
      return { name: run.scenario.name || run.scenario.source, state: run.state, ...(typeof step === 'number' ? { step } : {}) }
    },
  })
  let control: ControlServer | undefined
  let http: HttpApi | undefined
  let scenario: ScenarioRun | undefined
  try {
    if (opts.scenario !== undefined) {
      const sc = await loadScenarioFile(engine, opts.scenario)
      scenario = await controller.startScenario(sc, opts.seed !== undefined ? { seed: opts.seed } : {})
      log?.info({ scenario: opts.scenario, seed: String(scenario.seed) }, 'scenario started')
      scenario.done.then(
        () => log?.info({ scenario: opts.scenario }, 'scenario steps done'),
        (err: unknown) => log?.error({ err, scenario: opts.scenario }, 'scenario failed'),
      )
    }
    if (opts.control !== undefined || opts.controlTcp !== undefined) {
      control = await startControlServer({
        controller,
        ...(opts.control !== undefined ? { path: opts.control } : {}),
        ...(opts.controlTcp !== undefined ? { tcp: opts.controlTcp } : {}),
        onError: (err) => log?.warn({ err }, 'control connection error'),
      })
      log?.info({ control: control.path, tcp: control.tcpAddress }, 'control endpoint listening')
    }
    if (opts.http !== undefined) {
      const { startHttpApi } = await import('./control-http.js')
      http = await startHttpApi({ controller, ...(metrics !== undefined ? { metrics } : {}), ...opts.http })
      log?.info({ http: http.address, httpSocket: http.socketPath }, 'http API listening')
    }
  } catch (err) {
    unsubscribe()
    metrics?.bindFaults(undefined)
    engine.close()
    handle.setHooks(undefined)
    await control?.close()
    await http?.close()
    throw err
  }
  return {
    engine,
    controller,
    control,
    http,
    get scenario() {
      return controller.scenario
    },
    close: async () => {
      controller.stopScenario()
      unsubscribe()
      metrics?.bindFaults(undefined)
      engine.close()
      handle.setHooks(undefined)
      await control?.close()
      await http?.close()
    },
  }
}
