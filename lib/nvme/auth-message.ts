/**
 * The common header of every in-band authentication message (NVMe Base 2.0 section 8.13.4):
 * AUTH_TYPE (byte 0), AUTH_ID (byte 1), T_ID (bytes 5:4, the transaction identifier), and the checks
 * every decoder shares. Decoders throw {@link DecodeError} naming the field and its offset; the state
 * machines turn that into AUTH_Failure "Incorrect payload".
 */
import { DecodeError } from '../errors.js'
import { asBuffer, need } from './codec.js'
import { AUTH_ID_NAMES, AuthId, AuthType } from './auth-ids.js'

export const AUTH_MSG_TYPE = 0
export const AUTH_MSG_ID = 1
export const AUTH_MSG_TID = 4

export interface AuthHeader {
  authType: number
  authId: number
  tid: number
}

/** The header fields of any message (at least 8 bytes). */
export function decodeAuthHeader(buf: Uint8Array): AuthHeader {
  const b = asBuffer(buf)
  need(b, 0, 8, 'auth message header')
  return { authType: b[AUTH_MSG_TYPE] as number, authId: b[AUTH_MSG_ID] as number, tid: b.readUInt16LE(AUTH_MSG_TID) }
}

/** The AUTH_TYPE a message with `authId` carries: COMMON for Negotiate and Failure1/2, DHCHAP for the rest. */
export function authTypeOf(authId: number): number {
  return authId === AuthId.NEGOTIATE || authId === AuthId.FAILURE1 || authId === AuthId.FAILURE2 ? AuthType.COMMON : AuthType.DHCHAP
}

export function authMessageName(authType: number, authId: number): string {
  return authTypeOf(authId) === authType && AUTH_ID_NAMES[authId] !== undefined
    ? (AUTH_ID_NAMES[authId] as string)
    : `unknown message ${authType.toString(16).padStart(2, '0')}h/${authId.toString(16).padStart(2, '0')}h`
}

/** Writes the header of a message of `size` bytes. */
export function encodeAuthHeader(size: number, authId: number, tid: number): Buffer {
  const b = Buffer.alloc(size)
  b[AUTH_MSG_TYPE] = authTypeOf(authId)
  b[AUTH_MSG_ID] = authId
  b.writeUInt16LE(tid, AUTH_MSG_TID)
  return b
}

/** Checks AUTH_TYPE/AUTH_ID are `authId`'s and the buffer holds `size` bytes. */
export function expectAuthMessage(buf: Uint8Array, authId: number, size: number): Buffer {
  const b = asBuffer(buf)
  const h = decodeAuthHeader(b)
  if (h.authType !== authTypeOf(authId)) throw new DecodeError('AUTH_TYPE', AUTH_MSG_TYPE, `expected ${authTypeOf(authId)} for ${AUTH_ID_NAMES[authId]}, got ${h.authType}`)
  if (h.authId !== authId) throw new DecodeError('AUTH_ID', AUTH_MSG_ID, `expected ${AUTH_ID_NAMES[authId]}, got ${authMessageName(h.authType, h.authId)}`)
  need(b, 0, size, AUTH_ID_NAMES[authId] as string)
  return b
}
