/**
 * The public contract of an in-process target: what `createTarget(options)` takes (`TargetOptions`)
 * and the handle it returns (`TargetHandle`) with the option objects of its run-time changes. Kept
 * apart from the implementation (target/running-target.ts) so the API reads in one place.
 */
import type { Logger } from 'pino'
import type { Clock, Random } from '../lib/clock.js'
import type { AnaStateName, NamespaceConfig, PortConfig, ReferralConfig, SubsystemConfig, TargetConfig } from './config.js'
import type { ExportConfigOptions, NvmetcliDocument } from './config-export.js'
import type { HostAuthConfig } from './config-auth.js'
import type { TargetHooks } from './core/hooks.js'
import type { TargetAuthCounters } from './cmd/auth.js'
import type { QueueEvent, StoreWrapper } from './core/target-core.js'
import type { ControllerEvent, TargetStatus } from './state-names.js'
import type { BoundPort, ConnectionStats } from './transport/tcp.js'

export interface TargetOptions extends TargetConfig {
  /** pino logger (default: silent). */
  logger?: Logger
  clock?: Clock
  random?: Random
  hooks?: TargetHooks
  /** Log every PDU at trace level. */
  tracePdu?: boolean
  /** Store seam: wrap each namespace store as it is opened (the conformance write journal uses it). */
  wrapStore?: StoreWrapper
}

export interface SetAnaStateOptions {
  portId: number
  grpid: number
  state: AnaStateName
  /** Only this subsystem (default: every subsystem that has the group). */
  subnqn?: string
}

export interface ControllerFilter {
  subnqn?: string
  hostnqn?: string
  portId?: number
  cntlid?: number
}

export interface RaiseAenOptions {
  type: 'ns-changed' | 'ana-change' | 'discovery-change'
  /** Only this controller (default: all that the type applies to). */
  cntlid?: number
  subnqn?: string
  /** ns-changed: the NSID put into the Changed Namespace List (default 1). */
  nsid?: number
  /** Ignore the "masked until the log is read" rule (rescan storms). Default true. */
  force?: boolean
}

export interface TargetHandle {
  /** Bound addresses (the actual port after `listen(0)`). */
  readonly ports: BoundPort[]
  close(): Promise<void>
  status(): TargetStatus
  /** The live configuration (after run-time changes) as a native or nvmetcli config document. */
  exportConfig(options?: ExportConfigOptions): TargetConfig | NvmetcliDocument
  setAnaState(o: SetAnaStateOptions): void
  addNamespace(subnqn: string, ns: NamespaceConfig): Promise<void>
  removeNamespace(subnqn: string, nsid: number): Promise<void>
  enableNamespace(subnqn: string, nsid: number): void
  disableNamespace(subnqn: string, nsid: number): void
  /** Only while disabled (nvmet rule). */
  setNamespaceUuid(subnqn: string, nsid: number, uuid: string): void
  /** Only while disabled (nvmet rule). */
  setNamespaceNguid(subnqn: string, nsid: number, nguid: string): void
  setNamespaceGroup(subnqn: string, nsid: number, grpid: number): void
  resizeNamespace(subnqn: string, nsid: number, blocks: number | bigint): Promise<void>
  /** Test access to a namespace's store. */
  readNamespace(subnqn: string, nsid: number, offsetBytes: number, length: number): Promise<Buffer>
  addPort(port: PortConfig): Promise<BoundPort>
  removePort(portId: number): Promise<void>
  /** Add an NVM subsystem at run time (the config-file shape; exposed on ports that expose all). */
  addSubsystem(s: SubsystemConfig): Promise<void>
  /** Remove a subsystem: its controllers are deleted and its namespaces closed. */
  removeSubsystem(subnqn: string): Promise<void>
  /** Allow (add) or disallow (remove) a host NQN on a subsystem; adding turns off allow-any-host. */
  setSubsystemHost(subnqn: string, hostnqn: string, allowed: boolean): void
  /**
   * Expose (link) or hide (unlink) a subsystem on a port, as nvmet's ports/<id>/subsystems links. A
   * port that exposes every subsystem gets an explicit list on its first unlink. Unlinking deletes the
   * subsystem's controllers on that port. Returns false when nothing changed (already so).
   */
  setPortSubsystem(portId: number, subnqn: string, exposed: boolean): boolean
  /**
   * Change a subsystem's I/O queue limit (nvmet attr_qid_max) and delete its controllers, so hosts
   * reconnect and get the new count. Returns how many controllers were deleted.
   */
  setSubsystemMaxIoQueues(subnqn: string, maxIoQueues: number): number
  /**
   * Give a host DH-HMAC-CHAP keys (the config's top-level `hosts` entry, nvmet hosts/<nqn>/dhchap_*)
   * or new ones: its next Connects authenticate with them; bound queues keep what they negotiated.
   */
  setHostAuth(hostnqn: string, auth: HostAuthConfig): void
  /**
   * Change only the given DH-HMAC-CHAP settings of a host, keeping the others (nvmet writes one
   * hosts/<nqn>/dhchap_* attribute at a time). A host without keys needs `dhchapKey`.
   */
  updateHostAuth(hostnqn: string, auth: HostAuthConfig): void
  /** Forget a host's keys: its next Connects need no authentication. False when it had none. */
  removeHostAuth(hostnqn: string): boolean
  /** Returns the referral id. */
  addReferral(r: ReferralConfig): number
  removeReferral(id: number): boolean
  /** Delete matching controllers (their connections close; hosts reconnect). Returns how many. */
  deleteControllers(filter?: ControllerFilter): number
  /** Set CSTS.CFS on a controller (nvmet debugfs "fatal"). */
  setControllerFatal(cntlid: number): void
  /** Raise an AEN now; returns the number of controllers it was queued on. */
  raiseAen(o: RaiseAenOptions): number
  setHooks(hooks: TargetHooks | undefined): void
  /** Receive-side state of every open connection: bytes held against limits.maxBufferedBytes, waits, pauses. */
  connectionStats(): ConnectionStats[]
  /**
   * Re-authentication on request: the matching controllers' authenticating queues answer commands
   * with Authentication Required (no DNR) until the host authenticates them again. Returns how many
   * queues were affected.
   */
  requestReauthentication(filter?: ControllerFilter): number
  /** DH-HMAC-CHAP counters: transactions, successes, failures by reason, commands refused before authentication. */
  authCounters(): TargetAuthCounters
  on(event: 'controller', listener: (e: ControllerEvent) => void): this
  on(event: 'queue', listener: (e: QueueEvent) => void): this
  off(event: 'controller', listener: (e: ControllerEvent) => void): this
  off(event: 'queue', listener: (e: QueueEvent) => void): this
  once(event: 'controller', listener: (e: ControllerEvent) => void): this
  once(event: 'queue', listener: (e: QueueEvent) => void): this
}
