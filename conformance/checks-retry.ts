/**
 * The retry checks of the catalogue, judged from the write journal: DNR obeyed, the retry limit, a
 * path-related status retried (failover) rather than failed, and the Command Retry Delay honoured.
 * Re-exported by checks.ts.
 */
import { statusDnr, statusSct } from '../lib/status.js'
import type { CheckDefinition } from './catalogue-types.js'
import type { WriteAttempt } from './write-journal.js'
import { describeWrite, ms, port, st, writeGroups } from './check-format.js'

export function dnrObeyed(): CheckDefinition {
  return {
    id: 'dnr-obeyed',
    title: 'a write completed with Do Not Retry is not sent again',
    judge: (ctx) => {
      let n = 0
      for (const list of writeGroups(ctx.journal.attempts).values()) {
        const i = list.findIndex((a) => a.status !== undefined && a.status !== 0 && statusDnr(a.status))
        if (i < 0) continue
        n++
        const a = list[i]!
        const again = list[i + 1]
        if (again !== undefined)
          return {
            verdict: 'fail',
            judgedFrom: 'journal',
            detail: `${describeWrite(ctx, a)} was answered ${st(a.status!)} with DNR at ${ms(a.completedAtMs ?? 0)}, and the same data was sent again at ${ms(again.landedAtMs)} on port ${again.portId !== undefined ? port(ctx, again.portId) : '?'} (${list.length - i - 1} retry/retries)`,
          }
      }
      if (n === 0) return { verdict: 'skip', judgedFrom: 'journal', detail: 'no write was answered with DNR' }
      return { verdict: 'pass', judgedFrom: 'journal', detail: `${n} write(s) answered with DNR; none was sent again` }
    },
  }
}

/** Same-path retries of a retryable status stop at the initiator's limit (Linux nvme_max_retries, 5). */
export function retryLimit(maxRetries: number): CheckDefinition {
  return {
    id: 'retry-limit',
    title: `a failing write is retried at most ${maxRetries} times`,
    judge: (ctx) => {
      let worst: WriteAttempt[] | undefined
      let failed = 0
      for (const list of writeGroups(ctx.journal.attempts).values()) {
        if (!list.some((a) => a.status !== undefined && a.status !== 0)) continue
        failed++
        if (worst === undefined || list.length > worst.length) worst = list
      }
      if (worst === undefined) return { verdict: 'skip', judgedFrom: 'journal', detail: 'no write failed' }
      if (worst.length > maxRetries + 1)
        return { verdict: 'fail', judgedFrom: 'journal', detail: `${describeWrite(ctx, worst[0]!)} reached the target ${worst.length} times (limit: 1 + ${maxRetries} retries); last status ${st(worst[worst.length - 1]!.status ?? 0)}` }
      return { verdict: 'pass', judgedFrom: 'journal', detail: `${failed} failing write(s); at most ${worst.length} attempt(s) each (limit 1 + ${maxRetries})` }
    },
  }
}

/** A write failed with a path-related status (SCT 3h) is retried (on this or another path), not failed to the application. */
export function pathErrorRetried(): CheckDefinition {
  return {
    id: 'path-error-retried',
    title: 'a write answered with a path-related status is sent again (failover), not failed',
    judge: (ctx) => {
      let n = 0
      let other = 0
      for (const list of writeGroups(ctx.journal.attempts).values()) {
        for (const [i, a] of list.entries()) {
          if (a.status === undefined || statusSct(a.status) !== 3 || statusDnr(a.status)) continue
          if ((a.completedAtMs ?? 0) > ctx.stopMs - 500) continue // too close to the stop to judge
          n++
          const again = list[i + 1]
          if (again === undefined) return { verdict: 'fail', judgedFrom: 'journal', detail: `${describeWrite(ctx, a)} was answered ${st(a.status)} at ${ms(a.completedAtMs ?? 0)} and never sent again` }
          if (again.portId !== a.portId) other++
        }
      }
      if (n === 0) return { verdict: 'skip', judgedFrom: 'journal', detail: 'no write was answered with a path-related status' }
      return { verdict: 'pass', judgedFrom: 'journal', detail: `${n} path-related error(s) on writes, every one sent again (${other} on another path)` }
    },
  }
}

/**
 * Command Retry Delay (NVMe Base 2.0 §4.2.3, CRD; Identify Controller CRDT1-3 in 100 ms units): a
 * write answered with CRD = n is not sent again before CRDTn x 100 ms (minus `slackMs`).
 */
export function crdHonoured(crdtMs: number, slackMs = 20): CheckDefinition {
  return {
    id: 'crd-honoured',
    title: `a retry after a status with CRD waits the Command Retry Delay (${crdtMs} ms)`,
    judge: (ctx) => {
      const gaps: number[] = []
      for (const list of writeGroups(ctx.journal.attempts).values()) {
        for (const [i, a] of list.entries()) {
          if (a.status === undefined || ((a.status >> 11) & 3) === 0 || statusDnr(a.status)) continue
          const again = list[i + 1]
          if (again === undefined || a.completedAtMs === undefined) continue
          const gap = again.landedAtMs - a.completedAtMs
          if (gap < crdtMs - slackMs)
            return { verdict: 'fail', judgedFrom: 'journal', detail: `${describeWrite(ctx, a)} was answered ${st(a.status)} with CRD ${(a.status >> 11) & 3} at ${ms(a.completedAtMs)} and sent again after ${ms(gap)} (delay ${crdtMs} ms)` }
          gaps.push(gap)
        }
      }
      if (gaps.length === 0) return { verdict: 'skip', judgedFrom: 'journal', detail: 'no write answered with a CRD status was sent again' }
      return { verdict: 'pass', judgedFrom: 'journal', detail: `${gaps.length} retried write(s) after a CRD status; shortest wait ${ms(Math.min(...gaps))} (delay ${crdtMs} ms)` }
    },
  }
}
