/**
 * One path of a multipath head: a namespace as seen through one controller (Linux `nvme_ns` under a
 * `nvme_ns_head`). It owns the per-path QoS chain and derives its {@link PathState} from the
 * controller state and the ANA state of its group.
 */
import { AnaState } from '../lib/ana.js'
import type { Clock } from '../lib/clock.js'
import type { ControllerStateValue } from './controller-state.js'
import { CHANNELS, publish, type PathStateEvent } from './events.js'
import type { HostIo, IoDevice } from './host-io.js'
import { PathState, PathStateMachine, type PathStateValue } from './path-state.js'
import type { SelectablePath } from './path-selector.js'
import { QosChain, type QosPolicy } from './qos/chain.js'
import type { QosInvariantChecker } from './qos/invariant-checker.js'

/** Result of one request on the wire: NVMe status as data (0 = success). */
export interface IoResult {
  status: number
  /** Read data (exactly the requested length) when status is 0. */
  data?: Buffer
  /** Where the command ran (for error reports). */
  cid?: number
  qid?: number
}

/** What a path needs from its controller. Implemented by HostController (and by test scripts). */
export interface PathBackend {
  readonly id: string
  readonly state: ControllerStateValue
  /** fast_io_fail_tmo expired: queued I/O must not wait for this controller any more. */
  readonly failfastExpired: boolean
  /** Requests in flight on this controller (queue-depth policy). */
  readonly activeRequests: number
  /**
   * Issue one I/O command for `nsid`. Never rejects: NVMe errors come back as status, a lost or
   * torn-down queue as a host path status (0x370 Host Pathing Error, 0x371 Aborted By Host).
   */
  executeIo(nsid: number, io: HostIo): Promise<IoResult>
  /**
   * Optional: {@link executeIo} with a callback instead of a promise (no promise and no microtask per
   * I/O on the success path). `done` is called once, never from inside the call itself.
   */
  sendIo?(nsid: number, io: HostIo, done: (r: IoResult) => void): void
  /** Retry delay (ms) for CRD 1..3 (CRDT × 100 ms). */
  crdDelayMs(crd: number): number
  /** Schedule an ANA log re-read (after an ANA error). */
  requestAnaRead(): void
  /** Authenticate again (after Authentication Required without DNR); concurrent calls share one run. */
  reauthenticate?(): Promise<unknown>
}

export interface NsPathOptions {
  hostId: string
  headId: string
  backend: PathBackend
  nsid: number
  anagrpid: number
  anaState: number
  clock: Clock
  qosPolicies: readonly QosPolicy[]
  checker?: QosInvariantChecker | undefined
  /** numa-like distance (0 = preferred). */
  distance?: number
  onStateChange?: (path: NsPath, from: PathStateValue, to: PathStateValue) => void
}

export class NsPath implements IoDevice, SelectablePath {
  readonly kind = 'path'
  readonly id: string
  readonly nsid: number
  readonly backend: PathBackend
  readonly qos: QosChain
  readonly #hostId: string
  readonly #headId: string
  readonly #machine: PathStateMachine
  readonly #onStateChange: NsPathOptions['onStateChange']
  anagrpid: number
  #anaState: number
  #anaPending = false
  distance: number
  /** Requests completed on this path, and per-outcome counters for stats. */
  readonly counters = { issued: 0, completed: 0, errors: 0, failovers: 0, retries: 0, bytesRead: 0, bytesWritten: 0 }

  constructor(o: NsPathOptions) {
    this.backend = o.backend
    this.nsid = o.nsid
    this.id = `${o.backend.id}n${o.nsid}`
    this.anagrpid = o.anagrpid
    this.#anaState = o.anaState
    this.distance = o.distance ?? 1
    this.#hostId = o.hostId
    this.#headId = o.headId
    this.#onStateChange = o.onStateChange
    this.qos = new QosChain({ pathId: this.id, policies: o.qosPolicies, clock: o.clock, checker: o.checker })
    this.#machine = new PathStateMachine({
      name: this.id,
      onTransition: ({ from, to }) => {
        const ev: PathStateEvent = { hostId: this.#hostId, headId: this.#headId, pathId: this.id, from, to, anaState: this.#anaState }
        publish(CHANNELS.pathState, ev)
        this.#onStateChange?.(this, from, to)
      },
    })
    this.refresh()
  }

  get state(): PathStateValue {
    return this.#machine.state
  }
  get anaState(): number {
    return this.#anaState
  }
  get anaPending(): boolean {
    return this.#anaPending
  }
  get queueDepth(): number {
    return this.backend.activeRequests
  }
  get usable(): boolean {
    return this.backend.state === 'live' && !this.#anaPending && this.#machine.state !== PathState.DELETED
  }

  /** New ANA state from a freshly read log; clears ANA-pending. */
  setAnaState(state: number, anagrpid = this.anagrpid): void {
    this.#anaState = state
    this.anagrpid = anagrpid
    this.#anaPending = false
    this.refresh()
  }
  /** After an ANA error: exclude the path until the ANA log has been re-read (Linux NVME_NS_ANA_PENDING). */
  setAnaPending(): void {
    this.#anaPending = true
    this.refresh()
  }

  /** Re-derive the path state from controller + ANA state. */
  refresh(): void {
    if (this.#machine.state === PathState.DELETED) return
    const target = this.#derive()
    if (target === this.#machine.state) return
    if (!this.#machine.canTransition(target)) {
      // RECONNECTING → LIVE etc.: the controller passed through CONNECTING without us seeing it.
      if (this.#machine.canTransition(PathState.CONNECTING)) this.#machine.transition(PathState.CONNECTING)
      else if (this.#machine.canTransition(PathState.RECONNECTING)) this.#machine.transition(PathState.RECONNECTING)
      if (this.#machine.state !== target && this.#machine.canTransition(PathState.CONNECTING)) this.#machine.transition(PathState.CONNECTING)
    }
    if (this.#machine.canTransition(target)) this.#machine.transition(target)
  }
  markDeleted(): void {
    this.#machine.transition(PathState.DELETED)
  }

  #derive(): PathStateValue {
    switch (this.backend.state) {
      case 'new':
      case 'connecting':
        return PathState.CONNECTING
      case 'resetting':
      case 'reconnecting':
        return PathState.RECONNECTING
      case 'deleting':
      case 'deleted':
        return PathState.DELETED
      case 'live':
        if (this.#anaPending) return PathState.INACCESSIBLE
        if (this.#anaState === AnaState.OPTIMIZED) return PathState.LIVE
        if (this.#anaState === AnaState.NON_OPTIMIZED) return PathState.DEGRADED
        return PathState.INACCESSIBLE
    }
  }

  stats(): Record<string, unknown> {
    return {
      id: this.id,
      controller: this.backend.id,
      state: this.state,
      anaState: this.#anaState,
      anagrpid: this.anagrpid,
      anaPending: this.#anaPending,
      ...this.counters,
      qos: this.qos.stats(),
    }
  }
}
