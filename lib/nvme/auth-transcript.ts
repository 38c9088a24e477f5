/**
 * The DH-HMAC-CHAP computations both sides share (NVMe Base 2.0 section 8.13.5, the byte order Linux
 * uses in nvme_auth_dhchap_setup_host_response / _ctrl_response and nvmet_auth_host_hash):
 *
 *   R1 = HMAC(Kh', C1' || le32(S1) || le16(T_ID) || SC_C || "HostHost"   || NQNh || 00h || NQNc)
 *   R2 = HMAC(Kc', C2' || le32(S2) || le16(T_ID) || SC_C || "Controller" || NQNc || 00h || NQNh)
 *
 * with K' the transformed secret (auth-secret.ts) and C' the challenge, augmented when a DH group is
 * used: C' = HMAC(H(Ks), C) where Ks = g^xy mod p, as many bytes as the prime (section 8.13.5.3).
 */
import { createDiffieHellman, createHash, createHmac, randomBytes as cryptoRandomBytes, timingSafeEqual, type DiffieHellman } from 'node:crypto'
import { InvalidArgumentError } from '../errors.js'
import type { DhchapGroupName, DhchapHashName } from './auth-ids.js'
import { FFDHE_GROUPS } from './auth-ffdhe.js'

export type RandomBytes = (n: number) => Buffer
export const defaultRandomBytes: RandomBytes = cryptoRandomBytes

export interface ResponseInput {
  hash: DhchapHashName
  /** The transformed secret of the side that answers. */
  key: Buffer
  /** The challenge as received (C1 for R1, C2 for R2). */
  challenge: Buffer
  /** The session key Ks when a DH group is in use. */
  sessionKey: Buffer | undefined
  seqnum: number
  tid: number
  scC: number
  hostnqn: string
  subnqn: string
}

/** C' = HMAC(H(Ks), C) with a DH group, C with the NULL group. */
export function augmentChallenge(hash: DhchapHashName, sessionKey: Buffer | undefined, challenge: Buffer): Buffer {
  if (sessionKey === undefined) return challenge
  const hashedKey = createHash(hash).update(sessionKey).digest()
  return createHmac(hash, hashedKey).update(challenge).digest()
}

function response(i: ResponseInput, role: 'HostHost' | 'Controller', first: string, second: string): Buffer {
  const fixed = Buffer.alloc(7)
  fixed.writeUInt32LE(i.seqnum >>> 0, 0)
  fixed.writeUInt16LE(i.tid, 4)
  fixed[6] = i.scC
  return createHmac(i.hash, i.key)
    .update(augmentChallenge(i.hash, i.sessionKey, i.challenge))
    .update(fixed)
    .update(role, 'latin1')
    .update(first, 'utf8')
    .update(Buffer.of(0))
    .update(second, 'utf8')
    .digest()
}

/** R1, the host's response to C1 (key: the host secret transformed with NQNh). */
export function hostResponse(i: ResponseInput): Buffer {
  return response(i, 'HostHost', i.hostnqn, i.subnqn)
}

/** R2, the controller's response to C2 (key: the controller secret transformed with NQNc). */
export function controllerResponse(i: ResponseInput): Buffer {
  return response(i, 'Controller', i.subnqn, i.hostnqn)
}

/** Constant-time comparison of a received response with the expected one. */
export function responsesEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

/** A non-zero 32-bit sequence number (S1/S2; 0 in a Reply means "no controller authentication"). */
export function newSeqnum(randomBytes: RandomBytes): number {
  for (let i = 0; i < 8; i++) {
    const n = randomBytes(4).readUInt32LE(0)
    if (n !== 0) return n
  }
  return 1
}

/** One side's ephemeral DH key pair in an RFC 7919 group. */
export class DhExchange {
  readonly group: Exclude<DhchapGroupName, 'null'>
  readonly bytes: number
  readonly #dh: DiffieHellman
  readonly #prime: bigint

  constructor(group: Exclude<DhchapGroupName, 'null'>, randomBytes: RandomBytes = defaultRandomBytes) {
    const g = FFDHE_GROUPS[group]
    if (g === undefined) throw new InvalidArgumentError('group', `unknown DH group ${String(group)}`)
    this.group = group
    this.bytes = g.bytes
    this.#prime = BigInt(`0x${g.primeHex}`)
    this.#dh = createDiffieHellman(Buffer.from(g.primeHex, 'hex'), 2)
    // A short exponent from the injected source (RFC 7919 section 5.2), never 0.
    const x = randomBytes(Math.ceil(g.exponentBits / 8))
    x[0] = (x[0] as number) | 0x80
    this.#dh.setPrivateKey(x)
    this.#dh.generateKeys()
  }

  /** g^x mod p, as many bytes as the prime (the DHV of a Challenge or Reply). */
  get publicValue(): Buffer {
    return leftPad(this.#dh.getPublicKey(), this.bytes)
  }

  /**
   * Ks = peer^x mod p, as many bytes as the prime. Undefined when the peer's value is not
   * `bytes` long or not in (1, p-1) (RFC 7919 section 5.1), which the callers report as a failure.
   */
  sessionKey(peer: Buffer): Buffer | undefined {
    if (peer.length !== this.bytes) return undefined
    const y = BigInt(`0x${peer.toString('hex')}`)
    if (y <= 1n || y >= this.#prime - 1n) return undefined
    return leftPad(this.#dh.computeSecret(peer), this.bytes)
  }
}

function leftPad(b: Buffer, size: number): Buffer {
  if (b.length >= size) return b
  return Buffer.concat([Buffer.alloc(size - b.length), b])
}
