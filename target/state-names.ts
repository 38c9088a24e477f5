/**
 * The lower-case names of the target's state values, added at the output edge (docs/design.md,
 * "State names"). The target's state machines (target/core) keep their upper-case values for now;
 * for one release every status output carries `state` unchanged (upper case, deprecated) beside a
 * lower-case `stateName`; the release after, `state` itself becomes lower case and the mapping here
 * goes. Comparisons (faults/, conformance/) go through `hasStateName`, which accepts both spellings.
 */
import type { ControllerState } from './core/controller.js'
import type { QueueState } from './core/queue.js'
import type { ControllerEvent as CoreControllerEvent, TargetStatus as CoreTargetStatus } from './core/target-core.js'

/** Controller states (nvmet's CC.EN / CSTS.RDY / shutdown life cycle) by their public names. */
export const CONTROLLER_STATE_NAMES = {
  DISABLED: 'disabled',
  READY: 'ready',
  SHUTTING_DOWN: 'shutting-down',
  SHUTDOWN: 'shutdown',
  FATAL: 'fatal',
  DELETED: 'deleted',
} as const satisfies Record<ControllerState, string>

/** Queue (one TCP connection's NVMe queue) states by their public names. */
export const QUEUE_STATE_NAMES = {
  CONNECTING: 'connecting',
  LIVE: 'live',
  DISCONNECTING: 'disconnecting',
  CLOSED: 'closed',
} as const satisfies Record<QueueState, string>

export type ControllerStateName = (typeof CONTROLLER_STATE_NAMES)[ControllerState]
export type QueueStateName = (typeof QUEUE_STATE_NAMES)[QueueState]

type CoreControllerStatus = CoreTargetStatus['controllers'][number]
type CoreQueueStatus = CoreTargetStatus['unboundQueues'][number]

export type QueueStatus = CoreQueueStatus & { stateName: QueueStateName }
export type ControllerStatus = Omit<CoreControllerStatus, 'queues'> & { stateName: ControllerStateName; queues: QueueStatus[] }
/** `TargetHandle.status()`: the core's snapshot with `stateName` beside every controller's and queue's `state`. */
export type TargetStatus = Omit<CoreTargetStatus, 'controllers' | 'unboundQueues'> & { controllers: ControllerStatus[]; unboundQueues: QueueStatus[] }
/** A controller life-cycle event with `stateName` (and `fromName` beside `from`). */
export type ControllerEvent = CoreControllerEvent & { stateName: ControllerStateName; fromName?: ControllerStateName }

const namedQueue = (q: CoreQueueStatus): QueueStatus => ({ ...q, stateName: QUEUE_STATE_NAMES[q.state] })

export function withStateNames(s: CoreTargetStatus): TargetStatus {
  return {
    ...s,
    controllers: s.controllers.map((c) => ({ ...c, stateName: CONTROLLER_STATE_NAMES[c.state], queues: c.queues.map(namedQueue) })),
    unboundQueues: s.unboundQueues.map(namedQueue),
  }
}

export function withEventStateNames(e: CoreControllerEvent): ControllerEvent {
  return { ...e, stateName: CONTROLLER_STATE_NAMES[e.state], ...(e.from !== undefined ? { fromName: CONTROLLER_STATE_NAMES[e.from] } : {}) }
}

const ALL_NAMES: Readonly<Record<string, string>> = { ...CONTROLLER_STATE_NAMES, ...QUEUE_STATE_NAMES }

/**
 * True when a status entry (as an object or as JSON from another process) is in state `name`,
 * whichever spelling it carries: `stateName`, the deprecated upper-case `state`, or a lower-case
 * `state` (the release after the deprecation).
 */
export function hasStateName(entry: { state?: unknown; stateName?: unknown }, name: ControllerStateName | QueueStateName): boolean {
  if (entry.stateName === name || entry.state === name) return true
  return typeof entry.state === 'string' && Object.hasOwn(ALL_NAMES, entry.state) && ALL_NAMES[entry.state] === name
}
