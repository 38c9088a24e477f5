/**
 * DH-HMAC-CHAP_Success1 (NVMe Base 2.0 section 8.13.5.6): HL (6), RVALID (8), then the controller's
 * response R2 (HL bytes, meaningful when RVALID is 1); and DH-HMAC-CHAP_Success2 (section 8.13.5.7):
 * the header only, 16 bytes. Linux structs nvmf_auth_dhchap_success1_data / _success2_data.
 */
import { DecodeError } from '../errors.js'
import { checkUint, U16 } from './codec.js'
import { AuthId } from './auth-ids.js'
import { encodeAuthHeader, expectAuthMessage } from './auth-message.js'

export const SUCCESS1_HEADER_SIZE = 16
export const SUCCESS1_HL = 6
export const SUCCESS1_RVALID = 8
export const SUCCESS2_SIZE = 16

export interface AuthSuccess1 {
  tid: number
  /** Hash length (HL) of the transaction. */
  hl: number
  /** R2 when the controller authenticates itself. */
  response: Buffer | undefined
}

export function encodeAuthSuccess1(m: AuthSuccess1): Buffer {
  checkUint(m.hl, 0xff, 'hl')
  const b = encodeAuthHeader(SUCCESS1_HEADER_SIZE + (m.response === undefined ? 0 : m.hl), AuthId.SUCCESS1, checkUint(m.tid, U16, 'tid'))
  b[SUCCESS1_HL] = m.hl
  if (m.response !== undefined) {
    b[SUCCESS1_RVALID] = 1
    m.response.copy(b, SUCCESS1_HEADER_SIZE, 0, m.hl)
  }
  return b
}

export function decodeAuthSuccess1(buf: Uint8Array): AuthSuccess1 {
  const b = expectAuthMessage(buf, AuthId.SUCCESS1, SUCCESS1_HEADER_SIZE)
  const hl = b[SUCCESS1_HL] as number
  const rvalid = b[SUCCESS1_RVALID] as number
  if (rvalid > 1) throw new DecodeError('RVALID', SUCCESS1_RVALID, `must be 0 or 1, got ${rvalid}`)
  if (rvalid === 1 && b.length < SUCCESS1_HEADER_SIZE + hl) throw new DecodeError('HL', SUCCESS1_HL, `response of ${hl} bytes exceeds the data`)
  return { tid: b.readUInt16LE(4), hl, response: rvalid === 1 ? Buffer.from(b.subarray(SUCCESS1_HEADER_SIZE, SUCCESS1_HEADER_SIZE + hl)) : undefined }
}

export function encodeAuthSuccess2(m: { tid: number }): Buffer {
  return encodeAuthHeader(SUCCESS2_SIZE, AuthId.SUCCESS2, checkUint(m.tid, U16, 'tid'))
}

export function decodeAuthSuccess2(buf: Uint8Array): { tid: number } {
  const b = expectAuthMessage(buf, AuthId.SUCCESS2, SUCCESS2_SIZE)
  return { tid: b.readUInt16LE(4) }
}
