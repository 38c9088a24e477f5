/**
 * nvmf-fault target, in-process API: `createTarget(options)` starts a target described by the same
 * shape as the config file (plus a logger, clock, PRNG and fault hooks) and returns a handle with a
 * method for every run-time change, a status snapshot and life-cycle events.
 */
import { pino } from 'pino'
import { systemClock, seededRandom } from '../lib/clock.js'
import { parseTargetConfig } from './config.js'
import type { HookSlot } from './core/hooks.js'
import { TargetCore } from './core/target-core.js'
import { TcpTransport } from './transport/tcp.js'
import { LoopbackTransport } from './transport/loopback.js'
import { Target, portInfo } from './running-target.js'
import type { TargetHandle, TargetOptions } from './target-handle.js'

export type { TargetConfig, PortConfig, NamespaceConfig, SubsystemConfig, ReferralConfig, AnaStateName } from './config.js'
export { parseTargetConfig, loadTargetConfigFile, defaultTargetConfig, DEFAULT_SUBSYSTEM_NQN } from './config.js'
export { exportConfig, type ExportConfigOptions, type NvmetcliDocument } from './config-export.js'
export { detectConfigFormat, fromNvmetcli, type ConfigFormat, type ConfigWarning } from './config-nvmetcli.js'
export type { TargetHooks, Decision, HookContext, HookCommand, HookCompletion, ConnectionInfo, ReceivedPdu, OutgoingPdu, CommandKind } from './core/hooks.js'
export type { ConnectionDecision, ReceiveDecision, SendDecision, CommandDecision, ConnectionFault, SeamName } from './seams/decisions.js'
export type { QueueEvent, StoreWrapper } from './core/target-core.js'
export { CONTROLLER_STATE_NAMES, QUEUE_STATE_NAMES, hasStateName } from './state-names.js'
export type { TargetStatus, ControllerStatus, QueueStatus, ControllerEvent, ControllerStateName, QueueStateName } from './state-names.js'
export type { BoundPort, ConnectionStats } from './transport/tcp.js'
export { DEFAULT_LIMITS, type LimitsConfig, type ResolvedLimits } from './limits.js'
export type { TargetAuthCounters } from './cmd/auth.js'
export type { HostAuthConfig } from './config-auth.js'
export { LoopbackTransport, LoopbackQueue, type LoopbackCompletion } from './transport/loopback.js'
export { TargetCore } from './core/target-core.js'
export { TargetMetrics, createTargetMetrics, type TargetMetricsOptions, type FaultMetricsSource } from './metrics.js'
export type { TargetOptions, SetAnaStateOptions, ControllerFilter, RaiseAenOptions, TargetHandle } from './target-handle.js'

/** Start a target: validate options, create the subsystems and namespaces, bind every port. */
export async function createTarget(options: TargetOptions): Promise<TargetHandle> {
  const config = parseTargetConfig(options)
  const logger = options.logger ?? pino({ level: 'silent' })
  const clock = options.clock ?? systemClock
  const random = options.random ?? seededRandom(Date.now())
  const hooks: HookSlot = { hooks: options.hooks }
  const core = new TargetCore({ config, logger, clock, random, hooks, ...(options.wrapStore !== undefined ? { wrapStore: options.wrapStore } : {}) })
  const transport = new TcpTransport({ core, logger, clock, hooks, tracePdu: options.tracePdu === true })
  const target = new Target(core, transport, hooks, logger)
  try {
    const infos = config.ports.map(portInfo)
    for (const info of infos) core.addPortInfo(info)
    for (const s of config.subsystems) await core.addSubsystem(s)
    for (const info of infos) await transport.addPort(info)
  } catch (err) {
    await target.close().catch(() => undefined)
    throw err
  }
  return target
}

export interface LoopbackTarget {
  readonly core: TargetCore
  readonly loopback: LoopbackTransport
  close(): Promise<void>
}

/**
 * The same target without sockets: ports exist only as ids (nothing listens) and queues are opened
 * with `loopback.connect({ portId })` — for tests of the core and for in-process initiators.
 */
export async function createLoopbackTarget(options: TargetOptions): Promise<LoopbackTarget> {
  const config = parseTargetConfig(options)
  const logger = options.logger ?? pino({ level: 'silent' })
  const hooks: HookSlot = { hooks: options.hooks }
  const core = new TargetCore({ config, logger, clock: options.clock ?? systemClock, random: options.random ?? seededRandom(Date.now()), hooks })
  for (const p of config.ports) core.addPortInfo(portInfo(p))
  for (const s of config.subsystems) await core.addSubsystem(s)
  const loopback = new LoopbackTransport({ core, logger })
  return {
    core,
    loopback,
    close: async () => {
      core.markClosing()
      for (const q of [...core.queues]) q.transport.close('target closed')
      for (const c of core.allControllers()) c.delete('target closed')
      for (const s of core.subsystems.values()) for (const ns of s.namespaces()) await ns.store.close()
    },
  }
}
