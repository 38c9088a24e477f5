/** UUID helpers: text ↔ 16 bytes (textual byte order, as Linux `uuid_t` and the NVMe HOSTID/UUID fields) and random v4 UUIDs from an injected {@link Random}. */
import { InvalidArgumentError } from '../errors.js'
import type { Random } from '../clock.js'

export const UUID_SIZE = 16
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(s: string): boolean {
  return UUID_RE.test(s)
}

/** "00112233-4455-6677-8899-aabbccddeeff" → 16 bytes in the same order. */
export function uuidToBytes(uuid: string): Buffer {
  if (!isUuid(uuid)) throw new InvalidArgumentError('uuid', `must be 8-4-4-4-12 hex digits (got "${uuid}")`)
  return Buffer.from(uuid.replace(/-/g, ''), 'hex')
}

/** 16 bytes → lowercase 36-character UUID text. */
export function bytesToUuid(bytes: Uint8Array): string {
  if (bytes.length !== UUID_SIZE) throw new InvalidArgumentError('bytes', `must be 16 bytes (got ${bytes.length})`)
  const h = Buffer.from(bytes).toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** A random version-4 (RFC 9562) UUID drawn from `random`, so runs replay from a seed. */
export function randomUuid(random: Random): string {
  const b = Buffer.alloc(UUID_SIZE)
  for (let i = 0; i < UUID_SIZE; i++) b[i] = random.int(256)
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80
  return bytesToUuid(b)
}

/** The all-zero UUID (means "not reported" in identifiers). */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000'
