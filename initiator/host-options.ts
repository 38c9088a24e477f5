/**
 * The options of {@link NvmeHost}, checked once at its constructor (each error names the option).
 */
import type { Logger } from 'pino'
import type { Clock, Random } from '../lib/clock.js'
import { InvalidArgumentError } from '../lib/errors.js'
import { NQN_UUID_PREFIX } from '../lib/nvme/nqn.js'
import { isUuid, randomUuid } from '../lib/nvme/uuid.js'
import type { ControllerConnectOptions } from './controller-options.js'
import { IO_POLICIES, type IoPolicy } from './path-selector.js'
import { WriteThrottle, type WriteThrottleOptions } from './qos/write-throttle.js'

export interface HostOptions {
  /** Host NQN; default a UUID NQN derived from `hostid`. */
  hostnqn?: string
  /** Host identifier (UUID string); default random from `random`. */
  hostid?: string
  clock?: Clock
  random?: Random
  logger?: Logger
  /** Default I/O policy for new heads. */
  iopolicy?: IoPolicy
  /** Same-path retries before an error completes (Linux max_retries 5). */
  maxRetries?: number
  /** Queue-if-no-path: keep I/O queued this long (ms) after the last path of a head vanished. 0 = off. */
  delayedRemovalMs?: number
  qos?: {
    /** WBT-like write throttle options; `false` disables it. */
    writeThrottle?: WriteThrottleOptions | false
    /** HDR latency tracking per path (default on). */
    latency?: boolean
  }
  /** Run the QoS invariant checker (default off; tests turn it on). */
  checkInvariants?: boolean
  /** Throw on the first invariant violation instead of recording it. */
  throwOnViolation?: boolean
  /** Defaults merged under every `connect()` call. */
  controllerDefaults?: Partial<ControllerConnectOptions>
  /**
   * Internal switches for tests. `clearQosFlagsOnFailover: false` removes the nvme/058 fix (the
   * failover no longer completes the QoS charge and clears the flags): never use it in production.
   */
  internal?: { clearQosFlagsOnFailover?: boolean }
}

export interface ResolvedHostOptions {
  hostid: string
  hostnqn: string
  iopolicy: IoPolicy
  maxRetries: number
  delayedRemovalMs: number
}

/** Validate `options`; the defaults: a random host ID (from `random`), its UUID NQN, numa, 5 retries, no delayed removal. */
export function resolveHostOptions(options: HostOptions, random: Random, clock: Clock): ResolvedHostOptions {
  if (options.hostid !== undefined && (typeof options.hostid !== 'string' || !isUuid(options.hostid))) {
    throw new InvalidArgumentError('hostid', 'must be a UUID string')
  }
  const hostid = options.hostid ?? randomUuid(random)
  if (options.hostnqn !== undefined && (typeof options.hostnqn !== 'string' || options.hostnqn.length === 0 || Buffer.byteLength(options.hostnqn) > 223)) {
    throw new InvalidArgumentError('hostnqn', 'must be an NQN of 1 to 223 bytes')
  }
  const hostnqn = options.hostnqn ?? NQN_UUID_PREFIX + hostid
  const pol = options.iopolicy ?? 'numa'
  if (!IO_POLICIES.includes(pol)) throw new InvalidArgumentError('iopolicy', `must be one of ${IO_POLICIES.join(', ')}`)
  const mr = options.maxRetries ?? 5
  if (!Number.isInteger(mr) || mr < 0 || mr > 100) throw new InvalidArgumentError('maxRetries', 'must be an integer in [0, 100]')
  const dr = options.delayedRemovalMs ?? 0
  if (!Number.isInteger(dr) || dr < 0 || dr > 3_600_000) throw new InvalidArgumentError('delayedRemovalMs', 'must be an integer in [0, 3600000] ms')
  if (options.qos?.writeThrottle !== undefined && options.qos.writeThrottle !== false) {
    // Validate once up front so a bad option fails at construction, naming the option.
    new WriteThrottle({ ...options.qos.writeThrottle, clock })
  }
  for (const [name, v] of [
    ['checkInvariants', options.checkInvariants],
    ['throwOnViolation', options.throwOnViolation],
    ['qos.latency', options.qos?.latency],
    ['internal.clearQosFlagsOnFailover', options.internal?.clearQosFlagsOnFailover],
  ] as const) {
    if (v !== undefined && typeof v !== 'boolean') throw new InvalidArgumentError(name, 'must be a boolean')
  }
  if (options.controllerDefaults !== undefined && (options.controllerDefaults === null || typeof options.controllerDefaults !== 'object')) {
    throw new InvalidArgumentError('controllerDefaults', 'must be an object of controller options')
  }
  return { hostid, hostnqn, iopolicy: pol, maxRetries: mr, delayedRemovalMs: dr }
}
