/**
 * The time limits of one TCP connection (target/limits.ts), all on the injected clock:
 *
 * - icReqTimeoutMs: the host must send ICReq promptly (Linux host: 10 s); a silent peer is dropped.
 * - connectTimeoutMs: after ICResp, a Connect must bind the queue in time.
 * - pduTimeoutMs: a PDU whose first bytes arrived must arrive whole in time (a peer trickling one
 *   PDU forever holds a buffer and a socket); not counted while the target itself paused delivery.
 * - idleTimeoutMs: a connected queue that receives nothing, has nothing in flight and whose
 *   controller has keep-alive disabled (KATO 0; otherwise the keep-alive timeout governs) is closed.
 * - CLOSE_LINGER_MS: a connection we closed waits this long for the peer's FIN, then is destroyed.
 */
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../../lib/clock.js'
import type { PduFramer } from '../../lib/framer.js'
import type { ResolvedLimits } from '../limits.js'
import type { Queue } from '../core/queue.js'

/** What the timers read from and do to their connection. */
export interface TimedConnection {
  readonly logger: Logger
  readonly queue: Queue
  /** CONNECTING (no ICReq yet). */
  readonly connecting: boolean
  /** LIVE (ICReq done, not closing). */
  readonly live: boolean
  /** Commands in flight that will complete by themselves. */
  readonly busy: boolean
  destroy(): void
  close(reason: string): void
}

/** How long a connection we closed waits for the peer's FIN before it is destroyed. */
const CLOSE_LINGER_MS = 2000

export class ConnectionTimers {
  readonly #clock: Clock
  /** Read at each use: the target's limits can be changed while it runs. */
  readonly #limits: () => ResolvedLimits
  readonly #framer: PduFramer
  readonly #conn: TimedConnection
  #icTimer: TimerHandle | undefined
  #connectTimer: TimerHandle | undefined
  /** Armed while a started PDU is incomplete; `#pduMark` is the PDU count when it was armed. */
  #pduTimer: TimerHandle | undefined
  #pduMark = -1
  #idleTimer: TimerHandle | undefined
  #lingerTimer: TimerHandle | undefined
  /** Clock time of the last bytes received. */
  #lastRx = 0

  constructor(o: { clock: Clock; limits: () => ResolvedLimits; framer: PduFramer; conn: TimedConnection }) {
    this.#clock = o.clock
    this.#limits = o.limits
    this.#framer = o.framer
    this.#conn = o.conn
  }

  armIcReq(): void {
    this.#icTimer = this.#clock.setTimeout(() => {
      if (!this.#conn.connecting) return
      this.#conn.logger.info({ timeoutMs: this.#limits().icReqTimeoutMs }, 'no ICReq in time: closing')
      this.#conn.destroy()
    }, this.#limits().icReqTimeoutMs)
    this.#icTimer.unref?.()
  }

  /** ICReq arrived: its timer stops and the Connect timer starts. */
  icReqDone(): void {
    if (this.#icTimer !== undefined) this.#clock.clearTimeout(this.#icTimer)
    this.#icTimer = undefined
    const ms = this.#limits().connectTimeoutMs
    this.#connectTimer = this.#clock.setTimeout(() => {
      this.#connectTimer = undefined
      if (!this.#conn.live || this.#conn.queue.connected) return
      this.#conn.logger.info({ timeoutMs: ms }, 'no Connect in time after ICReq: closing')
      this.#conn.destroy()
    }, ms)
    this.#connectTimer.unref?.()
  }

  /** Bytes arrived: start the idle timer once the queue is connected. */
  /**
   * A socket read was handled (called once its responses are written: the clock read and timer
   * bookkeeping stay off a QD1 round trip's critical path).
   */
  afterRead(): void {
    this.#lastRx = this.#clock.now()
    this.watchPartialPdu()
    this.#received()
  }

  #received(): void {
    if (this.#idleTimer === undefined && this.#conn.queue.connected && this.#limits().idleTimeoutMs > 0) this.#armIdle(this.#limits().idleTimeoutMs)
  }

  /** Re-evaluate the partial-PDU timer (after bytes arrived or delivery paused/resumed). */
  watchPartialPdu(): void {
    const f = this.#framer
    if (f.atPduBoundary || f.paused) {
      if (this.#pduTimer !== undefined) this.#clock.clearTimeout(this.#pduTimer)
      this.#pduTimer = undefined
      return
    }
    if (this.#pduTimer !== undefined && this.#pduMark === f.pdusDelivered) return
    if (this.#pduTimer !== undefined) this.#clock.clearTimeout(this.#pduTimer)
    this.#pduMark = f.pdusDelivered
    const ms = this.#limits().pduTimeoutMs
    this.#pduTimer = this.#clock.setTimeout(() => {
      this.#pduTimer = undefined
      if (!this.#conn.live && !this.#conn.connecting) return
      if (f.atPduBoundary || f.paused) return
      if (f.pdusDelivered !== this.#pduMark) {
        this.watchPartialPdu()
        return
      }
      this.#conn.logger.warn({ timeoutMs: ms, bufferedBytes: f.bufferedBytes }, 'PDU not finished in time: closing')
      this.#conn.destroy()
    }, ms)
    this.#pduTimer.unref?.()
  }

  clear(): void {
    for (const t of [this.#icTimer, this.#connectTimer, this.#pduTimer, this.#idleTimer, this.#lingerTimer]) if (t !== undefined) this.#clock.clearTimeout(t)
    this.#icTimer = this.#connectTimer = this.#pduTimer = this.#idleTimer = this.#lingerTimer = undefined
  }

  /**
   * The connection was closed by us (FIN sent): the other timers stop, and the peer gets
   * CLOSE_LINGER_MS to finish. Not unref'd: whoever awaits the close (target.close()) must see it end
   * even when nothing else keeps the process alive.
   */
  armCloseLinger(): void {
    this.clear()
    this.#lingerTimer = this.#clock.setTimeout(() => {
      this.#lingerTimer = undefined
      this.#conn.destroy()
    }, CLOSE_LINGER_MS)
  }

  #armIdle(ms: number): void {
    this.#idleTimer = this.#clock.setTimeout(() => {
      this.#idleTimer = undefined
      if (!this.#conn.live) return
      const limit = this.#limits().idleTimeoutMs
      const idle = this.#clock.now() - this.#lastRx
      const ctrl = this.#conn.queue.controller
      const covered = ctrl !== undefined && ctrl.kato > 0
      const busy = this.#conn.busy
      // An outstanding AER is not activity (the host keeps one posted on every admin queue).
      if (!covered && idle >= limit && !busy) {
        this.#conn.logger.info({ timeoutMs: limit, idle }, 'idle connection: closing')
        this.#conn.close('idle timeout')
        return
      }
      this.#armIdle(Math.max(1, limit - (covered || busy ? 0 : idle)))
    }, ms)
    this.#idleTimer.unref?.()
  }
}
