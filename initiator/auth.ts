/**
 * In-band authentication on the host (NVMe Base 2.0 section 8.13, TP 8006): one DH-HMAC-CHAP
 * transaction on one queue, in the order the Linux host runs it (drivers/nvme/host/auth.c):
 *
 *   Send AUTH_Negotiate → Receive Challenge → Send Reply → Receive Success1 [→ Send Success2]
 *
 * An AUTH_Failure1 from the controller ends it with {@link AuthenticationError} (`by: 'controller'`).
 * A defect the host finds (bad challenge, unusable hash or group, wrong controller response in
 * bidirectional mode) is reported to the controller with AUTH_Failure2 and thrown (`by: 'host'`).
 * A non-zero status of an Authentication command is thrown as {@link NvmeStatusError}.
 */
import { AuthenticationError, DecodeError, InvalidArgumentError, NvmeStatusError } from '../lib/errors.js'
import {
  AUTH_SC_C_NONE,
  AUTH_SPSP0,
  AUTH_SPSP1,
  AuthFailure,
  authFailureName,
  AuthId,
  AuthType,
  DHCHAP_DHGROUPS,
  DHCHAP_DHGROUP_NAMES,
  DHCHAP_HASHES,
  DHCHAP_HASH_NAMES,
  dhchapGroupById,
  dhchapHashById,
  type DhchapGroupName,
  type DhchapHashName,
} from '../lib/nvme/auth-ids.js'
import { decodeAuthHeader } from '../lib/nvme/auth-message.js'
import { encodeAuthNegotiate } from '../lib/nvme/auth-negotiate.js'
import { decodeAuthChallenge } from '../lib/nvme/auth-challenge.js'
import { encodeAuthReply } from '../lib/nvme/auth-reply.js'
import { decodeAuthSuccess1, encodeAuthSuccess2 } from '../lib/nvme/auth-success.js'
import { decodeAuthFailure, encodeAuthFailure } from '../lib/nvme/auth-failure.js'
import { parseDhchapSecret, transformDhchapKey, type DhchapSecret } from '../lib/nvme/auth-secret.js'
import { controllerResponse, DhExchange, defaultRandomBytes, hostResponse, newSeqnum, responsesEqual, type RandomBytes } from '../lib/nvme/auth-transcript.js'
import { makeAuthSqe } from '../lib/nvme/fabrics.js'
import { statusName } from '../lib/status.js'
import type { QueueCommand, QueueCompletion } from './transport/queue-pair.js'

/** Allocation length of every Authentication Receive (Linux CHAP_BUF_SIZE: enough for ffdhe8192). */
export const AUTH_RECEIVE_LENGTH = 4096

/** The authentication settings of a controller connection (validated from the options). */
export interface DhchapHostSettings {
  secret: DhchapSecret
  /** With it the host also authenticates the controller (bidirectional). */
  ctrlSecret: DhchapSecret | undefined
  /** Offered in this order (default SHA-256, SHA-384, SHA-512). */
  hashes: DhchapHashName[]
  /** Offered in this order (default null, ffdhe2048 ... ffdhe8192, as Linux). */
  dhgroups: DhchapGroupName[]
}

export interface DhchapOptions {
  /** The host's secret, `DHHC-1:...` (nvme-cli `--dhchap-secret`). */
  dhchapSecret?: string
  /** The controller's secret for bidirectional authentication (`--dhchap-ctrl-secret`). */
  dhchapCtrlSecret?: string
  dhchapHashes?: DhchapHashName[]
  dhchapDhgroups?: DhchapGroupName[]
}

function nameList<T extends string>(v: unknown, field: string, all: readonly T[]): T[] {
  if (v === undefined) return [...all]
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => !(all as readonly unknown[]).includes(x))) {
    throw new InvalidArgumentError(field, `must be a non-empty list of ${all.join(', ')}`)
  }
  return [...new Set(v as T[])]
}

/** Validates the DH-HMAC-CHAP options; undefined when no secret is given. */
export function resolveDhchapOptions(o: DhchapOptions): DhchapHostSettings | undefined {
  const hashes = nameList(o.dhchapHashes, 'dhchapHashes', DHCHAP_HASH_NAMES)
  const dhgroups = nameList(o.dhchapDhgroups, 'dhchapDhgroups', DHCHAP_DHGROUP_NAMES)
  if (o.dhchapSecret === undefined) {
    if (o.dhchapCtrlSecret !== undefined) throw new InvalidArgumentError('dhchapCtrlSecret', 'needs dhchapSecret (the host authenticates first)')
    return undefined
  }
  return {
    secret: parseDhchapSecret(o.dhchapSecret, 'dhchapSecret'),
    ctrlSecret: o.dhchapCtrlSecret === undefined ? undefined : parseDhchapSecret(o.dhchapCtrlSecret, 'dhchapCtrlSecret'),
    hashes,
    dhgroups,
  }
}

export interface AuthenticateQueueOptions {
  qid: number
  tid: number
  hostnqn: string
  subnqn: string
  settings: DhchapHostSettings
  submit(cmd: QueueCommand): Promise<QueueCompletion>
  timeoutMs: number
  randomBytes?: RandomBytes
}

export interface AuthResult {
  hash: DhchapHashName
  dhgroup: DhchapGroupName
  bidirectional: boolean
}

/** A defect found by the host: reported with AUTH_Failure2 carrying `reason`. */
class HostAbort extends Error {
  readonly reason: number
  constructor(reason: number, message: string) {
    super(message)
    this.reason = reason
  }
}

/** Runs one DH-HMAC-CHAP transaction on a connected queue. */
export async function authenticateQueue(o: AuthenticateQueueOptions): Promise<AuthResult> {
  const rnd = o.randomBytes ?? defaultRandomBytes
  const s = o.settings
  const send = async (data: Buffer, what: string): Promise<void> => {
    const c = await o.submit({ sqe: makeAuthSqe('send', { cid: 0, length: data.length, spsp0: AUTH_SPSP0, spsp1: AUTH_SPSP1 }), data, timeoutMs: o.timeoutMs })
    if (c.cqe.status !== 0) throw new NvmeStatusError(c.cqe.status, { cid: c.cqe.cid, qid: o.qid, name: `Authentication Send (${what}): ${statusName(c.cqe.status, 'fabrics')}` })
  }
  const receive = async (expected: number, what: string): Promise<Buffer> => {
    const c = await o.submit({ sqe: makeAuthSqe('receive', { cid: 0, length: AUTH_RECEIVE_LENGTH, spsp0: AUTH_SPSP0, spsp1: AUTH_SPSP1 }), readLength: AUTH_RECEIVE_LENGTH, timeoutMs: o.timeoutMs })
    if (c.cqe.status !== 0) throw new NvmeStatusError(c.cqe.status, { cid: c.cqe.cid, qid: o.qid, name: `Authentication Receive (${what}): ${statusName(c.cqe.status, 'fabrics')}` })
    const data = c.data ?? Buffer.alloc(0)
    const h = decoded(() => decodeAuthHeader(data))
    if (h.authType === AuthType.COMMON && h.authId === AuthId.FAILURE1) {
      const f = decoded(() => decodeAuthFailure(1, data))
      throw new AuthenticationError(`qid ${o.qid}: controller sent AUTH_Failure1 instead of ${what}: ${authFailureName(f.rescodeExp)}`, { qid: o.qid, reason: f.rescodeExp, by: 'controller' })
    }
    if (h.authType !== AuthType.DHCHAP || h.authId !== expected) throw new HostAbort(AuthFailure.INCORRECT_MESSAGE, `expected ${what}, got AUTH_TYPE ${h.authType} AUTH_ID ${h.authId}`)
    if (h.tid !== o.tid) throw new HostAbort(AuthFailure.INCORRECT_MESSAGE, `T_ID ${h.tid} in ${what}, transaction is ${o.tid}`)
    return data
  }

  await send(encodeAuthNegotiate({ tid: o.tid, scC: AUTH_SC_C_NONE, hashIds: s.hashes.map((n) => DHCHAP_HASHES[n].id), dhgroupIds: s.dhgroups.map((n) => DHCHAP_DHGROUPS[n]) }), 'AUTH_Negotiate')
  try {
    const chData = await receive(AuthId.CHALLENGE, 'DH-HMAC-CHAP_Challenge')
    const ch = decoded(() => decodeAuthChallenge(chData))
    const hash = dhchapHashById(ch.hashId) as DhchapHashName
    const group = dhchapGroupById(ch.dhgroupId) as DhchapGroupName
    if (!s.hashes.includes(hash)) throw new HostAbort(AuthFailure.HASH_UNUSABLE, `controller chose ${hash}, which was not offered`)
    if (!s.dhgroups.includes(group)) throw new HostAbort(AuthFailure.DHGROUP_UNUSABLE, `controller chose ${group}, which was not offered`)
    let sessionKey: Buffer | undefined
    let dhValue: Buffer = Buffer.alloc(0)
    if (group !== 'null') {
      const dh = new DhExchange(group, rnd)
      sessionKey = dh.sessionKey(ch.dhValue)
      if (sessionKey === undefined) throw new HostAbort(AuthFailure.INCORRECT_PAYLOAD, `controller DH value (${ch.dhValue.length} bytes) is not a valid ${group} public value`)
      dhValue = dh.publicValue
    }
    const common = { hash, sessionKey, tid: o.tid, scC: AUTH_SC_C_NONE, hostnqn: o.hostnqn, subnqn: o.subnqn }
    const r1 = hostResponse({ ...common, key: transformDhchapKey(s.secret, o.hostnqn), challenge: ch.challenge, seqnum: ch.seqnum })
    const c2 = s.ctrlSecret === undefined ? undefined : rnd(ch.challenge.length)
    const s2 = c2 === undefined ? 0 : newSeqnum(rnd)
    await send(encodeAuthReply({ tid: o.tid, response: r1, challenge: c2, seqnum: s2, dhValue }), 'DH-HMAC-CHAP_Reply')
    const okData = await receive(AuthId.SUCCESS1, 'DH-HMAC-CHAP_Success1')
    const ok = decoded(() => decodeAuthSuccess1(okData))
    if (ok.hl !== DHCHAP_HASHES[hash].length) throw new HostAbort(AuthFailure.HASH_UNUSABLE, `Success1 HL ${ok.hl}, ${hash} has ${DHCHAP_HASHES[hash].length}`)
    if (c2 !== undefined && s.ctrlSecret !== undefined) {
      // Stricter than Linux, which accepts a Success1 without R2: asked to, the controller must prove itself.
      if (ok.response === undefined) throw new HostAbort(AuthFailure.FAILED, 'controller did not answer the host challenge (RVALID 0)')
      const r2 = controllerResponse({ ...common, key: transformDhchapKey(s.ctrlSecret, o.subnqn), challenge: c2, seqnum: s2 })
      if (!responsesEqual(r2, ok.response)) throw new HostAbort(AuthFailure.FAILED, 'controller response mismatch (wrong controller secret)')
      await send(encodeAuthSuccess2({ tid: o.tid }), 'DH-HMAC-CHAP_Success2')
    }
    return { hash, dhgroup: group, bidirectional: c2 !== undefined }
  } catch (err) {
    if (!(err instanceof HostAbort)) throw err
    // Tell the controller why (AUTH_Failure2); the transaction is over whatever it answers.
    await send(encodeAuthFailure(2, { tid: o.tid, rescodeExp: err.reason }), 'AUTH_Failure2').catch(() => undefined)
    throw new AuthenticationError(`qid ${o.qid}: authentication aborted by the host: ${err.message} (${authFailureName(err.reason)})`, { qid: o.qid, reason: err.reason, by: 'host' })
  }
}

/** A decoder's DecodeError becomes a host abort with the reason Linux gives for that field. */
function decoded<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    const reason = err.field === 'HASHID' || err.field === 'HL' ? AuthFailure.HASH_UNUSABLE : err.field === 'DHGID' ? AuthFailure.DHGROUP_UNUSABLE : AuthFailure.INCORRECT_PAYLOAD
    throw new HostAbort(reason, err.message)
  }
}
