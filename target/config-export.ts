/**
 * The live configuration of a running target (after every run-time change: namespaces added,
 * removed, disabled, given new ids or groups, resized; ANA states; ports; referrals), written in
 * the native format or as an nvmetcli `saveconfig` document. Either file restarts an identical
 * target (`nvmf-fault target --config FILE`): same ports (the bound TCP ports, also after
 * `listen(0)`), subsystems, serials, hosts, namespaces with their ids, sizes and groups, ANA table
 * and referrals. Memory namespaces restart empty: a configuration carries no data.
 *
 * One function serves every caller: `ctl config export`, the HTTP API and the target handle.
 */
import type { TargetCore } from './core/target-core.js'
import type { AnaStateName, NamespaceConfig, PortConfig, ReferralConfig, SubsystemConfig, TargetConfig } from './config.js'
import { EXTENSION_KEY, type ConfigFormat, type ConfigWarning } from './config-nvmetcli.js'

export interface ExportConfigOptions {
  /** native (default: the YAML/JSON shape of target/config.ts) or nvmetcli (saveconfig JSON). */
  format?: ConfigFormat
  /** What the chosen format cannot hold exactly (e.g. per-subsystem ANA states in a per-port table). */
  onWarning?: (w: ConfigWarning) => void
}

/** An nvmetcli `saveconfig` document (plus nvmf-fault's extension keys). */
export type NvmetcliDocument = Record<string, unknown>

/** The live configuration of `core` as a config document in `options.format`. */
export function exportConfig(core: TargetCore, options: ExportConfigOptions = {}): TargetConfig | NvmetcliDocument {
  const warn = options.onWarning ?? ((): void => undefined)
  const native = liveConfig(core, warn)
  if ((options.format ?? 'native') === 'native') return native
  return toNvmetcli(native, core.discovery.nqn, warn)
}

/** The live state as a native config (every default written out, so nothing depends on defaults). */
function liveConfig(core: TargetCore, warn: (w: ConfigWarning) => void): TargetConfig {
  const subsystems = [...core.subsystems.values()]
  const portIds = [...core.ports.keys()].sort((a, b) => a - b)
  const ports = portIds.map((id, i): PortConfig => {
    const p = core.ports.get(id)!
    const out: PortConfig = { id, address: p.address, port: p.port, discovery: p.discovery }
    if (p.advertise.address !== undefined || p.advertise.port !== undefined) {
      out.advertise = {}
      if (p.advertise.address !== undefined) out.advertise.address = p.advertise.address
      if (p.advertise.port !== undefined) out.advertise.port = p.advertise.port
    }
    if (p.subsystems !== undefined) out.subsystems = [...p.subsystems]
    // The config's table is per port x group; the target keeps it per subsystem too (ana set --subnqn).
    const states = new Map<number, AnaStateName>()
    for (const s of subsystems)
      for (const a of s.anaStates([id])) {
        const prev = states.get(a.grpid)
        if (prev === undefined) states.set(a.grpid, a.state as AnaStateName)
        else if (prev !== a.state)
          warn({ path: `ports[${i}].anaStates.${a.grpid}`, message: `subsystems differ on port ${id} group ${a.grpid} (${prev}, ${a.state}); written: ${prev}` })
      }
    out.anaStates = Object.fromEntries([...states].sort((a, b) => a[0] - b[0]).map(([g, st]) => [String(g), st]))
    return out
  })
  const subs = subsystems.map((s): SubsystemConfig => ({
    nqn: s.nqn,
    serial: s.serial,
    model: s.model,
    firmware: s.firmware,
    allowAnyHost: s.allowAnyHost,
    hosts: [...s.hosts],
    anaGroups: s.ana.groups(),
    maxIoQueues: s.maxIoQueues,
    namespaces: s.namespaceStatus().map((n): NamespaceConfig => {
      const store = s.get(n.nsid)?.store
      const ns: NamespaceConfig = {
        nsid: n.nsid,
        size: n.sizeBytes,
        blockSize: n.blockSize,
        store: store !== undefined && 'path' in store && typeof store.path === 'string' ? { type: 'file', path: store.path } : 'memory',
        uuid: n.uuid,
        anaGroup: n.anaGroup,
        enabled: n.enabled,
      }
      if (/[^0]/.test(n.nguid)) ns.nguid = n.nguid
      return ns
    }),
  }))
  const referrals = core.discovery.referrals.map((r): ReferralConfig => {
    const out: ReferralConfig = { address: r.address, port: r.port }
    if (r.portId !== undefined) out.portId = r.portId
    if (r.subnqn !== core.discovery.nqn) out.subnqn = r.subnqn
    if (r.remotePortId !== 0) out.remotePortId = r.remotePortId
    return out
  })
  const c = core.config
  return {
    ports,
    subsystems: subs,
    hosts: c.hosts.map((nqn) => ({ nqn })),
    referrals,
    icReqTimeoutMs: c.icReqTimeoutMs,
    maxQueueSize: c.maxQueueSize,
    inlineDataSize: c.inlineDataSize,
    maxH2CData: c.maxH2CData,
    mdts: c.mdts,
    maxBufferedBytes: c.maxBufferedBytes,
  }
}

/** nvmet's "a.b.c.d" / "v6" address family for a TCP address. */
function adrfam(address: string): string {
  return address.includes(':') ? 'ipv6' : 'ipv4'
}

/**
 * A native config as nvmetcli would dump the same kernel target (keys sorted like its JSON), with
 * what configfs cannot hold under {@link EXTENSION_KEY}.
 */
function toNvmetcli(c: TargetConfig, discoveryNqn: string, warn: (w: ConfigWarning) => void): NvmetcliDocument {
  const subs = c.subsystems ?? []
  const allNqns = subs.map((s) => s.nqn)
  // nvmet links allowed hosts to host objects: every host a subsystem names must exist.
  const hostSet = new Set<string>((c.hosts ?? []).map((h) => (typeof h === 'string' ? h : h.nqn)))
  for (const s of subs) for (const h of s.hosts ?? []) hostSet.add(h)
  const everywhere = (c.referrals ?? []).filter((r) => r.portId === undefined)
  const ports = c.ports.map((p, i) => {
    const ext: Record<string, unknown> = {}
    if (p.advertise !== undefined) ext.advertise = p.advertise
    if (p.discovery === false) ext.discovery = false
    const referrals = (c.referrals ?? [])
      .map((r, j) => ({ r, j }))
      .filter(({ r }) => r.portId === p.id)
      .map(({ r, j }) => {
        if (r.subnqn !== undefined && r.subnqn !== discoveryNqn)
          warn({ path: `referrals[${j}].subnqn`, message: 'nvmet referrals have no subsystem NQN; the discovery NQN is written' })
        const addr: Record<string, unknown> = { adrfam: adrfam(r.address), portid: String(r.remotePortId ?? 0), traddr: r.address, treq: 'not specified', trsvcid: String(r.port), trtype: 'tcp' }
        return { addr, enable: 1, name: `referral-${j + 1}` }
      })
    const out: Record<string, unknown> = {
      addr: { adrfam: adrfam(p.address), traddr: p.address, treq: 'not specified', trsvcid: String(p.port), trtype: 'tcp' },
      ana_groups: Object.entries(p.anaStates ?? {}).map(([g, state]) => ({ ana: { state }, grpid: Number(g) })),
      param: { inline_data_size: String(c.inlineDataSize ?? 16384) },
      portid: p.id,
      referrals,
      subsystems: p.subsystems ?? allNqns,
    }
    if (Object.keys(ext).length > 0) out[EXTENSION_KEY] = ext
    if (p.port === 0) warn({ path: `ports[${i}].port`, message: 'port 0 (any free port) has no nvmet equivalent; written as trsvcid "0"' })
    return out
  })
  const subsystems = subs.map((s) => ({
    allowed_hosts: s.hosts ?? [],
    attr: {
      allow_any_host: s.allowAnyHost === false ? '0' : '1',
      cntlid_max: '65519',
      cntlid_min: '1',
      model: s.model ?? '',
      qid_max: String(s.maxIoQueues ?? 8),
      serial: s.serial ?? '',
      version: '2.0',
    },
    namespaces: (s.namespaces ?? []).map((n) => {
      const file = typeof n.store === 'object' && n.store.type === 'file' ? n.store.path : undefined
      const device: Record<string, unknown> = { nguid: formatNguid(n.nguid), path: file ?? '' }
      if (n.uuid !== undefined) device.uuid = n.uuid
      return {
        ana_grpid: n.anaGroup ?? 1,
        device,
        enable: n.enabled === false ? 0 : 1,
        nsid: n.nsid,
        [EXTENSION_KEY]: { blockSize: n.blockSize ?? 512, size: n.size, store: file !== undefined ? 'file' : 'memory' },
      }
    }),
    nqn: s.nqn,
    // attr_firmware is missing from older kernels (6.1): nvmetcli restore would fail on it there.
    [EXTENSION_KEY]: { anaGroups: s.anaGroups ?? [1], firmware: s.firmware ?? '0.1' },
  }))
  const ext: Record<string, unknown> = {
    icReqTimeoutMs: c.icReqTimeoutMs,
    maxQueueSize: c.maxQueueSize,
    inlineDataSize: c.inlineDataSize,
    maxH2CData: c.maxH2CData,
    mdts: c.mdts,
    maxBufferedBytes: c.maxBufferedBytes,
  }
  if (everywhere.length > 0) ext.referrals = everywhere
  return { hosts: [...hostSet].map((nqn) => ({ nqn })), [EXTENSION_KEY]: ext, ports, subsystems }
}

/** nvmet shows the NGUID in UUID layout (8-4-4-4-12), all zeroes when none is set. */
function formatNguid(nguid: string | undefined): string {
  const h = (nguid ?? '').replace(/-/g, '').padEnd(32, '0')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
