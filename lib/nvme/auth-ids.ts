/**
 * NVMe in-band authentication identifiers (NVMe Base 2.0 section 8.13, TP 8006): the security
 * protocol of Authentication Send/Receive, message types and ids, the DH-HMAC-CHAP hash and DH group
 * identifiers, and the AUTH_Failure reason code explanations. One definition of each for lib/,
 * target/ and initiator/.
 */

/** SPSP0 and SPSP1 of Authentication Send/Receive (SECP is fabrics.ts AUTH_SECP_NVME). */
export const AUTH_SPSP0 = 0x01
export const AUTH_SPSP1 = 0x01

/** AUTH_TYPE byte 0 of every message. */
export const AuthType = {
  /** AUTH_Negotiate and AUTH_Failure1/2. */
  COMMON: 0x00,
  DHCHAP: 0x01,
} as const

/** AUTH_ID byte 1 (with AuthType.COMMON for NEGOTIATE and FAILURE1/2). */
export const AuthId = {
  NEGOTIATE: 0x00,
  CHALLENGE: 0x01,
  REPLY: 0x02,
  SUCCESS1: 0x03,
  SUCCESS2: 0x04,
  FAILURE2: 0xf0,
  FAILURE1: 0xf1,
} as const

export const AUTH_ID_NAMES: Readonly<Record<number, string>> = {
  0x00: 'AUTH_Negotiate',
  0x01: 'DH-HMAC-CHAP_Challenge',
  0x02: 'DH-HMAC-CHAP_Reply',
  0x03: 'DH-HMAC-CHAP_Success1',
  0x04: 'DH-HMAC-CHAP_Success2',
  0xf0: 'AUTH_Failure2',
  0xf1: 'AUTH_Failure1',
}

/** AUTHID of a protocol descriptor in AUTH_Negotiate: DH-HMAC-CHAP. */
export const AUTH_PROTOCOL_DHCHAP = 0x01
/** SC_C: no secure channel concatenation (the only value this project supports). */
export const AUTH_SC_C_NONE = 0x00

/** AUTH_Failure REASON CODE: "Authentication failure". */
export const AUTH_FAILURE_REASON_FAILED = 0x01

/** AUTH_Failure REASON CODE EXPLANATION (Base 2.0 Figure 448 / TP 8006). */
export const AuthFailure = {
  FAILED: 0x01,
  NOT_USABLE: 0x02,
  CONCAT_MISMATCH: 0x03,
  HASH_UNUSABLE: 0x04,
  DHGROUP_UNUSABLE: 0x05,
  INCORRECT_PAYLOAD: 0x06,
  INCORRECT_MESSAGE: 0x07,
} as const
export type AuthFailureName = keyof typeof AuthFailure

export const AUTH_FAILURE_NAMES: Readonly<Record<number, string>> = {
  0x01: 'Authentication failed',
  0x02: 'Authentication protocol not usable',
  0x03: 'Secure channel concatenation mismatch',
  0x04: 'Hash function not usable',
  0x05: 'DH group not usable',
  0x06: 'Incorrect payload',
  0x07: 'Incorrect protocol message',
}

export function authFailureName(code: number): string {
  return AUTH_FAILURE_NAMES[code] ?? `reason 0x${code.toString(16).padStart(2, '0')}`
}

/** DH-HMAC-CHAP hash functions: HashID and length (Base 2.0 Figure 443). */
export const DHCHAP_HASHES = {
  sha256: { id: 0x01, length: 32 },
  sha384: { id: 0x02, length: 48 },
  sha512: { id: 0x03, length: 64 },
} as const
export type DhchapHashName = keyof typeof DHCHAP_HASHES
export const DHCHAP_HASH_NAMES = Object.keys(DHCHAP_HASHES) as DhchapHashName[]

/** The hash with identifier `id`, or undefined. */
export function dhchapHashById(id: number): DhchapHashName | undefined {
  return DHCHAP_HASH_NAMES.find((n) => DHCHAP_HASHES[n].id === id)
}

/** DH groups: DH Group Identifier (Base 2.0 Figure 444); `null` is the NULL group (no DH exchange). */
export const DHCHAP_DHGROUPS = {
  null: 0x00,
  ffdhe2048: 0x01,
  ffdhe3072: 0x02,
  ffdhe4096: 0x03,
  ffdhe6144: 0x04,
  ffdhe8192: 0x05,
} as const
export type DhchapGroupName = keyof typeof DHCHAP_DHGROUPS
export const DHCHAP_DHGROUP_NAMES = Object.keys(DHCHAP_DHGROUPS) as DhchapGroupName[]

export function dhchapGroupById(id: number): DhchapGroupName | undefined {
  return DHCHAP_DHGROUP_NAMES.find((n) => DHCHAP_DHGROUPS[n] === id)
}

/** Protocol descriptor list sizes of AUTH_Negotiate: 30 hash ids then 30 DH group ids. */
export const DHCHAP_MAX_HASH_IDS = 30
export const DHCHAP_MAX_DH_IDS = 30
