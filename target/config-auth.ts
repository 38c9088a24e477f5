/**
 * The DH-HMAC-CHAP part of a target host entry (NVMe Base 2.0 section 8.13; what nvmet keeps in
 * configfs hosts/<nqn>/dhchap_key, dhchap_ctrl_key, dhchap_hash, dhchap_dhgroup):
 *
 *   hosts:
 *     - nqn: nqn.2014-08.org.nvmexpress:uuid:...
 *       dhchapKey: "DHHC-1:01:...:"       # the host must authenticate (unidirectional)
 *       dhchapCtrlKey: "DHHC-1:01:...:"   # the controller answers the host's challenge (bidirectional)
 *       dhchapHashes: [sha256, sha384, sha512]          # allowed, in order of preference
 *       dhchapDhgroups: [null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192]
 */
import { ConfigError, InvalidArgumentError } from '../lib/errors.js'
import { DHCHAP_DHGROUP_NAMES, DHCHAP_HASH_NAMES, type DhchapGroupName, type DhchapHashName } from '../lib/nvme/auth-ids.js'
import { parseDhchapSecret } from '../lib/nvme/auth-secret.js'

export const HOST_AUTH_KEYS = ['dhchapKey', 'dhchapCtrlKey', 'dhchapHashes', 'dhchapDhgroups'] as const

export interface HostAuthConfig {
  /** The host's secret (`DHHC-1:` text). Setting it makes the host authenticate on every queue. */
  dhchapKey?: string
  /** The controller's secret: with it the target answers a host's challenge (bidirectional). */
  dhchapCtrlKey?: string
  /** Allowed hashes in order of preference (default sha256, sha384, sha512). */
  dhchapHashes?: DhchapHashName[]
  /** Allowed DH groups in order of preference (default null, then ffdhe2048..8192). */
  dhchapDhgroups?: DhchapGroupName[]
}

export interface ResolvedHostAuth {
  nqn: string
  dhchapKey: string
  dhchapCtrlKey: string | undefined
  dhchapHashes: DhchapHashName[]
  dhchapDhgroups: DhchapGroupName[]
}

function names<T extends string>(v: unknown, path: string, all: readonly T[]): T[] {
  if (v === undefined) return [...all]
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(path, `must be a non-empty list of ${all.join(', ')}`)
  const out: T[] = []
  v.forEach((x, i) => {
    // YAML reads a bare `null` as null: it is the NULL DH group here.
    const s = x === null ? 'null' : x
    if (typeof s !== 'string' || !(all as readonly string[]).includes(s)) throw new ConfigError(`${path}[${i}]`, `must be one of ${all.join(', ')}`)
    if (!out.includes(s as T)) out.push(s as T)
  })
  return out
}

function secret(v: unknown, path: string): string {
  try {
    parseDhchapSecret(v as string, path)
  } catch (err) {
    throw new ConfigError(path, err instanceof InvalidArgumentError ? err.message.replace(/^'[^']*' /, '') : String(err))
  }
  return v as string
}

/** The authentication settings of host entry `h` (at `path`), or undefined when it has no dhchapKey. */
export function parseHostAuth(h: Record<string, unknown>, path: string, nqn: string): ResolvedHostAuth | undefined {
  const hashes = names(h.dhchapHashes, `${path}.dhchapHashes`, DHCHAP_HASH_NAMES)
  const groups = names(h.dhchapDhgroups, `${path}.dhchapDhgroups`, DHCHAP_DHGROUP_NAMES)
  if (h.dhchapKey === undefined) {
    if (h.dhchapCtrlKey !== undefined) throw new ConfigError(`${path}.dhchapCtrlKey`, 'needs dhchapKey (the controller authenticates only after the host did)')
    return undefined
  }
  return {
    nqn,
    dhchapKey: secret(h.dhchapKey, `${path}.dhchapKey`),
    dhchapCtrlKey: h.dhchapCtrlKey === undefined ? undefined : secret(h.dhchapCtrlKey, `${path}.dhchapCtrlKey`),
    dhchapHashes: hashes,
    dhchapDhgroups: groups,
  }
}
