/**
 * Field checkers shared by the config validators: each takes a value and its path in the document
 * and returns the typed value or throws a `ConfigError` naming that path (`ports[0].id`), so every
 * error says which field is wrong and why.
 */
import { ConfigError } from '../lib/errors.js'
import { nqnNameProblem, type NqnRole } from '../lib/nvme/nqn.js'

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function fail(path: string, reason: string): never {
  throw new ConfigError(path, reason)
}
export function checkKeys(obj: Record<string, unknown>, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(path === '' ? k : `${path}.${k}`, `unknown field (expected one of: ${allowed.join(', ')})`)
  }
}
export function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `must be an integer in [${min}, ${max}]`)
  return v
}
export function optInt(v: unknown, path: string, min: number, max: number, dflt: number): number {
  return v === undefined ? dflt : int(v, path, min, max)
}
export function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(path, 'must be a non-empty string')
  return v
}
export function bool(v: unknown, path: string, dflt: boolean): boolean {
  if (v === undefined) return dflt
  if (typeof v !== 'boolean') fail(path, 'must be true or false')
  return v
}
export function arr(v: unknown, path: string): unknown[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) fail(path, 'must be a list')
  return v
}
/** A subsystem or host name, by nvmet's rules (lib/nvme/nqn.ts: one definition for config, API and CLI). */
export function nqn(v: unknown, path: string, role: NqnRole = 'subsystem'): string {
  const s = str(v, path)
  const p = nqnNameProblem(s, role)
  if (p !== undefined) fail(path, `NQN "${s.slice(0, 64)}" ${p}`)
  return s
}
