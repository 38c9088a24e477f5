/**
 * What a host controller does when one of its commands times out (anchors 3.5, Linux
 * nvme_tcp_timeout): during bring-up or shutdown the unanswered command fails the attempt (closing
 * its queues rejects it); an admin command, Keep Alive included, resets the controller; an I/O
 * command is aborted (Abort with SQID | CID << 16) and the controller reset if its queue still has
 * commands outstanding after the grace period.
 */
import type { Logger } from 'pino'
import type { Clock } from '../lib/clock.js'
import { TimeoutError } from '../lib/errors.js'
import { makeAbortSqe } from '../lib/nvme/commands.js'
import type { Sqe } from '../lib/nvme/sqe.js'
import type { ControllerStateValue } from './controller-state.js'
import type { QueuePair } from './transport/queue-pair.js'

export interface TimeoutScope {
  id: string
  state: ControllerStateValue
  clock: Clock
  log: Logger | undefined
  counters: { timeouts: number; aborts: number }
  abortGraceMs: number
  /** Whether the connection the command was sent on is still the current one. */
  current: () => boolean
  failAttempt: (err: Error) => void
  reset: (reason: string) => void
  /** Submit an admin command, ignoring its outcome. */
  admin: (sqe: Sqe) => void
  ioQueue: (qid: number) => QueuePair | undefined
}

export function onCommandTimeout(s: TimeoutScope, info: { qid: number; cid: number; opc: number }): void {
  s.counters.timeouts++
  s.log?.warn(info, 'command timeout')
  if (s.state !== 'live') {
    s.failAttempt(new TimeoutError(`${s.id}: ${info.qid === 0 ? 'admin' : `I/O queue ${info.qid}`} command 0x${info.opc.toString(16)} not answered (controller ${s.state})`))
    return
  }
  if (info.qid === 0) {
    s.reset(`admin command 0x${info.opc.toString(16)} timed out`)
    return
  }
  s.counters.aborts++
  s.admin(makeAbortSqe({ cid: 0, sqid: info.qid, abortCid: info.cid }))
  const t = s.clock.setTimeout(() => {
    if (!s.current()) return
    const q = s.ioQueue(info.qid)
    if (q !== undefined && !q.closed && q.outstanding > 0) s.reset(`I/O cid 0x${info.cid.toString(16)} not completed after Abort`)
  }, s.abortGraceMs)
  t.unref?.()
}
