/**
 * DH-HMAC-CHAP_Challenge (NVMe Base 2.0 section 8.13.5.4; Linux struct
 * nvmf_auth_dhchap_challenge_data): HL (6), HASHID (8), DHGID (9), DHVLEN (11:10), SEQNUM (15:12),
 * then the challenge C1 (HL bytes) and the controller's DH public value (DHVLEN bytes).
 */
import { DecodeError, InvalidArgumentError } from '../errors.js'
import { checkUint, U16, U32 } from './codec.js'
import { AuthId, dhchapGroupById, dhchapHashById, DHCHAP_HASHES } from './auth-ids.js'
import { encodeAuthHeader, expectAuthMessage } from './auth-message.js'

export const CHALLENGE_HEADER_SIZE = 16
export const CHALLENGE_HL = 6
export const CHALLENGE_HASHID = 8
export const CHALLENGE_DHGID = 9
export const CHALLENGE_DHVLEN = 10
export const CHALLENGE_SEQNUM = 12

export interface AuthChallenge {
  tid: number
  hashId: number
  dhgroupId: number
  seqnum: number
  /** C1, the hash length long. */
  challenge: Buffer
  /** The controller's public value, empty for the NULL group. */
  dhValue: Buffer
}

export function encodeAuthChallenge(m: AuthChallenge): Buffer {
  if (m.challenge.length === 0 || m.challenge.length > 255) throw new InvalidArgumentError('challenge', 'must be 1..255 bytes')
  const b = encodeAuthHeader(CHALLENGE_HEADER_SIZE + m.challenge.length + m.dhValue.length, AuthId.CHALLENGE, checkUint(m.tid, U16, 'tid'))
  b[CHALLENGE_HL] = m.challenge.length
  b[CHALLENGE_HASHID] = m.hashId
  b[CHALLENGE_DHGID] = m.dhgroupId
  b.writeUInt16LE(checkUint(m.dhValue.length, U16, 'dhValue.length'), CHALLENGE_DHVLEN)
  b.writeUInt32LE(checkUint(m.seqnum, U32, 'seqnum'), CHALLENGE_SEQNUM)
  m.challenge.copy(b, CHALLENGE_HEADER_SIZE)
  m.dhValue.copy(b, CHALLENGE_HEADER_SIZE + m.challenge.length)
  return b
}

/**
 * Decodes and checks what a host must check before answering (Linux
 * nvme_auth_process_dhchap_challenge): a known HASHID whose length is HL, a known DHGID, a DH value
 * for a DH group and none for the NULL group, all within the buffer.
 */
export function decodeAuthChallenge(buf: Uint8Array): AuthChallenge {
  const b = expectAuthMessage(buf, AuthId.CHALLENGE, CHALLENGE_HEADER_SIZE)
  const hl = b[CHALLENGE_HL] as number
  const hashId = b[CHALLENGE_HASHID] as number
  const dhgroupId = b[CHALLENGE_DHGID] as number
  const dhvlen = b.readUInt16LE(CHALLENGE_DHVLEN)
  const hash = dhchapHashById(hashId)
  if (hash === undefined) throw new DecodeError('HASHID', CHALLENGE_HASHID, `unknown hash id ${hashId}`)
  if (DHCHAP_HASHES[hash].length !== hl) throw new DecodeError('HL', CHALLENGE_HL, `${hl} is not the length of ${hash} (${DHCHAP_HASHES[hash].length})`)
  const group = dhchapGroupById(dhgroupId)
  if (group === undefined) throw new DecodeError('DHGID', CHALLENGE_DHGID, `unknown DH group id ${dhgroupId}`)
  if (group === 'null' && dhvlen !== 0) throw new DecodeError('DHVLEN', CHALLENGE_DHVLEN, `must be 0 for the NULL DH group, got ${dhvlen}`)
  if (group !== 'null' && dhvlen === 0) throw new DecodeError('DHVLEN', CHALLENGE_DHVLEN, `must not be 0 for ${group}`)
  if (b.length < CHALLENGE_HEADER_SIZE + hl + dhvlen) {
    throw new DecodeError('DHVLEN', CHALLENGE_DHVLEN, `HL ${hl} + DHVLEN ${dhvlen} exceed the ${b.length - CHALLENGE_HEADER_SIZE} bytes after the header`)
  }
  const o = CHALLENGE_HEADER_SIZE
  return {
    tid: b.readUInt16LE(4),
    hashId,
    dhgroupId,
    seqnum: b.readUInt32LE(CHALLENGE_SEQNUM),
    challenge: Buffer.from(b.subarray(o, o + hl)),
    dhValue: Buffer.from(b.subarray(o + hl, o + hl + dhvlen)),
  }
}
