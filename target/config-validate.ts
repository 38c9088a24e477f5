/**
 * Validation of a target configuration (a parsed config file or the in-process options): checks
 * every field, fills the defaults and returns the `ResolvedConfig` the core runs with. Every error
 * is a `ConfigError` whose `path` names the field (`subsystems[0].namespaces[1].size`).
 */
import { isUuid } from '../lib/nvme/uuid.js'
import { ANA_STATE_NAMES, type AnaStateName } from '../lib/nvme/log-ana.js'
import { HOST_AUTH_KEYS, parseHostAuth, type ResolvedHostAuth } from './config-auth.js'
import { arr, bool, checkKeys, fail, int, isObject, nqn, optInt, str } from './config-fields.js'
import { parseSize } from './config-size.js'
import type { ReferralConfig, ResolvedConfig, ResolvedNamespace, ResolvedPort, ResolvedSubsystem } from './config-types.js'
import { parseLimits } from './limits.js'

/** Largest MDTS exponent nvmf-fault announces (2^12 x 4 KiB = 16 MiB per command). */
export const MAX_MDTS = 12
/** Highest subsystem maxIoQueues (nvmet's NVMET_NR_QUEUES, the bound of its attr_qid_max). */
export const MAX_IO_QUEUES_LIMIT = 128

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
