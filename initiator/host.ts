/**
 * The NVMe/TCP host: owns controllers, groups them by subsystem, and builds one multipath head (and
 * one {@link NvmeDevice}) per namespace identity across the controllers of a subsystem (Linux
 * `nvme_ns_head`, anchors 3.1). It reacts to what controllers report: namespace scans (join a head,
 * or, when an NSID comes back with different identifiers, remove the old device and create a new
 * one), ANA updates, controller state changes (a controller that comes back rejoins its heads) and
 * fast-fail expiry.
 */
import type { Logger } from 'pino'
import { seededRandom, systemClock, type Clock, type Random } from '../lib/clock.js'
import { ConnectionError, InvalidArgumentError, InvalidStateError } from '../lib/errors.js'
import { CHANNELS, publish, type DeviceEvent } from './events.js'
import { HostController, type ControllerOwner, type ScannedNamespace } from './controller.js'
import { validateControllerOptions, type ControllerConnectOptions } from './controller-options.js'
import { readDiscoveryLog, type DiscoveredEntry, type DiscoveryLogView, type ReadDiscoveryLogOptions } from './discovery.js'
import { walkDiscovery } from './discovery-walk.js'
import { DISCOVERY_NQN } from '../lib/nvme/nqn.js'
import { DiscoverySubtype, TransportType } from '../lib/nvme/log-discovery.js'
import type { ControllerStateValue } from './controller-state.js'
import { NvmeDevice } from './device.js'
import { MultipathHead } from './multipath-head.js'
import { nsIdsEqual, nsIdsKey } from './ns-ids.js'
import { NsPath } from './ns-path.js'
import type { IoPolicy } from './path-selector.js'
import type { QosPolicy } from './qos/chain.js'
import { QosInvariantChecker, type InvariantViolation } from './qos/invariant-checker.js'
import { LatencyTracker } from './qos/latency-tracker.js'
import { WriteThrottle } from './qos/write-throttle.js'
import { resolveHostOptions, type HostOptions } from './host-options.js'

export type { HostOptions } from './host-options.js'

interface SubsystemEntry {
  subnqn: string
  controllers: Set<HostController>
  heads: Set<MultipathHead>
  /** Controllers that skipped a namespace because a live head still had the old identifiers. */
  skipped: Set<HostController>
}

export class NvmeHost implements ControllerOwner {
  readonly hostnqn: string
  readonly hostid: string
  readonly id: string
  readonly checker: QosInvariantChecker | undefined
  readonly #o: HostOptions
  readonly #clock: Clock
  readonly #random: Random
  readonly #log: Logger | undefined
  readonly #subsystems = new Map<string, SubsystemEntry>()
  readonly #paths = new Map<HostController, Map<number, NsPath>>()
  readonly #devices = new Map<MultipathHead, NvmeDevice>()
  readonly #discoveryHandlers = new Map<HostController, () => void>()
  readonly #iopolicy: IoPolicy
  readonly #maxRetries: number
  readonly #delayedRemovalMs: number
  #ioSeq = 0
  #headSeq = 0
  #ctrlSeq = 0
  #closed = false

  constructor(options: HostOptions = {}) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object')
    this.#o = options
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? seededRandom(`nvmf-fault-host:${performance.timeOrigin}`)
    this.#log = options.logger
    const r = resolveHostOptions(options, this.#random, this.#clock)
    this.hostid = r.hostid
    this.hostnqn = r.hostnqn
    this.id = this.hostnqn
    this.#iopolicy = r.iopolicy
    this.#maxRetries = r.maxRetries
    this.#delayedRemovalMs = r.delayedRemovalMs
    this.checker = options.checkInvariants === true ? new QosInvariantChecker({ throwOnViolation: options.throwOnViolation === true }) : undefined
  }

  get clock(): Clock {
    return this.#clock
  }

  /** Connect a controller (admin + I/O queues); resolves when it is LIVE and its namespaces scanned. */
  async connect(options: ControllerConnectOptions): Promise<HostController> {
    if (this.#closed) throw new InvalidStateError('host is closed')
    const ctrl = this.#newController(options, false)
    const subnqn = ctrl.options.subnqn
    let sub = this.#subsystems.get(subnqn)
    if (sub === undefined) {
      sub = { subnqn, controllers: new Set(), heads: new Set(), skipped: new Set() }
      this.#subsystems.set(subnqn, sub)
    }
    sub.controllers.add(ctrl)
    this.#paths.set(ctrl, new Map())
    try {
      await ctrl.start()
    } catch (err) {
      sub.controllers.delete(ctrl)
      this.#paths.delete(ctrl)
      throw err
    }
    return ctrl
  }

  #newController(options: ControllerConnectOptions, discovery: boolean): HostController {
    const resolved = validateControllerOptions({ ...this.#o.controllerDefaults, ...options })
    const name = `${discovery ? 'd' : 'c'}${++this.#ctrlSeq}@${resolved.traddr}:${resolved.trsvcid}`
    return new HostController({
      ...resolved,
      hostnqn: this.hostnqn,
      hostid: Buffer.from(this.hostid.replace(/-/g, ''), 'hex'),
      clock: this.#clock,
      random: this.#random,
      logger: this.#log,
      owner: this,
      hostId: this.id,
      name,
      discovery,
    })
  }

  /**
   * Read the discovery log of `traddr:trsvcid` (one-shot discovery controller, KATO 0), following
   * referrals up to `maxReferralDepth` (default 4). Entries are deduplicated. `onLog` sees each
   * discovery log as read, with its generation counter (what `discover -o json` prints).
   */
  async discover(
    options: { traddr: string; trsvcid?: number; maxReferralDepth?: number; hdgst?: boolean; ddgst?: boolean; onLog?: (source: string, log: DiscoveryLogView) => void } & ReadDiscoveryLogOptions,
  ): Promise<DiscoveredEntry[]> {
    return walkDiscovery(options, (traddr, trsvcid) => this.#newController({ traddr, trsvcid, subnqn: DISCOVERY_NQN, kato: 0, ...(options.hdgst !== undefined ? { hdgst: options.hdgst } : {}), ...(options.ddgst !== undefined ? { ddgst: options.ddgst } : {}) }, true), this.#log)
  }

  /** Discover, then connect every NVMe/TCP subsystem entry ("connect-all"). Failures are reported, not thrown. */
  async connectAll(options: { traddr: string; trsvcid?: number; controller?: Partial<ControllerConnectOptions> }): Promise<{ connected: HostController[]; failed: { entry: DiscoveredEntry; error: Error }[] }> {
    const entries = await this.discover({ traddr: options.traddr, ...(options.trsvcid !== undefined ? { trsvcid: options.trsvcid } : {}) })
    const connected: HostController[] = []
    const failed: { entry: DiscoveredEntry; error: Error }[] = []
    for (const e of entries) {
      if (e.subtype !== DiscoverySubtype.NVME || e.trtype !== TransportType.TCP) continue
      const port = Number.parseInt(e.trsvcid, 10)
      const already = this.controllers(e.subnqn).some((c) => c.options.traddr === e.traddr && c.options.trsvcid === port && c.state !== 'deleted')
      if (already) continue
      try {
        connected.push(await this.connect({ ...options.controller, traddr: e.traddr, trsvcid: port, subnqn: e.subnqn }))
      } catch (err) {
        failed.push({ entry: e, error: err as Error })
      }
    }
    return { connected, failed }
  }

  /**
   * A persistent discovery controller (KATO kept, AEN enabled): on every discovery-change AEN the log
   * is re-read and `onChange(entries)` called; with `autoConnect` new subsystem entries are connected.
   */
  async connectPersistentDiscovery(options: {
    traddr: string
    trsvcid?: number
    kato?: number
    autoConnect?: boolean
    controller?: Partial<ControllerConnectOptions>
    onChange?: (entries: DiscoveredEntry[]) => void
  }): Promise<{ controller: HostController; entries: DiscoveredEntry[]; close(): Promise<void> }> {
    const ctrl = this.#newController({ traddr: options.traddr, trsvcid: options.trsvcid ?? 8009, subnqn: DISCOVERY_NQN, kato: options.kato ?? 30_000 }, true)
    const src = `${options.traddr}:${options.trsvcid ?? 8009}`
    const read = async (): Promise<DiscoveredEntry[]> => (await readDiscoveryLog(ctrl)).entries.map((e) => ({ ...e, source: src }))
    const handle = async (entries: DiscoveredEntry[]): Promise<void> => {
      options.onChange?.(entries)
      if (options.autoConnect !== true) return
      for (const e of entries) {
        if (e.subtype !== DiscoverySubtype.NVME || e.trtype !== TransportType.TCP) continue
        const port = Number.parseInt(e.trsvcid, 10)
        if (this.controllers(e.subnqn).some((c) => c.options.traddr === e.traddr && c.options.trsvcid === port && c.state !== 'deleted')) continue
        await this.connect({ ...options.controller, traddr: e.traddr, trsvcid: port, subnqn: e.subnqn }).catch((err: unknown) => this.#log?.warn({ err }, 'auto-connect failed'))
      }
    }
    this.#discoveryHandlers.set(ctrl, () => {
      void read()
        .then(handle)
        .catch((err: unknown) => this.#log?.warn({ err }, 'discovery log re-read failed'))
    })
    await ctrl.start()
    const entries = await read()
    await handle(entries)
    return {
      controller: ctrl,
      entries,
      close: async () => {
        this.#discoveryHandlers.delete(ctrl)
        await ctrl.disconnect()
      },
    }
  }

  discoveryChanged(ctrl: HostController): void {
    this.#discoveryHandlers.get(ctrl)?.()
  }

  controllers(subnqn?: string): HostController[] {
    const out: HostController[] = []
    for (const s of this.#subsystems.values()) if (subnqn === undefined || s.subnqn === subnqn) out.push(...s.controllers)
    return out
  }

  /** Visible devices: heads that are fully built (at least one path) and not removed. */
  devices(subnqn?: string): NvmeDevice[] {
    const out: NvmeDevice[] = []
    for (const [head, dev] of this.#devices) if (!head.removed && head.paths.length > 0 && (subnqn === undefined || head.subnqn === subnqn)) out.push(dev)
    return out
  }

  device(nsid: number, subnqn?: string): NvmeDevice | undefined {
    return this.devices(subnqn).find((d) => d.nsid === nsid)
  }

  /** Resolves with the device once it is visible (bounded by `timeoutMs`). */
  waitForDevice(nsid: number, options: { subnqn?: string; timeoutMs?: number } = {}): Promise<NvmeDevice> {
    const timeoutMs = options.timeoutMs ?? 10_000
    const start = this.#clock.now()
    return new Promise((resolve, reject) => {
      const poll = (): void => {
        const d = this.device(nsid, options.subnqn)
        if (d !== undefined) resolve(d)
        else if (this.#clock.now() - start > timeoutMs) reject(new ConnectionError(`no device for nsid ${nsid} within ${timeoutMs} ms`))
        else this.#clock.setTimeout(poll, 5)
      }
      poll()
    })
  }

  // ------------------------------------------------------------------------------------------
  // ControllerOwner

  controllerStateChanged(ctrl: HostController, _from: ControllerStateValue, to: ControllerStateValue): void {
    const paths = this.#paths.get(ctrl)
    if (paths === undefined) return
    if (to === 'deleted') {
      for (const p of paths.values()) this.#removePath(ctrl, p)
      this.#paths.delete(ctrl)
      for (const s of this.#subsystems.values()) s.controllers.delete(ctrl)
      return
    }
    for (const p of paths.values()) {
      p.refresh()
      this.#headOf(p)?.pathsChanged()
    }
  }

  anaUpdated(ctrl: HostController): void {
    const paths = this.#paths.get(ctrl)
    if (paths === undefined) return
    for (const p of paths.values()) {
      p.setAnaState(ctrl.anaStateOf(p.anagrpid))
      this.#headOf(p)?.pathsChanged()
    }
  }

  failfastExpired(ctrl: HostController): void {
    for (const p of this.#paths.get(ctrl)?.values() ?? []) this.#headOf(p)?.pathsChanged()
  }

  namespacesScanned(ctrl: HostController, namespaces: ScannedNamespace[], unidentified: readonly number[] = []): void {
    const paths = this.#paths.get(ctrl)
    const sub = this.#subsystems.get(ctrl.options.subnqn)
    if (paths === undefined || sub === undefined) return
    const byNsid = new Map(namespaces.map((n) => [n.nsid, n]))
    // Paths whose namespace vanished or came back with other identifiers go first (a remap: the
    // kernel's "IDs don't match" → remove the old namespace, then allocate a new one). A namespace
    // whose Identify failed this time is left as it is (namespace-scan.ts).
    for (const [nsid, p] of [...paths]) {
      if (unidentified.includes(nsid)) continue
      const n = byNsid.get(nsid)
      const head = this.#headOf(p)
      if (n === undefined || head === undefined || !nsIdsEqual(n.ids, head.ids) || n.blockSize !== head.blockSize) {
        this.#removePath(ctrl, p)
      } else if (n.nsze !== head.nsze) {
        head.nsze = n.nsze
      }
    }
    for (const n of namespaces) {
      if (paths.has(n.nsid)) continue
      let head = [...sub.heads].find((h) => h.nsid === n.nsid && !h.removed)
      if (head !== undefined && !nsIdsEqual(head.ids, n.ids)) {
        if (head.paths.length > 0) {
          // The kernel's "IDs don't match for shared namespace": not joined now; once the old head
          // is gone (its other paths rescanned), this controller rescans and joins the new one.
          this.#log?.warn({ nsid: n.nsid, ctrl: ctrl.id }, "IDs don't match for shared namespace")
          sub.skipped.add(ctrl)
          continue
        }
        head.remove()
        head = undefined
      }
      const isNew = head === undefined
      if (head === undefined) head = this.#createHead(sub, n)
      const path = new NsPath({
        hostId: this.id,
        headId: head.id,
        backend: ctrl,
        nsid: n.nsid,
        anagrpid: n.anagrpid,
        anaState: ctrl.anaStateOf(n.anagrpid),
        clock: this.#clock,
        qosPolicies: this.#qosPolicies(),
        checker: this.checker,
        distance: ctrl.options.distance,
      })
      paths.set(n.nsid, path)
      head.addPath(path)
      if (isNew) {
        // Visible only now that it has a path (fully built).
        const ev: DeviceEvent = { hostId: this.id, headId: head.id, action: 'added', nsid: n.nsid }
        publish(CHANNELS.device, ev)
      }
    }
  }

  #qosPolicies(): QosPolicy[] {
    const out: QosPolicy[] = []
    const wt = this.#o.qos?.writeThrottle
    if (wt !== false) out.push(new WriteThrottle({ ...(wt ?? {}), clock: this.#clock }))
    if (this.#o.qos?.latency !== false) out.push(new LatencyTracker())
    return out
  }

  #createHead(sub: SubsystemEntry, n: ScannedNamespace): MultipathHead {
    const head = new MultipathHead({
      hostId: this.id,
      id: `${sub.subnqn}/n${n.nsid}#${++this.#headSeq}`,
      subnqn: sub.subnqn,
      nsid: n.nsid,
      ids: n.ids,
      blockSize: n.blockSize,
      nsze: n.nsze,
      policy: this.#iopolicy,
      clock: this.#clock,
      maxRetries: this.#maxRetries,
      checker: this.checker,
      delayedRemovalMs: this.#delayedRemovalMs,
      ...(this.#o.internal !== undefined ? { internal: this.#o.internal } : {}),
      onRemoved: (h) => {
        sub.heads.delete(h)
        this.#devices.delete(h)
        const retry = [...sub.skipped]
        sub.skipped.clear()
        for (const c of retry) if (c.state === 'live') void c.rescan().catch(() => undefined)
        const ev: DeviceEvent = { hostId: this.id, headId: h.id, action: 'removed', nsid: h.nsid }
        publish(CHANNELS.device, ev)
      },
    })
    this.#log?.debug({ head: head.id, ids: nsIdsKey(n.ids) }, 'new multipath head')
    sub.heads.add(head)
    this.#devices.set(head, new NvmeDevice({ head, clock: this.#clock, nextIoId: () => ++this.#ioSeq }))
    return head
  }

  #headOf(p: NsPath): MultipathHead | undefined {
    for (const h of this.#devices.keys()) if (h.paths.includes(p)) return h
    return undefined
  }

  #removePath(ctrl: HostController, p: NsPath): void {
    this.#paths.get(ctrl)?.delete(p.nsid)
    const head = this.#headOf(p)
    if (head !== undefined) head.removePath(p)
    else if (p.state !== 'deleted') p.markDeleted()
  }

  /** Disconnect one controller cleanly (CC.SHN); its paths leave their heads. */
  async disconnect(ctrl: HostController): Promise<void> {
    await ctrl.disconnect()
  }

  /** Disconnect everything. */
  async close(): Promise<void> {
    this.#closed = true
    const discovery = [...this.#discoveryHandlers.keys()]
    this.#discoveryHandlers.clear()
    await Promise.all([...this.controllers(), ...discovery].map((c) => c.disconnect().catch(() => undefined)))
    for (const h of [...this.#devices.keys()]) h.remove()
  }

  /** Run the quiescence check over every path ever created and still known; returns the violations. */
  checkQuiescent(): InvariantViolation[] {
    if (this.checker === undefined) return []
    const chains = []
    for (const m of this.#paths.values()) for (const p of m.values()) chains.push(p.qos)
    return this.checker.checkQuiescent(chains)
  }

  stats(): Record<string, unknown> {
    return {
      hostnqn: this.hostnqn,
      controllers: this.controllers().map((c) => c.stats()),
      devices: this.devices().map((d) => d.stats()),
      invariantViolations: this.checker?.violations.length ?? null,
    }
  }
}
