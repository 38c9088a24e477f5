/**
 * Resource limits of the target: the `limits:` block of the target config, its one validator and
 * its defaults. Every limit bounds what a hostile or broken host can make the target hold (sockets,
 * bytes, timers, controllers) so that a fault-injection tool is never itself the fault.
 *
 * Three limits predate the block and are still accepted at the top level of the config
 * (`icReqTimeoutMs`, `maxQueueSize`, `maxBufferedBytes`); setting one in both places is an error, so
 * each fact has one value.
 */
import { ConfigError } from '../lib/errors.js'

export interface KatoRange {
  /** Smallest non-zero KATO used, ms; a smaller request is raised to it (default 100, KAS granularity). */
  minMs?: number
  /** Largest KATO used, ms; a larger request is lowered to it (default 3600000 = 1 h). */
  maxMs?: number
}

export interface LimitsConfig {
  /** Open connections per port; more are closed at accept (default 1024). */
  connectionsPerPort?: number
  /** Connected queues (admin + I/O) per host NQN across the target; Connect beyond is Controller Busy (default 256). */
  connectionsPerHost?: number
  /** ms a new connection may take to send ICReq (default 10000). */
  icReqTimeoutMs?: number
  /** ms from ICResp to a successful Connect (default 10000). */
  connectTimeoutMs?: number
  /** ms a PDU whose first byte arrived may take to arrive whole (default 30000). */
  pduTimeoutMs?: number
  /**
   * ms a connected queue may stay silent with nothing in flight when no keep-alive covers it
   * (its controller's KATO is 0); 0 disables (default 300000).
   */
  idleTimeoutMs?: number
  /** Bytes of command data (R2T buffers, read data, in-capsule data) held per connection (default 4 MiB). */
  maxBufferedBytes?: number
  /** R2Ts outstanding per connection; further writes wait for one to finish (default 32). */
  maxR2T?: number
  /** Largest SQSIZE+1 a Connect may ask for (CAP.MQES+1, default 1024). */
  maxQueueSize?: number
  /** Namespaces per subsystem (default 1024). */
  namespacesPerSubsystem?: number
  /** Controllers per subsystem; Connect beyond is Controller Busy (default 64). */
  controllersPerSubsystem?: number
  /** The KATO a controller may use: Connect and Set Features values are clamped into it. */
  kato?: KatoRange
}

export interface ResolvedLimits {
  connectionsPerPort: number
  connectionsPerHost: number
  icReqTimeoutMs: number
  connectTimeoutMs: number
  pduTimeoutMs: number
  idleTimeoutMs: number
  maxBufferedBytes: number
  maxR2T: number
  maxQueueSize: number
  namespacesPerSubsystem: number
  controllersPerSubsystem: number
  kato: { minMs: number; maxMs: number }
}

/** Node timers overflow at 2^31 ms (they then fire after 1 ms): no timer the target arms may exceed it. */
export const MAX_TIMER_MS = 2 ** 31 - 1

export const DEFAULT_LIMITS: Readonly<ResolvedLimits> = Object.freeze({
  connectionsPerPort: 1024,
  connectionsPerHost: 256,
  icReqTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  pduTimeoutMs: 30_000,
  idleTimeoutMs: 300_000,
  maxBufferedBytes: 4 << 20,
  maxR2T: 32,
  maxQueueSize: 1024,
  namespacesPerSubsystem: 1024,
  controllersPerSubsystem: 64,
  kato: Object.freeze({ minMs: 100, maxMs: 3_600_000 }),
})

const HOUR = 3_600_000
/** [min, max] of each numeric limit. */
const RANGES: Readonly<Record<Exclude<keyof ResolvedLimits, 'kato'>, readonly [number, number]>> = {
  connectionsPerPort: [1, 65536],
  connectionsPerHost: [1, 65536],
  icReqTimeoutMs: [1, HOUR],
  connectTimeoutMs: [1, HOUR],
  pduTimeoutMs: [1, HOUR],
  idleTimeoutMs: [0, 24 * HOUR],
  maxBufferedBytes: [65536, 1 << 30],
  maxR2T: [1, 0xffff],
  maxQueueSize: [16, 65536],
  namespacesPerSubsystem: [1, 1024],
  controllersPerSubsystem: [1, 0xffef],
}
/** Top-level config keys that name a limit (accepted for compatibility). */
export const LEGACY_LIMIT_KEYS = ['icReqTimeoutMs', 'maxQueueSize', 'maxBufferedBytes'] as const

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
function int(v: unknown, path: string, [min, max]: readonly [number, number]): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(path, `must be an integer in [${min}, ${max}]`)
  return v
}

/**
 * Validates `root.limits` (and the legacy top-level keys of `root`) and fills defaults. Errors are
 * `ConfigError`s naming the field (`limits.kato.maxMs`).
 */
export function parseLimits(root: Record<string, unknown>): ResolvedLimits {
  const v = root.limits === undefined ? {} : root.limits
  if (!isObject(v)) throw new ConfigError('limits', 'must be an object')
  const keys = [...Object.keys(RANGES), 'kato']
  for (const k of Object.keys(v)) if (!keys.includes(k)) throw new ConfigError(`limits.${k}`, `unknown field (expected one of: ${keys.join(', ')})`)
  const out: ResolvedLimits = { ...DEFAULT_LIMITS, kato: { ...DEFAULT_LIMITS.kato } }
  for (const k of LEGACY_LIMIT_KEYS) {
    if (root[k] === undefined) continue
    if (v[k] !== undefined) throw new ConfigError(k, `set both here and as limits.${k}; keep one`)
    out[k] = int(root[k], k, RANGES[k])
  }
  for (const [k, range] of Object.entries(RANGES) as [Exclude<keyof ResolvedLimits, 'kato'>, readonly [number, number]][]) {
    if (v[k] !== undefined) out[k] = int(v[k], `limits.${k}`, range)
  }
  if (v.kato !== undefined) {
    if (!isObject(v.kato)) throw new ConfigError('limits.kato', 'must be an object { minMs?, maxMs? }')
    for (const k of Object.keys(v.kato)) if (k !== 'minMs' && k !== 'maxMs') throw new ConfigError(`limits.kato.${k}`, 'unknown field (expected one of: minMs, maxMs)')
    if (v.kato.minMs !== undefined) out.kato.minMs = int(v.kato.minMs, 'limits.kato.minMs', [1, MAX_TIMER_MS])
    if (v.kato.maxMs !== undefined) out.kato.maxMs = int(v.kato.maxMs, 'limits.kato.maxMs', [1, MAX_TIMER_MS])
    if (out.kato.minMs > out.kato.maxMs) throw new ConfigError('limits.kato', `minMs ${out.kato.minMs} is above maxMs ${out.kato.maxMs}`)
  }
  return out
}

/**
 * The KATO a controller uses for a requested one (Connect CDW12 or Set Features KATO, ms):
 * 0 stays 0 (keep-alive disabled); anything else is clamped into the configured range, which never
 * exceeds a Node timer's 2^31-1 ms. Base 2.0 section 5.27.1.12 lets the controller round the value;
 * Get Features reports the value in use.
 */
export function clampKato(requested: number, range: { minMs: number; maxMs: number }): number {
  if (requested === 0) return 0
  return Math.min(Math.max(requested >>> 0, range.minMs), range.maxMs, MAX_TIMER_MS)
}
