/**
 * nvmetcli's `saveconfig` JSON (the dump of the kernel target's configfs tree, /etc/nvmet/config.json)
 * read as a target configuration. The document mirrors configfs: `ports[]` (`portid`, `addr` with
 * trtype/adrfam/traddr/trsvcid/treq/tsas, `param`, `subsystems` links, `ana_groups[]` with
 * `ana.state`, `referrals[]`), `subsystems[]` (`nqn`, `attr`, `allowed_hosts`, `namespaces[]` with
 * `device.path/uuid/nguid`, `ana_grpid`, `enable`), `hosts[]` and the root `discovery` attributes.
 *
 * Nothing is dropped silently: every field nvmf-fault cannot honour is named in a warning with its
 * path (`ports[0].addr.tsas`), and values equal to what nvmf-fault does anyway pass without one.
 * Semantics follow nvmet where they differ from the native format: a port with no linked subsystem
 * is not enabled by nvmet (served here for discovery only, with a warning); an ANA group a port does
 * not list is inaccessible there (nvmet_ports_make), except group 1 (optimized).
 *
 * nvmetcli reads only the keys it knows, so `config export --format nvmetcli` adds what configfs
 * cannot express (memory namespaces and their size, advertised addresses, target tunables) under
 * the key {@link EXTENSION_KEY} at the root, on ports, subsystems and namespaces; `nvmetcli restore`
 * ignores it and this reader uses it.
 */
import { stat } from 'node:fs/promises'
import { ConfigError } from '../lib/errors.js'
import { DISCOVERY_NQN } from '../lib/nvme/nqn.js'
import { ANA_STATE_NAMES, MAX_MDTS, type AnaStateName, type NamespaceConfig, type PortConfig, type ReferralConfig, type SubsystemConfig, type TargetConfig } from './config.js'

/** Key of nvmf-fault's own fields in an nvmetcli document (ignored by nvmetcli). */
export const EXTENSION_KEY = 'nvmf_fault'
/** Size given to a namespace whose `device.path` cannot be sized here (no such file, a device). */
export const DEFAULT_IMPORTED_NAMESPACE_SIZE = 1 << 30

export type ConfigFormat = 'native' | 'nvmetcli'

/** A field of the input that nvmf-fault does not honour as written. */
export interface ConfigWarning {
  path: string
  message: string
}

export interface NvmetcliImport {
  config: TargetConfig
  warnings: ConfigWarning[]
}

export interface NvmetcliImportOptions {
  /** Size of a namespace whose device cannot be sized (default 1 GiB). */
  defaultNamespaceSize?: number
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Which format a parsed config document is in: nvmetcli's when its ports carry `portid`/`addr`, or its
 * subsystems `attr`/`allowed_hosts`, or its namespaces `device` (none of which the native format has).
 */
export function detectConfigFormat(doc: unknown): ConfigFormat {
  if (!isObj(doc)) return 'native'
  const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : [])
  if (list(doc.ports).some((p) => 'portid' in p || 'addr' in p)) return 'nvmetcli'
  const subs = list(doc.subsystems)
  if (subs.some((s) => 'attr' in s || 'allowed_hosts' in s)) return 'nvmetcli'
  if (subs.some((s) => list(s.namespaces).some((n) => 'device' in n))) return 'nvmetcli'
  return 'native'
}

/** Reads nvmetcli's field types: attributes are strings ("1"), `enable`/`nsid` numbers. */
class Reader {
  readonly warnings: ConfigWarning[] = []
  warn(path: string, message: string): void {
    this.warnings.push({ path, message })
  }
  fail(path: string, message: string): never {
    throw new ConfigError(path, message)
  }
  obj(v: unknown, path: string): Obj {
    if (v === undefined) return {}
    if (!isObj(v)) this.fail(path, 'must be an object')
    return v
  }
  list(v: unknown, path: string): unknown[] {
    if (v === undefined) return []
    if (!Array.isArray(v)) this.fail(path, 'must be a list')
    return v
  }
  int(v: unknown, path: string): number {
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) this.fail(path, `must be an integer (got ${JSON.stringify(v)})`)
    return n
  }
  str(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, `must be a string (got ${JSON.stringify(v)})`)
    return v
  }
  bool(v: unknown, path: string): boolean {
    const n = this.int(v, path)
    if (n !== 0 && n !== 1) this.fail(path, 'must be 0 or 1')
    return n === 1
  }
  /** Warn for every key of `o` not in `known`. */
  unknownKeys(o: Obj, path: string, known: readonly string[]): void {
    for (const k of Object.keys(o)) if (!known.includes(k)) this.warn(path === '' ? k : `${path}.${k}`, `not supported by nvmf-fault (value ${JSON.stringify(o[k])}); ignored`)
  }
  /** Warn unless attribute `key` of `o` is absent or one of `fine` (what nvmf-fault does anyway). */
  onlyDefault(o: Obj, key: string, path: string, fine: readonly string[], what: string): void {
    if (!(key in o)) return
    const v = String(o[key]).trim()
    if (!fine.includes(v)) this.warn(`${path}.${key}`, `${JSON.stringify(o[key])} is not supported; ${what}`)
  }
}

/** An nvmetcli `saveconfig` document → the native {@link TargetConfig} (validate with parseTargetConfig). */
export async function fromNvmetcli(doc: unknown, options: NvmetcliImportOptions = {}): Promise<NvmetcliImport> {
  const r = new Reader()
  if (!isObj(doc)) throw new ConfigError('(root)', 'an nvmetcli config must be an object with "ports", "subsystems", "hosts"')
  r.unknownKeys(doc, '', ['ports', 'subsystems', 'hosts', 'discovery', EXTENSION_KEY])
  const discovery = r.obj(doc.discovery, 'discovery')
  if ('nqn' in discovery && String(discovery.nqn).trim() !== DISCOVERY_NQN)
    r.warn('discovery.nqn', `a renamed discovery subsystem (${JSON.stringify(discovery.nqn)}) is not supported; the target serves ${DISCOVERY_NQN}`)
  r.unknownKeys(discovery, 'discovery', ['nqn'])

  const config: TargetConfig = { ports: [] }
  const ext = r.obj(doc[EXTENSION_KEY], EXTENSION_KEY)
  for (const k of ['icReqTimeoutMs', 'maxQueueSize', 'inlineDataSize', 'maxH2CData', 'mdts', 'maxBufferedBytes'] as const) {
    if (ext[k] !== undefined) config[k] = r.int(ext[k], `${EXTENSION_KEY}.${k}`)
  }
  r.unknownKeys(ext, EXTENSION_KEY, ['icReqTimeoutMs', 'maxQueueSize', 'inlineDataSize', 'maxH2CData', 'mdts', 'maxBufferedBytes', 'referrals'])

  config.hosts = r.list(doc.hosts, 'hosts').map((h, i) => {
    const p = `hosts[${i}]`
    const o = r.obj(h, p)
    const dhchap = r.obj(o.dhchap, `${p}.dhchap`)
    // nvmet's dump of a host without authentication: empty keys, hash hmac(sha256), dhgroup null.
    const what = 'DH-HMAC-CHAP host authentication is not supported by this reader'
    r.onlyDefault(dhchap, 'key', `${p}.dhchap`, [''], what)
    r.onlyDefault(dhchap, 'ctrl_key', `${p}.dhchap`, [''], what)
    r.onlyDefault(dhchap, 'hash', `${p}.dhchap`, ['hmac(sha256)'], what)
    r.onlyDefault(dhchap, 'dhgroup', `${p}.dhchap`, ['null'], what)
    r.unknownKeys(dhchap, `${p}.dhchap`, ['key', 'ctrl_key', 'hash', 'dhgroup'])
    r.unknownKeys(o, p, ['nqn', 'dhchap'])
    return { nqn: r.str(o.nqn, `${p}.nqn`) }
  })

  // One after the other, so the warnings come in document order.
  const subsystems: SubsystemConfig[] = []
  for (const [i, s] of r.list(doc.subsystems, 'subsystems').entries()) subsystems.push(await readSubsystem(r, s, `subsystems[${i}]`, options))
  config.subsystems = subsystems
  const groupsInUse = new Set<number>([1])
  for (const s of subsystems) for (const g of s.anaGroups ?? []) groupsInUse.add(g)
  for (const s of subsystems) for (const ns of s.namespaces ?? []) groupsInUse.add(ns.anaGroup ?? 1)

  const referrals: ReferralConfig[] = []
  const params = new Map<'inlineDataSize' | 'maxQueueSize' | 'mdts', Set<number>>()
  r.list(doc.ports, 'ports').forEach((pv, i) => {
    const port = readPort(r, pv, `ports[${i}]`, groupsInUse, referrals, params)
    if (port !== undefined) config.ports.push(port)
  })
  // nvmet's port parameters are per port; nvmf-fault's are target-wide (IOCCSZ, MQES, MDTS).
  for (const [k, values] of params) {
    if (config[k] !== undefined) continue
    const v = [...values]
    if (v.length > 1) r.warn(`ports[].param`, `${k} differs between ports (${v.join(', ')}); nvmf-fault uses one value for all ports: ${v[0]}`)
    config[k] = v[0]!
  }
  // Referrals on every discovery port (no portId) have no configfs home: the extension keeps them.
  referrals.push(...(r.list(ext.referrals, `${EXTENSION_KEY}.referrals`) as ReferralConfig[]))
  if (referrals.length > 0) config.referrals = referrals
  return { config, warnings: r.warnings }
}

async function readSubsystem(r: Reader, v: unknown, path: string, options: NvmetcliImportOptions): Promise<SubsystemConfig> {
  const o = r.obj(v, path)
  r.unknownKeys(o, path, ['nqn', 'attr', 'allowed_hosts', 'namespaces', 'passthru', EXTENSION_KEY])
  const s: SubsystemConfig = { nqn: r.str(o.nqn, `${path}.nqn`) }
  const attr = r.obj(o.attr, `${path}.attr`)
  const ap = `${path}.attr`
  s.hosts = r.list(o.allowed_hosts, `${path}.allowed_hosts`).map((h, i) => r.str(h, `${path}.allowed_hosts[${i}]`))
  // nvmet's default is allow_any_host=0 (no host may connect until one is allowed or this is set).
  s.allowAnyHost = attr.allow_any_host === undefined ? false : r.bool(attr.allow_any_host, `${ap}.allow_any_host`)
  if (attr.serial !== undefined) s.serial = r.str(attr.serial, `${ap}.serial`)
  if (attr.model !== undefined) s.model = r.str(attr.model, `${ap}.model`)
  if (attr.firmware !== undefined) s.firmware = r.str(attr.firmware, `${ap}.firmware`)
  if (attr.qid_max !== undefined) s.maxIoQueues = r.int(attr.qid_max, `${ap}.qid_max`)
  r.onlyDefault(attr, 'version', ap, ['2.0'], 'the target reports NVMe version 2.0')
  // Controller ids are allocated target-wide in 1..0xFFEF (nvmet's default range).
  r.onlyDefault(attr, 'cntlid_min', ap, ['1'], 'controller ids come from 1..65519')
  r.onlyDefault(attr, 'cntlid_max', ap, ['65519'], 'controller ids come from 1..65519')
  r.onlyDefault(attr, 'pi_enable', ap, ['0'], 'no protection information')
  r.onlyDefault(attr, 'ieee_oui', ap, ['0', '0x000000'], 'IEEE OUI 0 is reported')
  r.onlyDefault(attr, 'vendor_id', ap, ['0', '0x0'], 'PCI vendor id 0 is reported')
  r.onlyDefault(attr, 'subsys_vendor_id', ap, ['0', '0x0'], 'subsystem vendor id 0 is reported')
  r.unknownKeys(attr, ap, ['allow_any_host', 'serial', 'model', 'firmware', 'qid_max', 'version', 'cntlid_min', 'cntlid_max', 'pi_enable', 'ieee_oui', 'vendor_id', 'subsys_vendor_id'])
  if (o.passthru !== undefined && r.list(o.passthru, `${path}.passthru`).length > 0) r.warn(`${path}.passthru`, 'passthru controllers are not supported; ignored')
  const ext = r.obj(o[EXTENSION_KEY], `${path}.${EXTENSION_KEY}`)
  if (ext.firmware !== undefined && s.firmware === undefined) s.firmware = r.str(ext.firmware, `${path}.${EXTENSION_KEY}.firmware`)
  if (ext.anaGroups !== undefined) s.anaGroups = r.list(ext.anaGroups, `${path}.${EXTENSION_KEY}.anaGroups`).map((g, i) => r.int(g, `${path}.${EXTENSION_KEY}.anaGroups[${i}]`))
  r.unknownKeys(ext, `${path}.${EXTENSION_KEY}`, ['anaGroups', 'firmware'])
  s.namespaces = []
  for (const [i, n] of r.list(o.namespaces, `${path}.namespaces`).entries()) s.namespaces.push(await readNamespace(r, n, `${path}.namespaces[${i}]`, options))
  return s
}

async function readNamespace(r: Reader, v: unknown, path: string, options: NvmetcliImportOptions): Promise<NamespaceConfig> {
  const o = r.obj(v, path)
  r.unknownKeys(o, path, ['nsid', 'device', 'ana_grpid', 'ana', 'enable', 'resv', EXTENSION_KEY])
  const ns: NamespaceConfig = { nsid: r.int(o.nsid, `${path}.nsid`), size: 0 }
  const dev = r.obj(o.device, `${path}.device`)
  const dp = `${path}.device`
  if (dev.uuid !== undefined && dev.uuid !== '') ns.uuid = r.str(dev.uuid, `${dp}.uuid`)
  if (dev.nguid !== undefined && dev.nguid !== '') {
    const g = r.str(dev.nguid, `${dp}.nguid`)
    // An all-zero NGUID is nvmet's "none" (Identify reports zeroes), as here.
    if (!/^[0-]+$/.test(g)) ns.nguid = g
  }
  // (buffered_io, p2pmem and resv_enable are not in saveconfig's `device` group: configfs has no device_ prefix on them.)
  r.unknownKeys(dev, dp, ['path', 'uuid', 'nguid'])
  if (o.ana_grpid !== undefined) ns.anaGroup = r.int(o.ana_grpid, `${path}.ana_grpid`)
  // saveconfig also dumps the group as the `ana` attribute group ({ grpid: "1" }).
  const ana = r.obj(o.ana, `${path}.ana`)
  if (ana.grpid !== undefined) {
    const g = r.int(ana.grpid, `${path}.ana.grpid`)
    if (ns.anaGroup !== undefined && ns.anaGroup !== g) r.warn(`${path}.ana.grpid`, `differs from ana_grpid ${ns.anaGroup}; ana_grpid is used`)
    ns.anaGroup ??= g
  }
  r.unknownKeys(ana, `${path}.ana`, ['grpid'])
  const resv = r.obj(o.resv, `${path}.resv`)
  r.onlyDefault(resv, 'enable', `${path}.resv`, ['0'], 'persistent reservations are not supported')
  r.unknownKeys(resv, `${path}.resv`, ['enable'])
  ns.enabled = o.enable === undefined ? false : r.bool(o.enable, `${path}.enable`)

  const ext = r.obj(o[EXTENSION_KEY], `${path}.${EXTENSION_KEY}`)
  const ep = `${path}.${EXTENSION_KEY}`
  r.unknownKeys(ext, ep, ['store', 'size', 'blockSize'])
  if (ext.blockSize !== undefined) ns.blockSize = r.int(ext.blockSize, `${ep}.blockSize`)
  const devPath = dev.path === undefined ? '' : r.str(dev.path, `${dp}.path`)
  const defaultSize = options.defaultNamespaceSize ?? DEFAULT_IMPORTED_NAMESPACE_SIZE
  if (ext.store === 'memory' || (ext.store === undefined && devPath === '')) {
    ns.store = 'memory'
    ns.size = ext.size !== undefined ? r.int(ext.size, `${ep}.size`) : defaultSize
    if (ext.store === undefined) r.warn(`${dp}.path`, `no device path: served from memory, ${ns.size} bytes`)
    return ns
  }
  if (ext.store !== undefined && ext.store !== 'file') r.fail(`${ep}.store`, 'must be "memory" or "file"')
  let size = ext.size !== undefined ? r.int(ext.size, `${ep}.size`) : undefined
  const st = await stat(devPath).catch(() => undefined)
  if (st?.isFile() === true) {
    ns.store = { type: 'file', path: devPath }
    size ??= st.size - (st.size % (ns.blockSize ?? 512))
    if (size <= 0) {
      size = defaultSize
      r.warn(`${dp}.path`, `${devPath} is empty: extended to ${size} bytes`)
    }
  } else {
    // nvmet serves block devices and files; nvmf-fault's store is a regular file, or memory.
    ns.store = 'memory'
    size ??= defaultSize
    r.warn(`${dp}.path`, `${devPath} is ${st === undefined ? 'not there' : 'not a regular file'} here: served from memory, ${size} bytes`)
  }
  ns.size = size
  return ns
}

type ParamKey = 'inlineDataSize' | 'maxQueueSize' | 'mdts'

function readPort(r: Reader, v: unknown, path: string, groupsInUse: Set<number>, referrals: ReferralConfig[], params: Map<ParamKey, Set<number>>): PortConfig | undefined {
  const o = r.obj(v, path)
  r.unknownKeys(o, path, ['portid', 'addr', 'param', 'subsystems', 'ana_groups', 'referrals', EXTENSION_KEY])
  const id = r.int(o.portid, `${path}.portid`)
  const addr = r.obj(o.addr, `${path}.addr`)
  const ap = `${path}.addr`
  const trtype = addr.trtype === undefined ? '' : r.str(addr.trtype, `${ap}.trtype`)
  if (trtype !== 'tcp') {
    r.warn(`${ap}.trtype`, `transport ${JSON.stringify(trtype)} is not supported (NVMe/TCP only): port ${id} is not served`)
    return undefined
  }
  const address = r.str(addr.traddr, `${ap}.traddr`)
  const port: PortConfig = { id, address, port: r.int(addr.trsvcid, `${ap}.trsvcid`) }
  // TREQ is reported as "not specified" in the discovery log: no secure channel is offered.
  r.onlyDefault(addr, 'treq', ap, ['not specified', 'not required'], 'no secure channel (TLS) is offered')
  r.onlyDefault(addr, 'tsas', ap, ['none', ''], 'NVMe/TCP is served without TLS')
  r.onlyDefault(addr, 'adrfam', ap, ['ipv4', 'ipv6'], 'the address family follows traddr')
  r.unknownKeys(addr, ap, ['trtype', 'adrfam', 'traddr', 'trsvcid', 'treq', 'tsas'])

  const param = r.obj(o.param, `${path}.param`)
  const pp = `${path}.param`
  const noteParam = (key: string, k: ParamKey): void => {
    if (param[key] === undefined) return
    let n = r.int(param[key], `${pp}.${key}`)
    if (n < 0) return // nvmet: negative = the transport's default
    if (k === 'mdts') {
      // nvmet's param_mdts is the Identify MDTS exponent, 0..255, and 0 means no limit (Base 2.0
      // Identify Controller MDTS); an enabled tcp port reads back 0 (nvmet_enable_port turns the
      // transport default into 0). nvmf-fault always announces a bounded MDTS, 1..MAX_MDTS.
      if (n === 0) {
        r.warn(`${pp}.${key}`, `mdts 0 (no transfer-size limit) is not offered: nvmf-fault announces its default MDTS`)
        return
      }
      if (n > MAX_MDTS) {
        r.warn(`${pp}.${key}`, `mdts ${n} is above nvmf-fault's largest, ${MAX_MDTS}: ${MAX_MDTS} is used`)
        n = MAX_MDTS
      }
    }
    if (!params.has(k)) params.set(k, new Set())
    params.get(k)!.add(n)
  }
  noteParam('inline_data_size', 'inlineDataSize')
  noteParam('max_queue_size', 'maxQueueSize')
  noteParam('mdts', 'mdts')
  r.onlyDefault(param, 'pi_enable', pp, ['0'], 'no protection information')
  r.unknownKeys(param, pp, ['inline_data_size', 'max_queue_size', 'mdts', 'pi_enable'])

  const subs = r.list(o.subsystems, `${path}.subsystems`).map((s, i) => r.str(s, `${path}.subsystems[${i}]`))
  port.subsystems = subs
  if (subs.length === 0) r.warn(`${path}.subsystems`, `no subsystem is linked, so nvmet would not enable port ${id}; served here for discovery only`)

  // nvmet: group 1 starts optimized on every port, every other group inaccessible until set.
  const anaStates: Record<string, AnaStateName> = {}
  for (const g of [...groupsInUse].sort((a, b) => a - b)) anaStates[String(g)] = g === 1 ? 'optimized' : 'inaccessible'
  r.list(o.ana_groups, `${path}.ana_groups`).forEach((gv, i) => {
    const gp = `${path}.ana_groups[${i}]`
    const g = r.obj(gv, gp)
    r.unknownKeys(g, gp, ['grpid', 'ana'])
    const grpid = r.int(g.grpid, `${gp}.grpid`)
    const ana = r.obj(g.ana, `${gp}.ana`)
    r.unknownKeys(ana, `${gp}.ana`, ['state'])
    const state = ana.state === undefined ? 'optimized' : r.str(ana.state, `${gp}.ana.state`)
    if (!ANA_STATE_NAMES.includes(state as AnaStateName)) r.fail(`${gp}.ana.state`, `must be one of ${ANA_STATE_NAMES.join(', ')}`)
    anaStates[String(grpid)] = state as AnaStateName
  })
  port.anaStates = anaStates

  const ext = r.obj(o[EXTENSION_KEY], `${path}.${EXTENSION_KEY}`)
  const ep = `${path}.${EXTENSION_KEY}`
  r.unknownKeys(ext, ep, ['advertise', 'discovery'])
  if (ext.advertise !== undefined) port.advertise = r.obj(ext.advertise, `${ep}.advertise`) as PortConfig['advertise'] & object
  if (ext.discovery !== undefined) {
    if (typeof ext.discovery !== 'boolean') r.fail(`${ep}.discovery`, 'must be true or false')
    port.discovery = ext.discovery
  }

  r.list(o.referrals, `${path}.referrals`).forEach((rv, i) => {
    const rp = `${path}.referrals[${i}]`
    const ro = r.obj(rv, rp)
    r.unknownKeys(ro, rp, ['name', 'addr', 'enable'])
    const ra = r.obj(ro.addr, `${rp}.addr`)
    r.unknownKeys(ra, `${rp}.addr`, ['trtype', 'adrfam', 'traddr', 'trsvcid', 'treq', 'tsas', 'portid'])
    if (ro.enable !== undefined && !r.bool(ro.enable, `${rp}.enable`)) {
      r.warn(`${rp}.enable`, 'a disabled referral is not in the discovery log; not kept')
      return
    }
    const rt = ra.trtype === undefined ? '' : r.str(ra.trtype, `${rp}.addr.trtype`)
    if (rt !== 'tcp') {
      r.warn(`${rp}.addr.trtype`, `transport ${JSON.stringify(rt)} is not supported (NVMe/TCP only): referral not served`)
      return
    }
    r.onlyDefault(ra, 'treq', `${rp}.addr`, ['not specified', 'not required'], 'TREQ "not specified" is reported')
    r.onlyDefault(ra, 'tsas', `${rp}.addr`, ['none', ''], 'no TLS is reported')
    const ref: ReferralConfig = { portId: id, address: r.str(ra.traddr, `${rp}.addr.traddr`), port: r.int(ra.trsvcid, `${rp}.addr.trsvcid`) }
    if (ra.portid !== undefined) ref.remotePortId = r.int(ra.portid, `${rp}.addr.portid`)
    referrals.push(ref)
  })
  return port
}
