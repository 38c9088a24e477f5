/**
 * In-band authentication on the target (NVMe Base 2.0 section 8.13, TP 8006): the DH-HMAC-CHAP
 * state machine of each queue, driven by Authentication Send (FCTYPE 05h) and Receive (06h), in the
 * order Linux nvmet (fabrics-cmd-auth.c) uses:
 *
 *   Send AUTH_Negotiate → Receive Challenge → Send Reply → Receive Success1 [→ Send Success2]
 *
 * A host with a `dhchapKey` gets AUTHREQ.ATR in every Connect response; until its queue is
 * authenticated every admin and I/O command fails with Authentication Required (SCT 1h SC 91h, DNR);
 * Fabrics commands (Property Get/Set, the Authentication commands) still run. A failed transaction
 * answers the next Receive with AUTH_Failure1 (reason 01h, the explanation kept), is logged and
 * counted, and the controller is then marked fatal and deleted (nvmet_ctrl_fatal_error). A Negotiate
 * on an authenticated queue starts a re-authentication; the queue stays usable meanwhile. A
 * transaction left unfinished is reset after KATO (or 120 s), as nvmet does.
 * The per-queue transaction state is shaped in auth-queue-state.ts, the counters in auth-counters.ts.
 */
import type { Logger } from 'pino'
import type { Clock } from '../../lib/clock.js'
import { DecodeError } from '../../lib/errors.js'
import { AUTH_SECP_NVME, authFields } from '../../lib/nvme/fabrics.js'
import {
  AUTH_SC_C_NONE,
  AUTH_SPSP0,
  AUTH_SPSP1,
  AuthFailure,
  authFailureName,
  AuthId,
  AuthType,
  DHCHAP_DHGROUPS,
  DHCHAP_HASHES,
} from '../../lib/nvme/auth-ids.js'
import { authMessageName, decodeAuthHeader } from '../../lib/nvme/auth-message.js'
import { decodeAuthNegotiate } from '../../lib/nvme/auth-negotiate.js'
import { encodeAuthChallenge } from '../../lib/nvme/auth-challenge.js'
import { decodeAuthReply } from '../../lib/nvme/auth-reply.js'
import { encodeAuthSuccess1 } from '../../lib/nvme/auth-success.js'
import { decodeAuthFailure, encodeAuthFailure } from '../../lib/nvme/auth-failure.js'
import { transformDhchapKey } from '../../lib/nvme/auth-secret.js'
import { controllerResponse, DhExchange, defaultRandomBytes, hostResponse, newSeqnum, responsesEqual, type RandomBytes } from '../../lib/nvme/auth-transcript.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import type { ResolvedHostAuth } from '../config-auth.js'
import type { Queue } from '../core/queue.js'
import type { Request } from '../core/request.js'
import { armTransactionExpiry, stopTransactionExpiry } from './auth-expiry.js'
import { hostKeysOf, newQueueAuth, type HostKeys, type QueueAuth } from './auth-queue-state.js'
import { countAuthFailure, newAuthCounters, type TargetAuthCounters } from './auth-counters.js'

export type { TargetAuthCounters } from './auth-counters.js'

const DNR = STATUS_DNR
/** SQE byte offsets of the Authentication Send/Receive fields (wire reference 3.4). */
const SQE_SPSP0 = 41
const SQE_SPSP1 = 42
const SQE_SECP = 43
const SQE_TL = 44
/** Largest TL/AL accepted: an ffdhe8192 Reply with SHA-512 is 16 + 2*64 + 1024 bytes; Linux asks 4096. */
export const AUTH_MAX_TRANSFER = 16384

export interface TargetAuthOptions {
  hosts: readonly ResolvedHostAuth[]
  clock: Clock
  logger: Logger
  randomBytes?: RandomBytes
}

export class TargetAuth {
  readonly counters: TargetAuthCounters = newAuthCounters()
  readonly #hosts = new Map<string, HostKeys>()
  readonly #queues = new WeakMap<Queue, QueueAuth>()
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #randomBytes: RandomBytes

  constructor(o: TargetAuthOptions) {
    this.#clock = o.clock
    this.#logger = o.logger
    this.#randomBytes = o.randomBytes ?? defaultRandomBytes
    for (const h of o.hosts) this.setHost(h)
  }

  /** Whether host `nqn` must authenticate. */
  hasHost(nqn: string): boolean {
    return this.#hosts.has(nqn)
  }

  /** The host's current settings, or undefined when it needs no authentication. */
  host(nqn: string): ResolvedHostAuth | undefined {
    return this.#hosts.get(nqn)?.cfg
  }

  /** Require (or re-key) DH-HMAC-CHAP for a host: its next Connects authenticate with these keys. */
  setHost(h: ResolvedHostAuth): void {
    this.#hosts.set(h.nqn, hostKeysOf(h))
  }

  /** Forget a host's keys: its next Connects need no authentication. Queues already bound keep theirs. */
  removeHost(nqn: string): boolean {
    return this.#hosts.delete(nqn)
  }

  /**
   * A queue was just bound by Connect: returns the AUTHREQ value of the response (bit 1 ATR when the
   * host must authenticate; Connect response DW0 bits 31:16, Base 2.0 Figure 393).
   */
  onConnect(q: Queue, o: { hostnqn: string; subnqn: string; discovery: boolean }): number {
    const host = o.discovery ? undefined : this.#hosts.get(o.hostnqn)
    if (host === undefined) return 0
    this.#queues.set(q, newQueueAuth(host, o.hostnqn, o.subnqn, q))
    return 0x2
  }

  /**
   * 0 when `q` may run admin and I/O commands, else the status they get: Authentication Required
   * (SCT 1h SC 91h) with DNR as nvmet answers before the first authentication, without DNR after
   * {@link requestReauthentication}, so that a host re-authenticates and retries (Linux
   * nvme_decide_disposition AUTHENTICATE).
   */
  check(q: Queue): number {
    const a = this.#queues.get(q)
    if (a === undefined || a.authenticated) return 0
    this.counters.refusedCommands++
    return a.reauthRequested ? NvmeStatus.AUTH_REQUIRED : NvmeStatus.AUTH_REQUIRED | DNR
  }

  /**
   * Re-authentication on request: the given queues (those that authenticate) stop running commands
   * until their host has authenticated them again. Returns how many queues were affected.
   */
  requestReauthentication(queues: Iterable<Queue>): number {
    let n = 0
    for (const q of queues) {
      const a = this.#queues.get(q)
      if (a === undefined) continue
      a.authenticated = false
      a.reauthRequested = true
      n++
    }
    if (n > 0) this.#logger.info({ queues: n }, 're-authentication requested')
    return n
  }

  /** Whether `q` is authenticated (true when it needs no authentication). */
  authenticated(q: Queue): boolean {
    const a = this.#queues.get(q)
    return a === undefined || a.authenticated
  }

  /** Parse step of Authentication Send/Receive: the SECP/SPSP0/SPSP1/TL checks of nvmet. */
  parse(req: Request, kind: 'send' | 'receive'): number {
    const f = authFields(req.sqe)
    if (f.secp !== AUTH_SECP_NVME) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_SECP)
    if (f.spsp0 !== AUTH_SPSP0) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_SPSP0)
    if (f.spsp1 !== AUTH_SPSP1) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_SPSP1)
    if (f.length === 0 || f.length > AUTH_MAX_TRANSFER) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_TL)
    // nvmet_check_transfer_len: the SGL must describe exactly TL/AL bytes.
    if (req.dataLength !== f.length) return req.fail(NvmeStatus.SGL_INVALID_DATA | DNR, SQE_TL)
    req.execute = kind === 'send' ? (r) => this.#send(r) : (r) => this.#receive(r, f.length)
    return 0
  }

  #state(req: Request): QueueAuth | undefined {
    return this.#queues.get(req.queue)
  }

  #send(req: Request): number {
    const a = this.#state(req)
    const data = req.data ?? Buffer.alloc(0)
    if (a === undefined) {
      // No secret for this host: nothing to authenticate against (nvmet answers FAILED too).
      this.#logger.warn({ qid: req.queue.qid }, 'authentication attempted by a host without a dhchapKey')
      return 0
    }
    const h = safe(() => decodeAuthHeader(data))
    if (h instanceof DecodeError) {
      this.#fail(a, AuthFailure.INCORRECT_PAYLOAD, h.message)
      return this.#done(req, a)
    }
    if (h.authType === AuthType.COMMON && h.authId === AuthId.NEGOTIATE) {
      this.#negotiate(req, a, data)
      return this.#done(req, a)
    }
    if (h.authType === AuthType.COMMON && h.authId === AuthId.FAILURE2) {
      const f = safe(() => decodeAuthFailure(2, data))
      const reason = f instanceof Error ? AuthFailure.INCORRECT_PAYLOAD : f.rescodeExp
      this.#logger.warn({ qid: req.queue.qid, hostnqn: a.hostnqn, reason: f instanceof Error ? f.message : authFailureName(reason) }, 'host reported AUTH_Failure2')
      this.#count(reason)
      a.authenticated = false
      this.#clear(a)
      a.step = 'NEGOTIATE'
      this.#fatal(req, `host sent AUTH_Failure2: ${authFailureName(reason)}`)
      return 0
    }
    const expected = a.step === 'REPLY' ? AuthId.REPLY : a.step === 'SUCCESS2' ? AuthId.SUCCESS2 : undefined
    if (a.step === 'NEGOTIATE' && a.expiredTid >= 0 && h.authType === AuthType.DHCHAP) {
      // A message of a transaction that expired (the host was slower than KATO, e.g. a big DH group
      // on an emulated CPU). nvmet finds the step reset to Negotiate, sets FAILURE2 and its next
      // Authentication Receive answers AUTH_Failure1 with explanation 01h Failed (the "unhandled
      // step" branch of nvmet_execute_auth_receive); here that Receive gets it the same way, and the
      // controller is deleted after it (not before, so the host's connect fails at once).
      this.#fail(a, AuthFailure.FAILED, `${authMessageName(h.authType, h.authId)} for T_ID ${h.tid} after transaction ${a.expiredTid} expired`)
      return this.#done(req, a)
    }
    if (h.authType !== AuthType.DHCHAP || h.authId !== expected) {
      this.#fail(a, AuthFailure.INCORRECT_MESSAGE, `${authMessageName(h.authType, h.authId)} received in step ${a.step}`)
      return this.#done(req, a)
    }
    if (h.tid !== a.tid) {
      this.#fail(a, AuthFailure.INCORRECT_PAYLOAD, `T_ID ${h.tid}, transaction is ${a.tid}`)
      return this.#done(req, a)
    }
    if (h.authId === AuthId.REPLY) this.#reply(req, a, data)
    else this.#succeed(req, a)
    return this.#done(req, a)
  }

  #negotiate(req: Request, a: QueueAuth, data: Buffer): void {
    this.counters.attempts++
    this.#clear(a)
    a.expiredTid = -1
    // A Negotiate restarts the transaction with the host's current settings: nvmet's auth_send
    // re-reads them (nvmet_setup_auth) on a re-authentication, so keys, hash or DH group changed
    // at run time apply to connected hosts (blktests nvme/045).
    a.host = this.#hosts.get(a.hostnqn) ?? a.host
    const m = safe(() => decodeAuthNegotiate(data))
    if (m instanceof Error) return this.#fail(a, AuthFailure.INCORRECT_PAYLOAD, m.message)
    a.tid = m.tid
    if (m.scC !== AUTH_SC_C_NONE) return this.#fail(a, AuthFailure.CONCAT_MISMATCH, `SC_C ${m.scC}: secure channel concatenation is not supported`)
    const hash = a.host.cfg.dhchapHashes.find((n) => m.hashIds.includes(DHCHAP_HASHES[n].id))
    if (hash === undefined) return this.#fail(a, AuthFailure.HASH_UNUSABLE, `host offers hash ids [${m.hashIds.join(', ')}], allowed ${a.host.cfg.dhchapHashes.join(', ')}`)
    const group = a.host.cfg.dhchapDhgroups.find((n) => m.dhgroupIds.includes(DHCHAP_DHGROUPS[n]))
    if (group === undefined) return this.#fail(a, AuthFailure.DHGROUP_UNUSABLE, `host offers DH group ids [${m.dhgroupIds.join(', ')}], allowed ${a.host.cfg.dhchapDhgroups.join(', ')}`)
    a.hash = hash
    a.group = group
    a.step = 'CHALLENGE'
    this.#logger.debug({ qid: req.queue.qid, tid: a.tid, hash, group }, 'AUTH_Negotiate accepted')
  }

  #reply(req: Request, a: QueueAuth, data: Buffer): void {
    const m = safe(() => decodeAuthReply(data))
    if (m instanceof Error) return this.#fail(a, AuthFailure.INCORRECT_PAYLOAD, m.message)
    const hl = DHCHAP_HASHES[a.hash].length
    if (m.response.length !== hl) return this.#fail(a, AuthFailure.INCORRECT_PAYLOAD, `HL ${m.response.length}, ${a.hash} needs ${hl}`)
    if (a.dh === undefined) {
      if (m.dhValue.length !== 0) return this.#fail(a, AuthFailure.INCORRECT_PAYLOAD, `DHVLEN ${m.dhValue.length} with the NULL DH group`)
    } else {
      if (m.dhValue.length === 0) return this.#fail(a, AuthFailure.INCORRECT_PAYLOAD, `no DH value with ${a.group}`)
      a.sessionKey = a.dh.sessionKey(m.dhValue)
      if (a.sessionKey === undefined) return this.#fail(a, AuthFailure.DHGROUP_UNUSABLE, `host DH value (${m.dhValue.length} bytes) is not a valid ${a.group} public value`)
    }
    const expected = hostResponse({
      hash: a.hash,
      key: transformDhchapKey(a.host.key, a.hostnqn),
      challenge: a.c1 as Buffer,
      sessionKey: a.sessionKey,
      seqnum: a.s1,
      tid: a.tid,
      scC: AUTH_SC_C_NONE,
      hostnqn: a.hostnqn,
      subnqn: a.subnqn,
    })
    if (!responsesEqual(expected, m.response)) return this.#fail(a, AuthFailure.FAILED, 'host response mismatch (wrong host secret)')
    a.s2 = m.seqnum
    if (m.challenge !== undefined && m.seqnum !== 0) {
      if (a.host.ctrlKey === undefined) return this.#fail(a, AuthFailure.FAILED, 'host asks the controller to authenticate but no dhchapCtrlKey is configured')
      a.c2 = m.challenge
    } else {
      a.authenticated = true
      a.reauthRequested = false
    }
    a.step = 'SUCCESS1'
  }

  #succeed(req: Request, a: QueueAuth): void {
    a.authenticated = true
    a.reauthRequested = false
    this.#finish(req, a)
  }

  #finish(req: Request, a: QueueAuth): void {
    this.counters.successes++
    this.#logger.info({ qid: req.queue.qid, hostnqn: a.hostnqn, hash: a.hash, dhgroup: a.group, bidirectional: a.c2 !== undefined }, 'host authenticated')
    this.#clear(a)
    a.step = 'NEGOTIATE'
  }

  #receive(req: Request, al: number): number {
    const a = this.#state(req)
    const out = Buffer.alloc(al)
    req.c2hData = out
    if (a === undefined) {
      encodeAuthFailure(1, { tid: 0, rescodeExp: AuthFailure.FAILED }).copy(out)
      return 0
    }
    let msg: Buffer
    if (a.step === 'CHALLENGE') {
      const hl = DHCHAP_HASHES[a.hash].length
      a.c1 = this.#randomBytes(hl)
      a.s1 = newSeqnum(this.#randomBytes)
      a.dh = a.group === 'null' ? undefined : new DhExchange(a.group, this.#randomBytes)
      msg = encodeAuthChallenge({ tid: a.tid, hashId: DHCHAP_HASHES[a.hash].id, dhgroupId: DHCHAP_DHGROUPS[a.group], seqnum: a.s1, challenge: a.c1, dhValue: a.dh?.publicValue ?? Buffer.alloc(0) })
      if (msg.length > al) {
        // nvmet fails the command (the host's buffer cannot hold the challenge); the step stays.
        a.dh = undefined
        return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_TL)
      }
      a.step = 'REPLY'
    } else if (a.step === 'SUCCESS1') {
      const hl = DHCHAP_HASHES[a.hash].length
      const r2 =
        a.c2 === undefined || a.host.ctrlKey === undefined
          ? undefined
          : controllerResponse({
              hash: a.hash,
              key: transformDhchapKey(a.host.ctrlKey, a.subnqn),
              challenge: a.c2,
              sessionKey: a.sessionKey,
              seqnum: a.s2,
              tid: a.tid,
              scC: AUTH_SC_C_NONE,
              hostnqn: a.hostnqn,
              subnqn: a.subnqn,
            })
      msg = encodeAuthSuccess1({ tid: a.tid, hl, response: r2 })
      if (msg.length > al) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_TL)
      if (r2 === undefined) this.#finish(req, a)
      else a.step = 'SUCCESS2'
    } else {
      if (a.step !== 'FAILURE1') this.#fail(a, AuthFailure.INCORRECT_MESSAGE, `Authentication Receive in step ${a.step}`)
      msg = encodeAuthFailure(1, { tid: Math.max(0, a.tid), rescodeExp: a.failure })
      this.#count(a.failure)
      this.#logger.warn({ qid: req.queue.qid, hostnqn: a.hostnqn, reason: authFailureName(a.failure), detail: a.failureDetail }, 'authentication failed: AUTH_Failure1 sent')
      a.authenticated = false
      this.#clear(a)
      a.step = 'NEGOTIATE'
      msg.copy(out)
      this.#fatal(req, `authentication failed: ${authFailureName(a.failure)}`)
      return 0
    }
    msg.copy(out)
    return this.#done(req, a)
  }

  /** A failed transaction: the next Receive answers AUTH_Failure1 with `reason`. */
  #fail(a: QueueAuth, reason: number, detail: string): void {
    a.step = 'FAILURE1'
    a.failure = reason
    a.failureDetail = detail
    this.#logger.debug({ reason: authFailureName(reason), detail }, 'authentication transaction failed')
  }

  #count(reason: number): void {
    countAuthFailure(this.counters, reason)
  }

  /** Re-arms the transaction's time limit unless the transaction is over (target/cmd/auth-expiry.ts). */
  #done(_req: Request, a: QueueAuth): number {
    if (a.step === 'NEGOTIATE') {
      stopTransactionExpiry(a, this.#clock)
      return 0
    }
    armTransactionExpiry(a, this.#clock, this.#logger, () => {
      this.#clear(a)
      a.step = 'NEGOTIATE'
    })
    return 0
  }

  #clear(a: QueueAuth): void {
    stopTransactionExpiry(a, this.#clock)
    a.dh = undefined
    a.sessionKey = undefined
    a.c1 = undefined
    a.c2 = undefined
    a.s1 = 0
    a.s2 = 0
  }

  /** nvmet_ctrl_fatal_error: CSTS.CFS, then the controller is deleted once this response is out. */
  #fatal(req: Request, reason: string): void {
    const ctrl = req.queue.controller
    if (ctrl === undefined) return
    ctrl.setFatal(reason)
    setImmediate(() => ctrl.delete(reason))
  }
}

/** Runs a decoder: its DecodeError (naming field and offset) becomes a value, anything else is a bug and throws. */
function safe<T>(fn: () => T): T | DecodeError {
  try {
    return fn()
  } catch (err) {
    if (err instanceof DecodeError) return err
    throw err
  }
}
