/**
 * What the Linux host does with a completed request (drivers/nvme/host/core.c
 * `nvme_decide_disposition` and `nvme_retry_req`; wire reference 8.2), as a pure function so that
 * the initiator and the tests share one definition. Rules, in order:
 *
 * 1. status 0 → complete (success)
 * 2. no-retry request, DNR set, or retries ≥ maxRetries (default 5) → complete with the error
 * 3. SCT 1h / SC 91h Authentication Required → authenticate, then retry
 * 4. multipath request and (SCT 3h path error, or the queue is dying) → failover
 * 5. not multipath and the queue is dying → complete with the error
 * 6. anything else → retry on the same path after the CRD delay (CRDT[CRD−1] × 100 ms, 0 if CRD = 0)
 */
import { InvalidArgumentError } from './errors.js'
import { NvmeStatus, isPathError, isSuccess, statusCode, statusCrd, statusDnr } from './status.js'

export type DispositionAction = 'complete' | 'retry' | 'failover' | 'authenticate'

/** Linux `nvme_max_retries` default. */
export const DEFAULT_MAX_RETRIES = 5

export interface DispositionInput {
  /** 15-bit status (Linux form). */
  status: number
  /** How many times this request has been retried already. */
  retries: number
  maxRetries?: number
  /** A driver-internal request that is never retried (Identify, Get Log Page, Connect, Property Get/Set, Keep Alive...). */
  noRetry?: boolean
  /** The request came through the multipath head (REQ_NVME_MPATH). */
  multipath: boolean
  /** The namespace queue is being torn down (blk_queue_dying). */
  queueDying?: boolean
  /** Identify Controller CRDT1..CRDT3 in 100 ms units. */
  crdt?: readonly [number, number, number] | readonly number[]
  /**
   * Alternatively, the delays in ms indexed by CRD (index 0 unused/0). Takes precedence over `crdt`.
   */
  crdDelaysMs?: readonly number[]
}

export interface Disposition {
  action: DispositionAction
  /** Delay before a retry (CRD); 0 for every other action. */
  delayMs: number
  /** Which rule of the table above applied (1-6), for traces and tests. */
  rule: 1 | 2 | 3 | 4 | 5 | 6
  /** Short reason, e.g. 'dnr', 'max-retries', 'path-error'. */
  reason: string
}

function retryDelay(input: DispositionInput): number {
  const crd = statusCrd(input.status)
  if (crd === 0) return 0
  const fromMs = input.crdDelaysMs?.[crd]
  if (fromMs !== undefined) return fromMs
  const units = input.crdt?.[crd - 1]
  return units === undefined ? 0 : units * 100
}

export function decideDisposition(input: DispositionInput): Disposition {
  const { status, retries } = input
  const maxRetries = input.maxRetries ?? DEFAULT_MAX_RETRIES
  if (!Number.isInteger(status) || status < 0 || status > 0x7fff) throw new InvalidArgumentError('status', 'must be a 15-bit status')
  if (!Number.isInteger(retries) || retries < 0) throw new InvalidArgumentError('retries', 'must be a non-negative integer')
  if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new InvalidArgumentError('maxRetries', 'must be a non-negative integer')

  if (isSuccess(status)) return { action: 'complete', delayMs: 0, rule: 1, reason: 'success' }
  if (input.noRetry === true) return { action: 'complete', delayMs: 0, rule: 2, reason: 'no-retry' }
  if (statusDnr(status)) return { action: 'complete', delayMs: 0, rule: 2, reason: 'dnr' }
  if (retries >= maxRetries) return { action: 'complete', delayMs: 0, rule: 2, reason: 'max-retries' }
  if (statusCode(status) === NvmeStatus.AUTH_REQUIRED) return { action: 'authenticate', delayMs: 0, rule: 3, reason: 'auth-required' }
  const dying = input.queueDying === true
  if (input.multipath) {
    if (isPathError(status)) return { action: 'failover', delayMs: 0, rule: 4, reason: 'path-error' }
    if (dying) return { action: 'failover', delayMs: 0, rule: 4, reason: 'queue-dying' }
  } else if (dying) {
    return { action: 'complete', delayMs: 0, rule: 5, reason: 'queue-dying' }
  }
  return { action: 'retry', delayMs: retryDelay(input), rule: 6, reason: 'retryable' }
}
