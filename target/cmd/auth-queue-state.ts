/**
 * The DH-HMAC-CHAP transaction state each authenticating queue carries on the target (NVMe Base 2.0
 * section 8.13): the step it is in, the negotiated hash and DH group, challenges and sequence numbers,
 * and the host keys it authenticates with. target/cmd/auth.ts drives it; this file only shapes it.
 */
import type { TimerHandle } from '../../lib/clock.js'
import type { DhchapGroupName, DhchapHashName } from '../../lib/nvme/auth-ids.js'
import { parseDhchapSecret, type DhchapSecret } from '../../lib/nvme/auth-secret.js'
import type { DhExchange } from '../../lib/nvme/auth-transcript.js'
import type { ResolvedHostAuth } from '../config-auth.js'
import type { Queue } from '../core/queue.js'

export type Step = 'NEGOTIATE' | 'CHALLENGE' | 'REPLY' | 'SUCCESS1' | 'SUCCESS2' | 'FAILURE1'

export interface HostKeys {
  cfg: ResolvedHostAuth
  key: DhchapSecret
  ctrlKey: DhchapSecret | undefined
}

export interface QueueAuth {
  host: HostKeys
  hostnqn: string
  subnqn: string
  authenticated: boolean
  step: Step
  tid: number
  hash: DhchapHashName
  group: DhchapGroupName
  dh: DhExchange | undefined
  sessionKey: Buffer | undefined
  c1: Buffer | undefined
  s1: number
  c2: Buffer | undefined
  s2: number
  /** The target asked this queue to authenticate again (its commands then get a retryable status). */
  reauthRequested: boolean
  /** Reason code explanation of a failed transaction (sent in AUTH_Failure1). */
  failure: number
  failureDetail: string
  timer: TimerHandle | undefined
  /** The queue (its controller's keep-alive is held while a transaction is open). */
  queue: Queue
  /** T_ID of the transaction that expired last, until the next Negotiate (-1: none). */
  expiredTid: number
}

/** A host's settings with its secrets parsed once (a bad secret is named by its config path). */
export function hostKeysOf(h: ResolvedHostAuth): HostKeys {
  return {
    cfg: h,
    key: parseDhchapSecret(h.dhchapKey, `hosts.${h.nqn}.dhchapKey`),
    ctrlKey: h.dhchapCtrlKey === undefined ? undefined : parseDhchapSecret(h.dhchapCtrlKey, `hosts.${h.nqn}.dhchapCtrlKey`),
  }
}

/** The state of a queue just bound by Connect: not authenticated, waiting for AUTH_Negotiate. */
export function newQueueAuth(host: HostKeys, hostnqn: string, subnqn: string, queue: Queue): QueueAuth {
  return {
    host,
    hostnqn,
    subnqn,
    authenticated: false,
    step: 'NEGOTIATE',
    tid: -1,
    hash: 'sha256',
    group: 'null',
    dh: undefined,
    sessionKey: undefined,
    c1: undefined,
    s1: 0,
    c2: undefined,
    s2: 0,
    reauthRequested: false,
    failure: 0,
    failureDetail: '',
    timer: undefined,
    queue,
    expiredTid: -1,
  }
}
