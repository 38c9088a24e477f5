/**
 * Delay distributions: fixed, uniform, or log-normal given a median and a 99th percentile (SPDK's
 * bdev_delay takes an average and a p99; a log-normal with those two quantiles is the usual way to
 * model a long-tailed latency).
 */
import type { Random } from '../lib/clock.js'
import { ConfigError } from '../lib/errors.js'

export interface DelaySpec {
  ms?: number
  minMs?: number
  maxMs?: number
  p50Ms?: number
  p99Ms?: number
}

/** z for the 99th percentile of the standard normal. */
const Z99 = 2.3263478740408408

export type DelaySampler = (random: Random) => number

export function compileDelay(spec: DelaySpec | undefined, path: string): DelaySampler {
  const s = spec ?? {}
  const nonNeg = (v: number | undefined, name: string): void => {
    if (v !== undefined && v < 0) throw new ConfigError(`${path}.${name}`, `must be >= 0, got ${v}`)
  }
  nonNeg(s.ms, 'ms'); nonNeg(s.minMs, 'minMs'); nonNeg(s.maxMs, 'maxMs'); nonNeg(s.p50Ms, 'p50Ms'); nonNeg(s.p99Ms, 'p99Ms')
  const kinds = [s.ms !== undefined, s.minMs !== undefined || s.maxMs !== undefined, s.p50Ms !== undefined || s.p99Ms !== undefined].filter(Boolean).length
  if (kinds === 0) throw new ConfigError(path, 'needs ms, or minMs+maxMs, or p50Ms+p99Ms')
  if (kinds > 1) throw new ConfigError(path, 'give exactly one of ms, minMs/maxMs, p50Ms/p99Ms')
  if (s.ms !== undefined) {
    const ms = s.ms
    return () => ms
  }
  if (s.minMs !== undefined || s.maxMs !== undefined) {
    if (s.minMs === undefined || s.maxMs === undefined) throw new ConfigError(`${path}.${s.minMs === undefined ? 'minMs' : 'maxMs'}`, 'uniform delay needs both minMs and maxMs')
    if (s.maxMs < s.minMs) throw new ConfigError(`${path}.maxMs`, `must be >= minMs (${s.minMs})`)
    const lo = s.minMs
    const span = s.maxMs - s.minMs
    return (r) => lo + r.next() * span
  }
  if (s.p50Ms === undefined || s.p99Ms === undefined) throw new ConfigError(`${path}.${s.p50Ms === undefined ? 'p50Ms' : 'p99Ms'}`, 'a long-tailed delay needs both p50Ms and p99Ms')
  if (s.p99Ms < s.p50Ms) throw new ConfigError(`${path}.p99Ms`, `must be >= p50Ms (${s.p50Ms})`)
  if (s.p50Ms === 0) {
    return () => 0
  }
  const mu = Math.log(s.p50Ms)
  const sigma = (Math.log(s.p99Ms) - mu) / Z99
  return (r) => {
    // Box-Muller from two uniforms of the fault's own PRNG.
    const u1 = Math.max(r.next(), Number.MIN_VALUE)
    const u2 = r.next()
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
    return Math.exp(mu + sigma * z)
  }
}
