/**
 * NVMe Qualified Names (wire reference 5.7; NVMe Base 2.0 section 4.5): the well-known discovery NQN,
 * the UUID form, the names nvmet and the Linux host accept ({@link nqnNameProblem}: what config, API
 * and CLI take) and the stricter NVMe Base form ({@link validateNqn}: advisory).
 */
import type { Random } from '../clock.js'
import { isUuid, randomUuid } from './uuid.js'
import { InvalidArgumentError } from '../errors.js'

export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery'
export const NQN_UUID_PREFIX = 'nqn.2014-08.org.nvmexpress:uuid:'
/** Maximum NQN length in bytes, without the NUL (Linux NVMF_NQN_SIZE, SPDK). */
export const NQN_MAX_LENGTH = 223
/** Minimum NQN length (SPDK; the NVMe Base form, not a limit of nvmet or the Linux host). */
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
 * The NVMe Base form of an NQN (advisory: nvmf-fault takes any name nvmet takes, see
 * {@link nqnNameProblem}). Returns undefined when of that form, else the reason. Accepted: the discovery NQN, the
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

/** Which name is checked: a subsystem may not take the discovery NQN, a host may. */
export type NqnRole = 'subsystem' | 'host'

/**
 * Why nvmet or the Linux host would refuse `name` as a subsystem (or host) NQN, or undefined. These
 * are the rules nvmf-fault applies to every subsystem and host name it takes (config file, target
 * API, CLI); the NVMe Base form (`nqn.yyyy-mm.domain:...`, {@link validateNqn}) is not required,
 * because nvmet does not require it (blktests names its subsystem `blktests-subsystem-1`, nvmetcli's
 * examples use `testnqn` and `hostnqn`):
 * - nvmet creates a subsystem for any configfs directory name (nvmet_subsys_make in
 *   drivers/nvme/target/configfs.c): non-empty, no '/' (a path separator), not "." or "..";
 * - except the well-known discovery NQN (nvmet_subsys_make refuses it; for a host NQN it is fine);
 * - nvmet keeps at most NVMF_NQN_SIZE (223) bytes of it (kstrndup in nvmet_subsys_alloc, core.c):
 *   a longer name would be served under a truncated name, so it is refused. (The Linux host itself
 *   takes at most 222 bytes in `nqn=`, nvmf_parse_options in drivers/nvme/host/fabrics.c, and splits
 *   its options at ',': such names are still nvmet's, and ours, to serve to other hosts.)
 * - a NUL byte would end the name in the Connect data's 256-byte SUBNQN/HOSTNQN field (Fabrics
 *   Connect, NVMe over Fabrics 1.1 section 3.3): refused.
 */
export function nqnNameProblem(name: unknown, role: NqnRole = 'subsystem'): string | undefined {
  if (typeof name !== 'string') return 'must be a string'
  if (name.length === 0) return 'must not be empty'
  const len = Buffer.byteLength(name, 'utf8')
  if (len > NQN_MAX_LENGTH) return `is ${len} bytes; nvmet keeps at most ${NQN_MAX_LENGTH} (NVMF_NQN_SIZE)`
  if (name.includes('\0')) return 'must not contain a NUL character'
  if (name.includes('/')) return "must not contain '/' (nvmet names subsystems by configfs directory)"
  if (name === '.' || name === '..') return `"${name}" is not a directory name nvmet can create`
  if (role === 'subsystem' && name.replace(/\n$/, '') === DISCOVERY_NQN) return 'is the discovery NQN, which the target serves itself'
  return undefined
}

/** Throw InvalidArgumentError (naming `field`) unless nvmet would take `name` ({@link nqnNameProblem}). */
export function assertNqnName(name: string, field = 'nqn', role: NqnRole = 'subsystem'): string {
  const why = nqnNameProblem(name, role)
  if (why !== undefined) throw new InvalidArgumentError(field, `NQN "${String(name).slice(0, 64)}" ${why}`)
  return name
}

/** Throw InvalidArgumentError (naming `field`) unless `nqn` is of the NVMe Base form ({@link validateNqn}). */
export function assertNqn(nqn: string, field = 'nqn'): string {
  const why = validateNqn(nqn)
  if (why !== undefined) throw new InvalidArgumentError(field, why)
  return nqn
}
