/**
 * DH-HMAC-CHAP secrets in the `DHHC-1:` representation (NVMe Base 2.0 section 8.13.5.8, the format
 * nvme-cli `gen-dhchap-key` writes and Linux `nvme_auth_extract_key` reads):
 *
 *   DHHC-1:<hh>:<base64(key || CRC-32(key) little-endian)>:
 *
 * `hh` is the transformation hash (00 none, 01 SHA-256, 02 SHA-384, 03 SHA-512); the key is 32, 48 or
 * 64 bytes. The transformed key used for the HMAC is the key itself (00) or
 * HMAC_hh(key, NQN || "NVMe-over-Fabrics") (section 8.13.5.8), where NQN is the host NQN for the
 * host's secret and the subsystem NQN for the controller's.
 */
import { createHmac, randomBytes as cryptoRandomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { InvalidArgumentError } from '../errors.js'
import { DHCHAP_HASHES, DHCHAP_HASH_NAMES, type DhchapHashName } from './auth-ids.js'

export const DHCHAP_SECRET_PREFIX = 'DHHC-1:'
export const DHCHAP_KEY_LENGTHS: readonly number[] = [32, 48, 64]

export interface DhchapSecret {
  /** Transformation hash, undefined for 00 (the key is used as is). */
  hash: DhchapHashName | undefined
  key: Buffer
}

const SECRET_RE = /^DHHC-1:(\d\d):([A-Za-z0-9+/]+={0,2}):?$/

/** Parses a `DHHC-1:` secret; every defect throws InvalidArgumentError naming `field`. */
export function parseDhchapSecret(text: string, field = 'secret'): DhchapSecret {
  if (typeof text !== 'string') throw new InvalidArgumentError(field, 'must be a DHHC-1 secret string')
  const m = SECRET_RE.exec(text)
  if (m === null) throw new InvalidArgumentError(field, "must look like 'DHHC-1:<00..03>:<base64 key+CRC>:'")
  const hashId = Number(m[1])
  if (hashId > 3) throw new InvalidArgumentError(field, `transformation hash ${m[1]} is not 00, 01, 02 or 03`)
  const raw = Buffer.from(m[2] as string, 'base64')
  const keyLength = raw.length - 4
  if (!DHCHAP_KEY_LENGTHS.includes(keyLength)) {
    throw new InvalidArgumentError(field, `key must be 32, 48 or 64 bytes plus a 4-byte CRC (decoded ${raw.length} bytes)`)
  }
  const key = raw.subarray(0, keyLength)
  const crc = raw.readUInt32LE(keyLength)
  if (crc32(key) >>> 0 !== crc) throw new InvalidArgumentError(field, 'CRC-32 of the key does not match')
  return { hash: hashId === 0 ? undefined : DHCHAP_HASH_NAMES[hashId - 1], key: Buffer.from(key) }
}

/** The `DHHC-1:` text of a secret. */
export function formatDhchapSecret(s: DhchapSecret): string {
  if (!DHCHAP_KEY_LENGTHS.includes(s.key.length)) throw new InvalidArgumentError('key', 'must be 32, 48 or 64 bytes')
  const crc = Buffer.alloc(4)
  crc.writeUInt32LE(crc32(s.key) >>> 0)
  const hh = s.hash === undefined ? 0 : DHCHAP_HASHES[s.hash].id
  return `${DHCHAP_SECRET_PREFIX}${String(hh).padStart(2, '0')}:${Buffer.concat([s.key, crc]).toString('base64')}:`
}

/** A new random secret (as `nvme gen-dhchap-key`): the key length defaults to the hash's length, else 32. */
export function generateDhchapSecret(o: { hash?: DhchapHashName; keyLength?: number; randomBytes?: (n: number) => Buffer } = {}): string {
  const keyLength = o.keyLength ?? (o.hash === undefined ? 32 : DHCHAP_HASHES[o.hash].length)
  if (!DHCHAP_KEY_LENGTHS.includes(keyLength)) throw new InvalidArgumentError('keyLength', 'must be 32, 48 or 64')
  return formatDhchapSecret({ hash: o.hash, key: (o.randomBytes ?? cryptoRandomBytes)(keyLength) })
}

/** The transformed key (section 8.13.5.8): the HMAC key of the response computation. */
export function transformDhchapKey(s: DhchapSecret, nqn: string): Buffer {
  if (s.hash === undefined) return Buffer.from(s.key)
  return createHmac(s.hash, s.key).update(nqn, 'utf8').update('NVMe-over-Fabrics', 'latin1').digest()
}
