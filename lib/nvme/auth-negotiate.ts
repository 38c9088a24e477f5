/**
 * AUTH_Negotiate (NVMe Base 2.0 section 8.13.4.2; Linux struct nvmf_auth_dhchap_negotiate_data):
 * 8-byte header (SC_C byte 6, NAPD byte 7) then NAPD 64-byte protocol descriptors. A DH-HMAC-CHAP
 * descriptor: AUTHID (0), HALEN (2), DHLEN (3), hash ids at 4.., DH group ids at 34...
 */
import { DecodeError, InvalidArgumentError } from '../errors.js'
import { checkUint, U16 } from './codec.js'
import { AUTH_PROTOCOL_DHCHAP, AuthId, DHCHAP_MAX_DH_IDS, DHCHAP_MAX_HASH_IDS } from './auth-ids.js'
import { encodeAuthHeader, expectAuthMessage } from './auth-message.js'

export const NEGOTIATE_HEADER_SIZE = 8
export const NEGOTIATE_DESCRIPTOR_SIZE = 64
export const NEGOTIATE_SC_C = 6
export const NEGOTIATE_NAPD = 7
const D_AUTHID = 0
const D_HALEN = 2
const D_DHLEN = 3
const D_HASHES = 4
const D_GROUPS = 4 + DHCHAP_MAX_HASH_IDS

export interface AuthNegotiate {
  tid: number
  scC: number
  /** Hash ids offered, in the host's order of preference. */
  hashIds: number[]
  /** DH group ids offered. */
  dhgroupIds: number[]
}

export function encodeAuthNegotiate(m: AuthNegotiate): Buffer {
  if (m.hashIds.length === 0 || m.hashIds.length > DHCHAP_MAX_HASH_IDS) throw new InvalidArgumentError('hashIds', 'must hold 1 to 30 ids')
  if (m.dhgroupIds.length === 0 || m.dhgroupIds.length > DHCHAP_MAX_DH_IDS) throw new InvalidArgumentError('dhgroupIds', 'must hold 1 to 30 ids')
  const b = encodeAuthHeader(NEGOTIATE_HEADER_SIZE + NEGOTIATE_DESCRIPTOR_SIZE, AuthId.NEGOTIATE, checkUint(m.tid, U16, 'tid'))
  b[NEGOTIATE_SC_C] = m.scC
  b[NEGOTIATE_NAPD] = 1
  const d = NEGOTIATE_HEADER_SIZE
  b[d + D_AUTHID] = AUTH_PROTOCOL_DHCHAP
  b[d + D_HALEN] = m.hashIds.length
  b[d + D_DHLEN] = m.dhgroupIds.length
  m.hashIds.forEach((id, i) => (b[d + D_HASHES + i] = id))
  m.dhgroupIds.forEach((id, i) => (b[d + D_GROUPS + i] = id))
  return b
}

/**
 * Decodes the first (DH-HMAC-CHAP) descriptor. NAPD must be 1 (the only protocol defined), the
 * descriptor's AUTHID DH-HMAC-CHAP, HALEN/DHLEN within 1..30.
 */
export function decodeAuthNegotiate(buf: Uint8Array): AuthNegotiate {
  const b = expectAuthMessage(buf, AuthId.NEGOTIATE, NEGOTIATE_HEADER_SIZE + NEGOTIATE_DESCRIPTOR_SIZE)
  const napd = b[NEGOTIATE_NAPD] as number
  if (napd !== 1) throw new DecodeError('NAPD', NEGOTIATE_NAPD, `must be 1 (one DH-HMAC-CHAP descriptor), got ${napd}`)
  const d = NEGOTIATE_HEADER_SIZE
  if (b[d + D_AUTHID] !== AUTH_PROTOCOL_DHCHAP) throw new DecodeError('AUTHID', d + D_AUTHID, `must be ${AUTH_PROTOCOL_DHCHAP} (DH-HMAC-CHAP), got ${b[d + D_AUTHID]}`)
  const halen = b[d + D_HALEN] as number
  const dhlen = b[d + D_DHLEN] as number
  if (halen === 0 || halen > DHCHAP_MAX_HASH_IDS) throw new DecodeError('HALEN', d + D_HALEN, `must be 1..${DHCHAP_MAX_HASH_IDS}, got ${halen}`)
  if (dhlen === 0 || dhlen > DHCHAP_MAX_DH_IDS) throw new DecodeError('DHLEN', d + D_DHLEN, `must be 1..${DHCHAP_MAX_DH_IDS}, got ${dhlen}`)
  return {
    tid: b.readUInt16LE(4),
    scC: b[NEGOTIATE_SC_C] as number,
    hashIds: [...b.subarray(d + D_HASHES, d + D_HASHES + halen)],
    dhgroupIds: [...b.subarray(d + D_GROUPS, d + D_GROUPS + dhlen)],
  }
}
