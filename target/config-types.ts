/**
 * The target configuration's shapes: what a config file (or `createTarget` options) may say
 * (`TargetConfig` and its parts) and what validation makes of it (`Resolved*`, every default
 * filled). target/config-validate.ts turns the one into the other.
 */
import type { AnaStateName } from '../lib/nvme/log-ana.js'
import type { HostAuthConfig, ResolvedHostAuth } from './config-auth.js'
import type { LimitsConfig, ResolvedLimits } from './limits.js'

export interface PortConfig {
  /** Port id (PORTID in the discovery log), unique, 0..65535. */
  id: number
  /** Address to bind. */
  address: string
  /** TCP port to bind (0 = any free port). */
  port: number
  /** What discovery log entries advertise, when it differs from the bound address (NAT, VMs). */
  advertise?: { address?: string; port?: number }
  /** Serve the discovery subsystem on this port (default true). */
  discovery?: boolean
  /** Subsystem NQNs exposed on this port (default: all). */
  subsystems?: string[]
  /** ANA state per group on this port, e.g. `{ "1": "optimized" }` (unlisted groups: optimized). */
  anaStates?: Record<string, AnaStateName>
}

export interface NamespaceConfig {
  nsid: number
  /** Size in bytes, or a string such as "1GiB", "512MiB", "64M". */
  size: number | string
  /** Logical block size: 512 or 4096 (default 512). */
  blockSize?: number
  /** Backing store: memory (default, sparse) or a file. */
  store?: 'memory' | { type: 'memory' } | { type: 'file'; path: string }
  uuid?: string
  /** 32 hex digits. */
  nguid?: string
  /** ANA group (default 1). */
  anaGroup?: number
  /** Default true; a disabled namespace answers I/O with Internal Path Error. */
  enabled?: boolean
}

export interface SubsystemConfig {
  nqn: string
  serial?: string
  model?: string
  firmware?: string
  /** Default: true when `hosts` is empty or absent. */
  allowAnyHost?: boolean
  /** Allowed host NQNs. */
  hosts?: string[]
  /** ANA group ids of this subsystem (default [1], plus every group a namespace uses). */
  anaGroups?: number[]
  /** Highest I/O queue id a controller may create (default 8). */
  maxIoQueues?: number
  namespaces?: NamespaceConfig[]
}

export interface HostConfig extends HostAuthConfig {
  nqn: string
}

export interface ReferralConfig {
  /** Port on whose discovery log the referral appears (default: every discovery port). */
  portId?: number
  address: string
  port: number
  /** Referred discovery NQN (default the well-known one). */
  subnqn?: string
  /** PORTID put in the entry (default 0). */
  remotePortId?: number
}

export interface TargetConfig {
  ports: PortConfig[]
  subsystems?: SubsystemConfig[]
  hosts?: HostConfig[]
  referrals?: ReferralConfig[]
  /** ms a new connection may take to send ICReq before it is closed (default 10000). */
  icReqTimeoutMs?: number
  /** Largest accepted SQSIZE+1 (CAP.MQES+1), default 1024. */
  maxQueueSize?: number
  /** In-capsule data accepted on I/O queues (IOCCSZ), default 16384. */
  inlineDataSize?: number
  /** MAXH2CDATA advertised in ICResp, default 131072. */
  maxH2CData?: number
  /** MDTS exponent (max transfer 2^mdts * 4 KiB), default 8 (1 MiB). */
  mdts?: number
  /** Inbound bytes buffered per connection before its socket is paused, default 4 MiB. */
  maxBufferedBytes?: number
  /** Resource limits (target/limits.ts). */
  limits?: LimitsConfig
}

export interface ResolvedNamespace {
  nsid: number
  sizeBytes: number
  blockSize: number
  store: { type: 'memory' } | { type: 'file'; path: string }
  uuid: string | undefined
  nguid: string | undefined
  anaGroup: number
  enabled: boolean
}
export interface ResolvedSubsystem {
  nqn: string
  serial: string | undefined
  model: string
  firmware: string
  allowAnyHost: boolean
  hosts: string[]
  anaGroups: number[]
  maxIoQueues: number
  namespaces: ResolvedNamespace[]
}
export interface ResolvedPort {
  id: number
  address: string
  port: number
  advertise: { address: string | undefined; port: number | undefined }
  discovery: boolean
  subsystems: string[] | undefined
  anaStates: Map<number, AnaStateName>
}
export interface ResolvedConfig {
  ports: ResolvedPort[]
  subsystems: ResolvedSubsystem[]
  hosts: string[]
  /** DH-HMAC-CHAP settings of the hosts that have a dhchapKey. */
  hostAuth: ResolvedHostAuth[]
  referrals: ReferralConfig[]
  icReqTimeoutMs: number
  maxQueueSize: number
  inlineDataSize: number
  maxH2CData: number
  mdts: number
  maxBufferedBytes: number
  limits: ResolvedLimits
}
