/**
 * NVMe Qualified Names (wire reference 5.7; NVMe Base 2.0 section 4.5): the well-known discovery NQN,
 * the UUID form and a validator that says why a name is rejected.
 */
import type { Random } from '../clock.js'
import { isUuid, randomUuid } from './uuid.js'
import { InvalidArgumentError } from '../errors.js'

export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery'
export const NQN_UUID_PREFIX = 'nqn.2014-08.org.nvmexpress:uuid:'
/** Maximum NQN length in bytes, without the NUL (Linux NVMF_NQN_SIZE, SPDK). */
export const NQN_MAX_LENGTH = 223
/** Minimum NQN length (SPDK). */
export const NQN_MIN_LENGTH = 11

export function isDiscoveryNqn(nqn: string): boolean {
  return nqn === DISCOVERY_NQN
}

/** `nqn.2014-08.org.nvmexpress:uuid:<uuid>` (lowercase). */
export function makeUuidNqn(uuid: string): string {
  if (!isUuid(uuid)) throw new InvalidArgumentError('uuid', `must be 8-4-4-4-12 hex digits (got "${uuid}")`)
  return NQN_UUID_PREFIX + uuid.toLowerCase()
}

/** A host NQN of the UUID form with a random UUID from `random`. */
export function randomUuidNqn(random: Random): string {
  return makeUuidNqn(randomUuid(random))
}

/** The UUID of a UUID-form NQN, or undefined. */
export function uuidOfNqn(nqn: string): string | undefined {
  if (!nqn.startsWith(NQN_UUID_PREFIX)) return undefined
  const u = nqn.slice(NQN_UUID_PREFIX.length)
  return isUuid(u) ? u.toLowerCase() : undefined
}

const LABEL_RE = /^[A-Za-z][A-Za-z0-9-]*$/

/**
 * Validate an NQN. Returns undefined when valid, else the reason. Accepted: the discovery NQN, the
 * UUID form, and `nqn.yyyy-mm.<reverse domain>:<string>` (4-digit year, month 01-12, domain labels
 * starting with a letter of at most 63 characters, a non-empty user part), ASCII printable,
 * 11..223 bytes (SPDK's rules; Linux accepts any string up to 223).
 */
export function validateNqn(nqn: string): string | undefined {
  if (typeof nqn !== 'string') return 'NQN must be a string'
  const len = Buffer.byteLength(nqn, 'utf8')
  if (len > NQN_MAX_LENGTH) return `NQN is ${len} bytes, more than ${NQN_MAX_LENGTH}`
  if (len < NQN_MIN_LENGTH) return `NQN is ${len} bytes, fewer than ${NQN_MIN_LENGTH}`
  if (!/^[\x20-\x7e]+$/.test(nqn)) return 'NQN must be printable ASCII'
  if (nqn === DISCOVERY_NQN) return undefined
  if (nqn.startsWith(NQN_UUID_PREFIX)) {
    const u = nqn.slice(NQN_UUID_PREFIX.length)
    return isUuid(u) ? undefined : `"${u}" after "${NQN_UUID_PREFIX}" is not a UUID`
  }
  if (!nqn.startsWith('nqn.')) return 'NQN must start with "nqn."'
  const m = /^nqn\.(\d{4})-(\d{2})\.([^:]*)(?::(.*))?$/s.exec(nqn)
  if (m === null) return 'NQN must continue "nqn.yyyy-mm." with a 4-digit year and 2-digit month'
  const month = Number(m[2])
  if (month < 1 || month > 12) return `month ${m[2]} is not 01..12`
  const domain = m[3] ?? ''
  if (domain.length === 0) return 'NQN has no reverse domain name after the date'
  for (const label of domain.split('.')) {
    if (label.length === 0) return `reverse domain "${domain}" has an empty label`
    if (label.length > 63) return `domain label "${label.slice(0, 16)}..." is longer than 63 characters`
    if (!LABEL_RE.test(label)) return `domain label "${label}" must start with a letter and hold only letters, digits and '-'`
  }
  if (m[4] === undefined) return 'NQN must have a ":" followed by a user-specific string after the domain'
  if (m[4].length === 0) return 'NQN has an empty string after ":"'
  return undefined
}

/** Throw InvalidArgumentError (naming `field`) unless `nqn` is valid. */
export function assertNqn(nqn: string, field = 'nqn'): string {
  const why = validateNqn(nqn)
  if (why !== undefined) throw new InvalidArgumentError(field, why)
  return nqn
}
