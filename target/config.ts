/**
 * Target configuration: one YAML or JSON document (ports, subsystems, hosts, namespaces, ANA groups,
 * per-port ANA states, referrals). `parseTargetConfig` validates a plain object and fills defaults;
 * every error is a `ConfigError` whose `path` names the field (`subsystems[0].namespaces[1].size`).
 */
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../lib/errors.js'
import { isUuid } from '../lib/nvme/uuid.js'
import { nqnNameProblem, type NqnRole } from '../lib/nvme/nqn.js'
import { parseLimits, type LimitsConfig, type ResolvedLimits } from './limits.js'

import { ANA_STATE_NAMES, type AnaStateName } from '../lib/nvme/log-ana.js'
import { HOST_AUTH_KEYS, parseHostAuth, type HostAuthConfig, type ResolvedHostAuth } from './config-auth.js'

/** Highest subsystem maxIoQueues (nvmet's NVMET_NR_QUEUES, the bound of its attr_qid_max). */
/** Largest MDTS exponent nvmf-fault announces (2^12 x 4 KiB = 16 MiB per command). */
export const MAX_MDTS = 12
export const MAX_IO_QUEUES_LIMIT = 128
export { ANA_STATE_NAMES, type AnaStateName }

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

export const DEFAULT_SUBSYSTEM_NQN = 'nqn.2014-08.org.nvmf-fault:default'

/** The built-in default of `npm start`: two ports, one subsystem, one 1 GiB memory namespace. */
export function defaultTargetConfig(): TargetConfig {
  return {
    ports: [
      { id: 1, address: '127.0.0.1', port: 4420 },
      { id: 2, address: '127.0.0.1', port: 4421 },
    ],
    subsystems: [
      {
        nqn: DEFAULT_SUBSYSTEM_NQN,
        allowAnyHost: true,
        anaGroups: [1],
        namespaces: [{ nsid: 1, size: '1GiB', anaGroup: 1 }],
      },
    ],
  }
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1000, kb: 1000, kib: 1024,
  m: 1000 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1000 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
  t: 1000 ** 4, tb: 1000 ** 4, tib: 1024 ** 4,
}

/** "1GiB" → 1073741824. Returns a reason string on failure. */
export function parseSize(v: unknown): number | string {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v > 0 ? v : 'must be a positive integer number of bytes'
  if (typeof v !== 'string') return 'must be a number of bytes or a string such as "1GiB"'
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v)
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || unit === undefined) return `cannot parse size "${v}" (use e.g. 1073741824, "1GiB", "512MiB")`
  const n = Math.round(Number(m[1]) * unit)
  return Number.isSafeInteger(n) && n > 0 ? n : `size "${v}" out of range`
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}


function fail(path: string, reason: string): never {
  throw new ConfigError(path, reason)
}
function checkKeys(obj: Record<string, unknown>, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(path === '' ? k : `${path}.${k}`, `unknown field (expected one of: ${allowed.join(', ')})`)
  }
}
function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `must be an integer in [${min}, ${max}]`)
  return v
}
function optInt(v: unknown, path: string, min: number, max: number, dflt: number): number {
  return v === undefined ? dflt : int(v, path, min, max)
}
function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(path, 'must be a non-empty string')
  return v
}
function bool(v: unknown, path: string, dflt: boolean): boolean {
  if (v === undefined) return dflt
  if (typeof v !== 'boolean') fail(path, 'must be true or false')
  return v
}
function arr(v: unknown, path: string): unknown[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) fail(path, 'must be a list')
  return v
}
/** A subsystem or host name, by nvmet's rules (lib/nvme/nqn.ts: one definition for config, API and CLI). */
function nqn(v: unknown, path: string, role: NqnRole = 'subsystem'): string {
  const s = str(v, path)
  const p = nqnNameProblem(s, role)
  if (p !== undefined) fail(path, `NQN "${s.slice(0, 64)}" ${p}`)
  return s
}

function parsePort(v: unknown, path: string): ResolvedPort {
  if (!isObject(v)) fail(path, 'must be an object { id, address, port }')
  checkKeys(v, path, ['id', 'address', 'port', 'advertise', 'discovery', 'subsystems', 'anaStates'])
  const id = int(v.id, `${path}.id`, 0, 0xffff)
  const address = str(v.address, `${path}.address`)
  const port = int(v.port, `${path}.port`, 0, 65535)
  const advertise: ResolvedPort['advertise'] = { address: undefined, port: undefined }
  if (v.advertise !== undefined) {
    if (!isObject(v.advertise)) fail(`${path}.advertise`, 'must be an object { address?, port? }')
    checkKeys(v.advertise, `${path}.advertise`, ['address', 'port'])
    if (v.advertise.address !== undefined) advertise.address = str(v.advertise.address, `${path}.advertise.address`)
    if (v.advertise.port !== undefined) advertise.port = int(v.advertise.port, `${path}.advertise.port`, 1, 65535)
  }
  const subsystems = v.subsystems === undefined ? undefined : arr(v.subsystems, `${path}.subsystems`).map((s, i) => nqn(s, `${path}.subsystems[${i}]`))
  const anaStates = new Map<number, AnaStateName>()
  if (v.anaStates !== undefined) {
    if (!isObject(v.anaStates)) fail(`${path}.anaStates`, 'must be a map of ANA group id to state')
    for (const [k, s] of Object.entries(v.anaStates)) {
      const p = `${path}.anaStates.${k}`
      const g = Number(k)
      if (!Number.isInteger(g) || g < 1 || g > 128) fail(p, 'ANA group id must be an integer in [1, 128]')
      if (typeof s !== 'string' || !ANA_STATE_NAMES.includes(s as AnaStateName)) fail(p, `must be one of ${ANA_STATE_NAMES.join(', ')}`)
      anaStates.set(g, s as AnaStateName)
    }
  }
  return { id, address, port, advertise, discovery: bool(v.discovery, `${path}.discovery`, true), subsystems, anaStates }
}

export function parseNamespaceConfig(v: unknown, path: string): ResolvedNamespace {
  if (!isObject(v)) fail(path, 'must be an object { nsid, size, ... }')
  checkKeys(v, path, ['nsid', 'size', 'blockSize', 'store', 'uuid', 'nguid', 'anaGroup', 'enabled'])
  const nsid = int(v.nsid, `${path}.nsid`, 1, 1024)
  const size = parseSize(v.size)
  if (typeof size === 'string') fail(`${path}.size`, size)
  const blockSize = v.blockSize === undefined ? 512 : int(v.blockSize, `${path}.blockSize`, 512, 4096)
  if (blockSize !== 512 && blockSize !== 4096) fail(`${path}.blockSize`, 'must be 512 or 4096')
  if (size % blockSize !== 0) fail(`${path}.size`, `must be a multiple of the block size ${blockSize}`)
  let store: ResolvedNamespace['store'] = { type: 'memory' }
  if (v.store !== undefined && v.store !== 'memory') {
    if (!isObject(v.store)) fail(`${path}.store`, 'must be "memory", { type: "memory" } or { type: "file", path }')
    checkKeys(v.store, `${path}.store`, ['type', 'path'])
    if (v.store.type === 'file') store = { type: 'file', path: str(v.store.path, `${path}.store.path`) }
    else if (v.store.type !== 'memory') fail(`${path}.store.type`, 'must be "memory" or "file"')
  }
  let uuid: string | undefined
  if (v.uuid !== undefined) {
    uuid = str(v.uuid, `${path}.uuid`).toLowerCase()
    if (!isUuid(uuid)) fail(`${path}.uuid`, 'must be a UUID (8-4-4-4-12 hex digits)')
  }
  let nguid: string | undefined
  if (v.nguid !== undefined) {
    nguid = str(v.nguid, `${path}.nguid`).replace(/-/g, '').toLowerCase()
    if (!/^[0-9a-f]{32}$/.test(nguid)) fail(`${path}.nguid`, 'must be 32 hex digits')
  }
  const anaGroup = optInt(v.anaGroup, `${path}.anaGroup`, 1, 128, 1)
  return { nsid, sizeBytes: size, blockSize, store, uuid, nguid, anaGroup, enabled: bool(v.enabled, `${path}.enabled`, true) }
}

function parseSubsystem(v: unknown, path: string): ResolvedSubsystem {
  if (!isObject(v)) fail(path, 'must be an object { nqn, namespaces, ... }')
  checkKeys(v, path, ['nqn', 'serial', 'model', 'firmware', 'allowAnyHost', 'hosts', 'anaGroups', 'maxIoQueues', 'namespaces'])
  const n = nqn(v.nqn, `${path}.nqn`)
  const hosts = arr(v.hosts, `${path}.hosts`).map((h, i) => nqn(h, `${path}.hosts[${i}]`, 'host'))
  const allowAnyHost = bool(v.allowAnyHost, `${path}.allowAnyHost`, hosts.length === 0)
  const serial = v.serial === undefined ? undefined : str(v.serial, `${path}.serial`)
  if (serial !== undefined && (serial.length > 20 || !/^[\x20-\x7e]+$/.test(serial))) fail(`${path}.serial`, 'must be at most 20 printable ASCII characters')
  const model = v.model === undefined ? 'nvmf-fault' : str(v.model, `${path}.model`)
  if (model.length > 40) fail(`${path}.model`, 'must be at most 40 characters')
  const firmware = v.firmware === undefined ? '0.1' : str(v.firmware, `${path}.firmware`)
  if (firmware.length > 8) fail(`${path}.firmware`, 'must be at most 8 characters')
  const namespaces = arr(v.namespaces, `${path}.namespaces`).map((ns, i) => parseNamespaceConfig(ns, `${path}.namespaces[${i}]`))
  const seen = new Set<number>()
  namespaces.forEach((ns, i) => {
    if (seen.has(ns.nsid)) fail(`${path}.namespaces[${i}].nsid`, `duplicate nsid ${ns.nsid}`)
    seen.add(ns.nsid)
  })
  const groups = new Set<number>(arr(v.anaGroups, `${path}.anaGroups`).map((g, i) => int(g, `${path}.anaGroups[${i}]`, 1, 128)))
  if (groups.size === 0) groups.add(1)
  namespaces.forEach((ns) => groups.add(ns.anaGroup))
  return {
    nqn: n,
    serial,
    model,
    firmware,
    allowAnyHost,
    hosts,
    anaGroups: [...groups].sort((a, b) => a - b),
    maxIoQueues: optInt(v.maxIoQueues, `${path}.maxIoQueues`, 1, MAX_IO_QUEUES_LIMIT, 8),
    namespaces,
  }
}

/** Validates a configuration object (parsed JSON/YAML or the in-process options) and fills defaults. */
export function parseTargetConfig(v: unknown): ResolvedConfig {
  if (!isObject(v)) fail('(root)', 'must be an object with at least "ports"')
  checkKeys(v, '', ['ports', 'subsystems', 'hosts', 'referrals', 'icReqTimeoutMs', 'maxQueueSize', 'inlineDataSize', 'maxH2CData', 'mdts', 'maxBufferedBytes', 'limits',
    // in-process extras accepted and ignored here
    'logger', 'clock', 'random', 'hooks', 'logLevel', 'tracePdu', 'wrapStore'])
  const ports = arr(v.ports, 'ports').map((p, i) => parsePort(p, `ports[${i}]`))
  const ids = new Set<number>()
  ports.forEach((p, i) => {
    if (ids.has(p.id)) fail(`ports[${i}].id`, `duplicate port id ${p.id}`)
    ids.add(p.id)
  })
  const subsystems = arr(v.subsystems, 'subsystems').map((s, i) => parseSubsystem(s, `subsystems[${i}]`))
  const nqns = new Set<string>()
  subsystems.forEach((s, i) => {
    if (nqns.has(s.nqn)) fail(`subsystems[${i}].nqn`, `duplicate subsystem ${s.nqn}`)
    nqns.add(s.nqn)
  })
  ports.forEach((p, i) =>
    p.subsystems?.forEach((s, j) => {
      if (!nqns.has(s)) fail(`ports[${i}].subsystems[${j}]`, `no subsystem ${s} is configured`)
    }),
  )
  const hostAuth: ResolvedHostAuth[] = []
  const hosts = arr(v.hosts, 'hosts').map((h, i) => {
    if (typeof h === 'string') return nqn(h, `hosts[${i}]`, 'host')
    if (!isObject(h)) fail(`hosts[${i}]`, 'must be an NQN string or { nqn }')
    checkKeys(h, `hosts[${i}]`, ['nqn', ...HOST_AUTH_KEYS])
    const n = nqn(h.nqn, `hosts[${i}].nqn`, 'host')
    const auth = parseHostAuth(h, `hosts[${i}]`, n)
    if (auth !== undefined) {
      if (hostAuth.some((a) => a.nqn === n)) fail(`hosts[${i}].nqn`, `duplicate authentication settings for ${n}`)
      hostAuth.push(auth)
    }
    return n
  })
  const referrals = arr(v.referrals, 'referrals').map((r, i): ReferralConfig => parseReferral(r, `referrals[${i}]`, ids))
  const limits = parseLimits(v)
  const maxQueueSize = limits.maxQueueSize
  return {
    ports,
    subsystems,
    hosts,
    hostAuth,
    referrals,
    icReqTimeoutMs: limits.icReqTimeoutMs,
    maxQueueSize,
    inlineDataSize: optInt(v.inlineDataSize, 'inlineDataSize', 0, 1 << 20, 16384),
    maxH2CData: (() => {
      const m = optInt(v.maxH2CData, 'maxH2CData', 4096, 1 << 24, 131072)
      if (m % 4 !== 0) fail('maxH2CData', 'must be a multiple of 4 (the Linux host rejects others)')
      return m
    })(),
    mdts: optInt(v.mdts, 'mdts', 1, MAX_MDTS, 8),
    maxBufferedBytes: limits.maxBufferedBytes,
    limits,
  }
}

export function parseReferral(r: unknown, path: string, portIds?: Set<number>): ReferralConfig {
  if (!isObject(r)) fail(path, 'must be an object { address, port, portId? }')
  checkKeys(r, path, ['portId', 'address', 'port', 'subnqn', 'remotePortId'])
  const out: ReferralConfig = { address: str(r.address, `${path}.address`), port: int(r.port, `${path}.port`, 1, 65535) }
  if (r.portId !== undefined) {
    out.portId = int(r.portId, `${path}.portId`, 0, 0xffff)
    if (portIds !== undefined && !portIds.has(out.portId)) fail(`${path}.portId`, `no port with id ${out.portId}`)
  }
  if (r.subnqn !== undefined) out.subnqn = nqn(r.subnqn, `${path}.subnqn`, 'host')
  if (r.remotePortId !== undefined) out.remotePortId = int(r.remotePortId, `${path}.remotePortId`, 0, 0xffff)
  return out
}

/** Reads a YAML or JSON file (JSON is YAML) and validates it. */
export async function loadTargetConfigFile(file: string): Promise<ResolvedConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(file, `cannot read: ${(err as Error).message}`)
  }
  let obj: unknown
  try {
    obj = parseYaml(text)
  } catch (err) {
    throw new ConfigError(file, `not valid YAML/JSON: ${(err as Error).message}`)
  }
  return parseTargetConfig(obj)
}

/** Reads a config file as a plain (unvalidated) object. */
export async function readTargetConfigFile(file: string): Promise<TargetConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(file, `cannot read: ${(err as Error).message}`)
  }
  try {
    return parseYaml(text) as TargetConfig
  } catch (err) {
    throw new ConfigError(file, `not valid YAML/JSON: ${(err as Error).message}`)
  }
}
