/**
 * AUTH_Failure1 (controller to host) and AUTH_Failure2 (host to controller), NVMe Base 2.0 section
 * 8.13.4.3: T_ID (5:4), REASON CODE (6), REASON CODE EXPLANATION (7). Linux struct
 * nvmf_auth_dhchap_failure_data.
 */
import { checkUint, U16, U8 } from './codec.js'
import { AUTH_FAILURE_REASON_FAILED, AuthId } from './auth-ids.js'
import { encodeAuthHeader, expectAuthMessage } from './auth-message.js'

export const FAILURE_SIZE = 8
export const FAILURE_RESCODE = 6
export const FAILURE_RESCODE_EXP = 7

export interface AuthFailureMessage {
  tid: number
  /** REASON CODE: 01h "Authentication failure". */
  rescode: number
  /** REASON CODE EXPLANATION: an {@link AuthFailure} value. */
  rescodeExp: number
}

export function encodeAuthFailure(which: 1 | 2, m: { tid: number; rescodeExp: number; rescode?: number }): Buffer {
  const b = encodeAuthHeader(FAILURE_SIZE, which === 1 ? AuthId.FAILURE1 : AuthId.FAILURE2, checkUint(m.tid, U16, 'tid'))
  b[FAILURE_RESCODE] = checkUint(m.rescode ?? AUTH_FAILURE_REASON_FAILED, U8, 'rescode')
  b[FAILURE_RESCODE_EXP] = checkUint(m.rescodeExp, U8, 'rescodeExp')
  return b
}

export function decodeAuthFailure(which: 1 | 2, buf: Uint8Array): AuthFailureMessage {
  const b = expectAuthMessage(buf, which === 1 ? AuthId.FAILURE1 : AuthId.FAILURE2, FAILURE_SIZE)
  return { tid: b.readUInt16LE(4), rescode: b[FAILURE_RESCODE] as number, rescodeExp: b[FAILURE_RESCODE_EXP] as number }
}
