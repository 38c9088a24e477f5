/**
 * DH-HMAC-CHAP_Reply (NVMe Base 2.0 section 8.13.5.5; Linux struct nvmf_auth_dhchap_reply_data):
 * HL (6), CVALID (8), DHVLEN (11:10), SEQNUM (15:12, S2; 0 = no controller authentication), then the
 * response R1 (HL), the challenge C2 (HL, zero when CVALID is 0) and the host's DH value (DHVLEN).
 */
import { DecodeError, InvalidArgumentError } from '../errors.js'
import { checkUint, U16, U32 } from './codec.js'
import { AuthId } from './auth-ids.js'
import { encodeAuthHeader, expectAuthMessage } from './auth-message.js'

export const REPLY_HEADER_SIZE = 16
export const REPLY_HL = 6
export const REPLY_CVALID = 8
export const REPLY_DHVLEN = 10
export const REPLY_SEQNUM = 12

export interface AuthReply {
  tid: number
  /** R1. */
  response: Buffer
  /** C2 when the host asks the controller to authenticate itself (CVALID 1). */
  challenge: Buffer | undefined
  seqnum: number
  dhValue: Buffer
}

export function encodeAuthReply(m: AuthReply): Buffer {
  const hl = m.response.length
  if (hl === 0 || hl > 255) throw new InvalidArgumentError('response', 'must be 1..255 bytes')
  if (m.challenge !== undefined && m.challenge.length !== hl) throw new InvalidArgumentError('challenge', `must be ${hl} bytes like the response`)
  const b = encodeAuthHeader(REPLY_HEADER_SIZE + 2 * hl + m.dhValue.length, AuthId.REPLY, checkUint(m.tid, U16, 'tid'))
  b[REPLY_HL] = hl
  b[REPLY_CVALID] = m.challenge === undefined ? 0 : 1
  b.writeUInt16LE(checkUint(m.dhValue.length, U16, 'dhValue.length'), REPLY_DHVLEN)
  b.writeUInt32LE(checkUint(m.seqnum, U32, 'seqnum'), REPLY_SEQNUM)
  m.response.copy(b, REPLY_HEADER_SIZE)
  m.challenge?.copy(b, REPLY_HEADER_SIZE + hl)
  m.dhValue.copy(b, REPLY_HEADER_SIZE + 2 * hl)
  return b
}

/** Decodes and bounds-checks (Linux nvmet_auth_reply): HL non-zero, 2*HL + DHVLEN within the data. */
export function decodeAuthReply(buf: Uint8Array): AuthReply {
  const b = expectAuthMessage(buf, AuthId.REPLY, REPLY_HEADER_SIZE)
  const hl = b[REPLY_HL] as number
  const dhvlen = b.readUInt16LE(REPLY_DHVLEN)
  const cvalid = b[REPLY_CVALID] as number
  if (hl === 0) throw new DecodeError('HL', REPLY_HL, 'must not be 0')
  if (cvalid > 1) throw new DecodeError('CVALID', REPLY_CVALID, `must be 0 or 1, got ${cvalid}`)
  if (b.length < REPLY_HEADER_SIZE + 2 * hl + dhvlen) {
    throw new DecodeError('DHVLEN', REPLY_DHVLEN, `2 x HL ${hl} + DHVLEN ${dhvlen} exceed the ${b.length - REPLY_HEADER_SIZE} bytes after the header`)
  }
  const o = REPLY_HEADER_SIZE
  return {
    tid: b.readUInt16LE(4),
    response: Buffer.from(b.subarray(o, o + hl)),
    challenge: cvalid === 1 ? Buffer.from(b.subarray(o + hl, o + 2 * hl)) : undefined,
    seqnum: b.readUInt32LE(REPLY_SEQNUM),
    dhValue: Buffer.from(b.subarray(o + 2 * hl, o + 2 * hl + dhvlen)),
  }
}
