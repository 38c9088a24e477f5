/**
 * Checks that only a kernel host can fail: its console (the Linux driver reports oops / BUG /
 * WARNING / hung-task lines, linux-console.ts, as 'log' events of level error). Another initiator
 * has no console: the check skips and says so.
 */
import type { CheckDefinition } from './catalogue-types.js'

/** How many splat lines the fail's detail quotes. */
const EXCERPT_LINES = 8

export function kernelConsoleClean(): CheckDefinition {
  return {
    id: 'kernel-console-clean',
    title: 'no oops, BUG, WARNING or hung task on the kernel console',
    judge: ({ initiator, driver }) => {
      if (initiator.kind !== 'linux') return { verdict: 'skip', judgedFrom: 'kernel-log', detail: `the initiator (${initiator.kind}) has no kernel console` }
      const errors = driver.logs.filter((l) => l.startsWith('error: '))
      if (errors.length > 0) {
        const excerpt = errors.slice(0, EXCERPT_LINES).map((l) => l.slice('error: '.length)).join(' | ')
        return { verdict: 'fail', judgedFrom: 'kernel-log', detail: `${errors.length} kernel error line(s) during this scenario: ${excerpt}` }
      }
      const warns = driver.logs.length
      return { verdict: 'pass', judgedFrom: 'kernel-log', detail: `no oops/BUG/WARNING/hung-task line during this scenario (${warns} nvme/block warning line(s) logged)` }
    },
  }
}
