/**
 * What the target counts of in-band authentication (read through `TargetHandle.authCounters()`):
 * transactions started, successes, failures by reason code explanation, and commands refused before
 * authentication. One place that says how a failure is counted.
 */
import { authFailureName } from '../../lib/nvme/auth-ids.js'

export interface TargetAuthCounters {
  /** Transactions started (AUTH_Negotiate received). */
  attempts: number
  successes: number
  failures: number
  /** Failures by reason code explanation name (AUTH_Failure1 sent or AUTH_Failure2 received). */
  failuresByReason: Record<string, number>
  /** Commands refused with Authentication Required. */
  refusedCommands: number
}

export function newAuthCounters(): TargetAuthCounters {
  return { attempts: 0, successes: 0, failures: 0, failuresByReason: {}, refusedCommands: 0 }
}

/** One failed transaction, under its reason's name (AUTH_Failure1 sent or AUTH_Failure2 received). */
export function countAuthFailure(counters: TargetAuthCounters, reason: number): void {
  counters.failures++
  const k = authFailureName(reason)
  counters.failuresByReason[k] = (counters.failuresByReason[k] ?? 0) + 1
}
