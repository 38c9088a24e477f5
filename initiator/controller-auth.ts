/**
 * In-band authentication of a host controller's queues (NVMe Base 2.0 section 8.13; the DH-HMAC-CHAP
 * exchange itself is initiator/auth.ts): after a Connect whose response asks for it (AUTHREQ.ATR),
 * and on demand for every queue of a live controller (re-authentication).
 */
import type { Logger } from 'pino'
import { AuthenticationError, InvalidStateError } from '../lib/errors.js'
import { AuthFailure } from '../lib/nvme/auth-ids.js'
import { CONNECT_AUTHREQ_ATR } from '../lib/nvme/fabrics.js'
import { authenticateQueue, type AuthResult } from './auth.js'
import type { ResolvedControllerOptions } from './controller-options.js'
import type { QueuePair } from './transport/queue-pair.js'

export interface ControllerAuthOptions {
  /** The controller's name (errors and logs). */
  id: string
  hostnqn: string
  options: Pick<ResolvedControllerOptions, 'dhchap' | 'subnqn' | 'adminTimeoutMs'>
  logger?: Logger | undefined
  counters: { authentications: number; authFailures: number }
}

export class ControllerAuth {
  readonly #o: ControllerAuthOptions
  /** T_ID of the last authentication transaction (Linux ctrl->transaction). */
  #tid = 0
  #reauth: Promise<AuthResult[]> | undefined

  constructor(o: ControllerAuthOptions) {
    this.#o = o
  }

  /** After a Connect: authenticate the queue when the response's AUTHREQ.ATR asks for it. */
  async ifAsked(q: QueuePair, qid: number, connectDw0: number): Promise<void> {
    if (((connectDw0 >>> 0) & CONNECT_AUTHREQ_ATR) === 0) return
    if (this.#o.options.dhchap === undefined) {
      this.#o.counters.authFailures++
      throw new AuthenticationError(`${this.#o.id}: qid ${qid}: the controller requires authentication (AUTHREQ.ATR) but no dhchapSecret is set`, { qid, reason: AuthFailure.FAILED, by: 'host' })
    }
    await this.authenticate(q, qid)
  }

  async authenticate(q: QueuePair, qid: number): Promise<AuthResult> {
    const { dhchap: settings, subnqn, adminTimeoutMs } = this.#o.options
    if (settings === undefined) throw new InvalidStateError(`${this.#o.id}: no dhchapSecret set`)
    this.#tid = (this.#tid + 1) & 0xffff
    try {
      const r = await authenticateQueue({ qid, tid: this.#tid, hostnqn: this.#o.hostnqn, subnqn, settings, submit: (cmd) => q.submit(cmd), timeoutMs: adminTimeoutMs })
      this.#o.counters.authentications++
      this.#o.logger?.info({ ctrl: this.#o.id, qid, ...r }, 'authenticated')
      return r
    } catch (err) {
      this.#o.counters.authFailures++
      this.#o.logger?.warn({ ctrl: this.#o.id, qid, err }, 'authentication failed')
      throw err
    }
  }

  /**
   * Re-authenticate the admin queue (`admin()` throws when there is none to use), then each I/O
   * queue `io()` lists at that point; one run at a time (Linux queues one dhchap_auth_work):
   * concurrent callers share it.
   */
  reauthenticate(admin: () => QueuePair, io: () => readonly QueuePair[]): Promise<AuthResult[]> {
    if (this.#reauth === undefined) {
      this.#reauth = (async () => {
        const out = [await this.authenticate(admin(), 0)]
        for (const q of io()) out.push(await this.authenticate(q, q.qid))
        return out
      })().finally(() => (this.#reauth = undefined))
    }
    return this.#reauth
  }
}
