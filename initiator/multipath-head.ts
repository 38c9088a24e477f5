/**
 * A multipath head: one namespace identity across the controllers of a subsystem (Linux
 * `nvme_ns_head`). I/O is submitted to the head, issued on a path chosen by the I/O policy, and on a
 * path-related failure moved back to the head's requeue list and resubmitted through path selection
 * (wire reference 8.2, anchors 3.1-3.2).
 *
 * QoS: a path's chain charges an I/O at throttle time. Every move of an I/O back to the head first
 * completes that charge on the charging path and clears the I/O's QoS flags (`completeQosCharge`),
 * the fix for the nvme/058 oops (anchors 0.1). `internal.clearQosFlagsOnFailover: false` removes the
 * fix so tests can show that the invariant checker catches the bug.
 */
import type { Clock, TimerHandle } from '../lib/clock.js'
import { decideDisposition } from '../lib/disposition.js'
import { AbortedError, ConnectionError, NvmeStatusError } from '../lib/errors.js'
import { isAnaError, statusCrd, statusName } from '../lib/status.js'
import { controllerMayComeBack } from './controller-state.js'
import { CHANNELS, publish, type FailoverEvent } from './events.js'
import { emptyQosFlags, hasQosFlags, type HostIo, type IoDevice } from './host-io.js'
import type { IoResult, NsPath } from './ns-path.js'
import { selectPath, type IoPolicy } from './path-selector.js'
import type { QosInvariantChecker } from './qos/invariant-checker.js'
import type { NsIds } from './ns-ids.js'

export { nsIdsEqual, nsIdsKey, type NsIds } from './ns-ids.js'

export interface MultipathHeadOptions {
  hostId: string
  id: string
  subnqn: string
  nsid: number
  ids: NsIds
  blockSize: number
  /** Namespace size in logical blocks. */
  nsze: bigint
  policy: IoPolicy
  clock: Clock
  maxRetries: number
  checker?: QosInvariantChecker | undefined
  /** Queue-if-no-path: keep I/O queued this long after the last path left, then remove the head. 0 = off. */
  delayedRemovalMs: number
  internal?: { clearQosFlagsOnFailover?: boolean }
  onRemoved?: (head: MultipathHead) => void
}

export interface HeadCounters {
  submitted: number
  completed: number
  failed: number
  failovers: number
  requeued: number
  retries: number
  noPathFailures: number
}

export class MultipathHead implements IoDevice {
  readonly kind = 'head'
  readonly qos = undefined
  readonly id: string
  readonly subnqn: string
  readonly nsid: number
  readonly ids: NsIds
  readonly blockSize: number
  nsze: bigint
  policy: IoPolicy
  readonly #o: MultipathHeadOptions
  readonly #clock: Clock
  readonly #paths: NsPath[] = []
  readonly #requeue: HostIo[] = []
  /** I/Os submitted and not yet settled (a count: only its size was ever read). */
  #inflight = 0
  readonly #clearQosFlagsOnFailover: boolean
  #current: string | undefined
  #requeueTimer: NodeJS.Immediate | undefined
  #removalTimer: TimerHandle | undefined
  #removed = false
  readonly counters: HeadCounters = { submitted: 0, completed: 0, failed: 0, failovers: 0, requeued: 0, retries: 0, noPathFailures: 0 }

  constructor(o: MultipathHeadOptions) {
    this.#o = o
    this.#clock = o.clock
    this.id = o.id
    this.subnqn = o.subnqn
    this.nsid = o.nsid
    this.ids = o.ids
    this.blockSize = o.blockSize
    this.nsze = o.nsze
    this.policy = o.policy
    this.#clearQosFlagsOnFailover = o.internal?.clearQosFlagsOnFailover ?? true
  }

  get paths(): readonly NsPath[] {
    return this.#paths
  }
  get removed(): boolean {
    return this.#removed
  }
  get requeueLength(): number {
    return this.#requeue.length
  }
  /** I/Os submitted and not yet settled. */
  get pending(): number {
    return this.#inflight
  }
  get currentPathId(): string | undefined {
    return this.#current
  }

  addPath(path: NsPath): void {
    if (this.#removed) throw new ConnectionError(`head ${this.id} was removed`)
    this.#paths.push(path)
    if (this.#removalTimer !== undefined) {
      this.#clock.clearTimeout(this.#removalTimer)
      this.#removalTimer = undefined
    }
    this.kick()
  }

  /**
   * A path leaves (controller deleted, namespace gone or remapped). Writes waiting in its throttle are
   * released back to the head (they were never charged). When the last path leaves, the head is
   * removed now, or after `delayedRemovalMs` with I/O kept queued (queue-if-no-path).
   */
  removePath(path: NsPath): void {
    const i = this.#paths.indexOf(path)
    if (i < 0) return
    this.#paths.splice(i, 1)
    if (this.#current === path.id) this.#current = undefined
    path.markDeleted()
    path.qos.cancel(new AbortedError(`path ${path.id} removed`))
    if (this.#paths.length === 0) {
      if (this.#o.delayedRemovalMs > 0) {
        // Not unref'd: queued I/O waits on it, so the process must stay up until it fires.
        this.#removalTimer ??= this.#clock.setTimeout(() => this.remove(), this.#o.delayedRemovalMs)
      } else {
        this.remove()
        return
      }
    }
    this.kick()
  }

  /** Remove the head: every queued I/O fails. Idempotent. */
  remove(): void {
    if (this.#removed) return
    this.#removed = true
    if (this.#removalTimer !== undefined) this.#clock.clearTimeout(this.#removalTimer)
    if (this.#requeueTimer !== undefined) clearImmediate(this.#requeueTimer)
    this.#removalTimer = undefined
    this.#requeueTimer = undefined
    for (const p of this.#paths.splice(0)) {
      p.markDeleted()
      p.qos.cancel(new AbortedError(`head ${this.id} removed`))
    }
    for (const io of this.#requeue.splice(0)) this.#fail(io, new ConnectionError(`device ${this.id} removed - failing I/O`))
    this.#o.onRemoved?.(this)
  }

  /** Something about the paths changed (state, ANA): drop a stale current path and rerun the requeue list. */
  pathsChanged(): void {
    const cur = this.#paths.find((p) => p.id === this.#current)
    if (cur === undefined || !cur.usable) this.#current = undefined
    this.kick()
  }

  submit(io: HostIo): void {
    this.counters.submitted++
    this.#inflight++
    io.device = this
    if (this.#removed) {
      this.#fail(io, new ConnectionError(`device ${this.id} removed`))
      return
    }
    this.#dispatch(io)
  }

  /** Schedule a run of the requeue list (Linux `kblockd_schedule_work(&head->requeue_work)`). */
  kick(): void {
    if (this.#requeueTimer !== undefined || this.#requeue.length === 0 || this.#removed) return
    // The next turn of the event loop, not a 0 ms timer: Node runs those after at least 1 ms, which
    // was most of a failover's latency (docs/performance.md). Still asynchronous, so a path that
    // fails at once cannot spin the requeue list inside one turn.
    this.#requeueTimer = setImmediate(() => {
      this.#requeueTimer = undefined
      const list = this.#requeue.splice(0)
      for (const io of list) this.#dispatch(io)
    })
  }

  /** Some path may still come back: a controller live, resetting or connecting and not fast-failed. */
  #availablePath(): boolean {
    if (this.#paths.length === 0) return this.#removalTimer !== undefined
    return this.#paths.some((p) => !p.backend.failfastExpired && controllerMayComeBack(p.backend.state))
  }

  #dispatch(io: HostIo): void {
    const path = selectPath(this.policy, this.#paths, this.#current)
    if (path === undefined) {
      if (this.#availablePath()) {
        // "no usable path - requeuing I/O"; the next path change kicks the list.
        this.counters.requeued++
        this.#requeue.push(io)
        return
      }
      this.counters.noPathFailures++
      this.#fail(io, new ConnectionError(`${this.id}: no available path - failing I/O`))
      return
    }
    this.#current = path.id
    this.#issueOn(path, io)
  }

  #issueOn(path: NsPath, io: HostIo): void {
    io.device = path
    io.history.push(path.id)
    // Admitted at once (no write throttle, or under its limit): issue in this turn, no microtask.
    const waiting = path.qos.throttle(io)
    if (waiting === undefined) this.#admitted(path, io)
    else {
      waiting.then(
        () => this.#admitted(path, io),
        () => {
          // Released from the throttle because the path is going away; no charge was made.
          io.device = this
          this.#park(io)
        },
      )
    }
  }

  #admitted(path: NsPath, io: HostIo): void {
    if (!path.usable) {
      // The path went away (or lost its ANA state) while the write waited in its throttle: give the
      // charge back and choose again instead of sending into a known-bad path.
      completeQosCharge(io, path)
      io.device = this
      this.#park(io)
      return
    }
    path.qos.track(io)
    this.#sendRequest(path, io)
  }

  #sendRequest(path: NsPath, io: HostIo): void {
    path.qos.issue(io)
    path.counters.issued++
    const b = path.backend
    // The callback form when the backend has it (HostController): no promise, no microtask per I/O.
    if (b.sendIo !== undefined) b.sendIo(path.nsid, io, (res) => this.#onResult(path, io, res))
    else void b.executeIo(path.nsid, io).then((res) => this.#onResult(path, io, res))
  }

  #onResult(path: NsPath, io: HostIo, res: IoResult): void {
    path.qos.done(io, res.status)
    if (res.status === 0) {
      path.counters.completed++
      if (io.op === 'read') path.counters.bytesRead += io.length
      else if (io.op === 'write') path.counters.bytesWritten += io.length
      this.#complete(io, res.data ?? Buffer.alloc(0))
      return
    }
    path.counters.errors++
    const d = decideDisposition({
      status: res.status,
      retries: io.retries,
      maxRetries: this.#o.maxRetries,
      multipath: true,
      crdDelaysMs: [0, path.backend.crdDelayMs(1), path.backend.crdDelayMs(2), path.backend.crdDelayMs(3)],
    })
    switch (d.action) {
      case 'failover':
        this.failover(io, path, res.status)
        return
      case 'retry': {
        io.retries++
        path.counters.retries++
        this.counters.retries++
        const delay = d.delayMs > 0 ? d.delayMs : path.backend.crdDelayMs(statusCrd(res.status))
        this.#clock.setTimeout(() => {
          // A retry goes back to the same path (request-level requeue keeps its QoS charge); a path
          // that went away meanwhile fails the I/O over instead.
          if (path.usable) this.#sendRequest(path, io)
          else this.failover(io, path, res.status)
        }, delay)
        return
      }
      case 'authenticate': {
        // Linux nvme_complete_rq AUTHENTICATE: re-authenticate the controller, then retry the request.
        const reauth = path.backend.reauthenticate
        if (reauth === undefined) break
        io.retries++
        path.counters.retries++
        this.counters.retries++
        reauth.call(path.backend).then(
          () => (path.usable ? this.#sendRequest(path, io) : this.failover(io, path, res.status)),
          () => this.failover(io, path, res.status),
        )
        return
      }
    }
    this.#fail(io, new NvmeStatusError(res.status, { cid: res.cid ?? 0, qid: res.qid ?? 0, name: statusName(res.status, 'io') }))
  }

  /**
   * Fail an I/O over from `path` to this head (Linux `nvme_failover_req`): clear the current path, mark
   * the path ANA-pending and ask for an ANA log read on ANA errors, complete the QoS charge on the
   * charging path and clear the flags, then park the I/O on the requeue list and kick it.
   */
  failover(io: HostIo, path: NsPath, status: number): void {
    if (this.#current === path.id) this.#current = undefined
    if (isAnaError(status)) {
      path.setAnaPending()
      path.backend.requestAnaRead()
    }
    if (this.#clearQosFlagsOnFailover) completeQosCharge(io, path)
    io.device = this
    io.failovers++
    path.counters.failovers++
    this.counters.failovers++
    const ev: FailoverEvent = { hostId: this.#o.hostId, headId: this.id, pathId: path.id, ioId: io.id, status }
    publish(CHANNELS.failover, ev)
    this.#park(io)
  }

  /** Put an I/O on the requeue list; a removed head has none, so the I/O fails there and then. */
  #park(io: HostIo): void {
    if (this.#removed) {
      this.#fail(io, new ConnectionError(`device ${this.id} removed - failing I/O`))
      return
    }
    this.counters.requeued++
    this.#requeue.push(io)
    this.kick()
  }

  /** Final completion: the charge completes against the device the I/O sits on now. */
  #finishQos(io: HostIo): void {
    if (!hasQosFlags(io)) return
    const chain = io.device.qos
    if (chain === undefined) {
      // Linux dereferenced the head's NULL rq_qos here (anchors 0.1); we report and carry on.
      this.#o.checker?.report({
        kind: 'no-qos-completion',
        ioId: io.id,
        pathId: io.qos.chargedBy ?? '?',
        message: `I/O ${io.id} flagged by ${io.qos.chargedBy ?? '?'} completes on ${io.device.kind} ${io.device.id}, which has no QoS`,
      })
    } else {
      chain.doneIo(io)
    }
    io.qos = emptyQosFlags()
  }

  #complete(io: HostIo, data: Buffer): void {
    if (io.settled) return
    this.#finishQos(io)
    io.settled = true
    this.#inflight--
    this.counters.completed++
    io.resolve(data)
  }

  #fail(io: HostIo, err: Error): void {
    if (io.settled) return
    this.#finishQos(io)
    io.settled = true
    this.#inflight--
    this.counters.failed++
    io.reject(err)
  }

  stats(): Record<string, unknown> {
    return {
      id: this.id,
      nsid: this.nsid,
      policy: this.policy,
      currentPath: this.#current,
      requeue: this.#requeue.length,
      pending: this.#inflight,
      ...this.counters,
      paths: this.#paths.map((p) => p.stats()),
    }
  }
}

/** Complete an I/O's QoS charge on the path that made it and clear its flags (the nvme/058 fix). */
export function completeQosCharge(io: HostIo, path: NsPath): void {
  if (hasQosFlags(io)) path.qos.doneIo(io)
  io.qos = emptyQosFlags()
}
