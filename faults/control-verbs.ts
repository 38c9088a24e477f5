/**
 * The control-plane verbs, implemented once. Both transports call `runVerb`: the protobuf socket
 * (control-server.ts, one `Request.op` member per verb) and the HTTP/JSON API (control-http.ts, one
 * route per verb). A verb takes the validated plain object of its request message (the proto3 JSON
 * mapping of proto/control.proto) and returns JSON and/or bytes; errors are the typed errors of
 * lib/errors.ts, so a field error carries the same code and field path on both transports.
 */
import { InvalidArgumentError } from '../lib/errors.js'
import type { FaultController } from './controller.js'
import type { JsonObject } from './proto.js'
import type { NamespaceOp } from './target-ops.js'
import { TRACE_FORMATS, type TraceFormat } from './trace.js'

export interface VerbResult {
  json?: unknown
  /** Bytes (trace dumps); the HTTP side sends them with `contentType`. */
  data?: Buffer
  contentType?: string
}

type Verb = (c: FaultController, a: JsonObject) => Promise<VerbResult> | VerbResult

const str = (a: JsonObject, k: string): string | undefined => (typeof a[k] === 'string' && a[k] !== '' ? (a[k] as string) : undefined)
const num = (a: JsonObject, k: string): number | undefined => (typeof a[k] === 'number' ? (a[k] as number) : undefined)

export const STATUS_SECTIONS = ['ports', 'subsystems', 'controllers', 'ana', 'referrals', 'faults', 'scenario', 'trace'] as const

function status(c: FaultController, a: JsonObject): VerbResult {
  const st = c.status()
  const section = str(a, 'section')
  if (section === undefined) return { json: st }
  const target = (st.target ?? {}) as Record<string, unknown>
  switch (section) {
    case 'ports':
    case 'subsystems':
    case 'controllers':
    case 'ana':
      return { json: target[section] ?? [] }
    case 'referrals':
      return { json: (target.discovery as { referrals?: unknown } | undefined)?.referrals ?? [] }
    case 'faults':
      return { json: st.faults }
    case 'scenario':
      return { json: st.scenario }
    case 'trace':
      return { json: st.trace }
    default:
      throw new InvalidArgumentError('section', `must be one of ${STATUS_SECTIONS.join(', ')}, got '${section}'`)
  }
}

function scenarioState(c: FaultController): unknown {
  const run = c.scenario
  if (run === undefined) return { state: 'idle', name: null, seed: null }
  const err = run.error
  return {
    name: run.scenario.name || run.scenario.source,
    state: run.state,
    seed: String(run.seed),
    ...(err !== undefined ? { error: err instanceof Error ? err.message : String(err) } : {}),
  }
}

const TRACE_TYPES: Record<TraceFormat, string> = {
  jsonl: 'application/jsonl',
  proto: 'application/octet-stream',
  pcap: 'application/vnd.tcpdump.pcap',
}

/** Every verb by its `Request.op` member name (proto/control.proto). */
export const VERBS: Readonly<Record<string, Verb>> = Object.freeze({
  auth: () => ({ json: { authenticated: true } }),
  status,
  anaSet: async (c, a) => {
    await c.setAna(num(a, 'port') ?? 0, num(a, 'group') ?? 0, str(a, 'state') ?? '')
    return { json: (c.status().target as { ana?: unknown } | null)?.ana ?? null }
  },
  ns: async (c, a) => ({ json: await c.namespace(a as unknown as NamespaceOp) }),
  faultAdd: (c, a) => ({ json: { id: c.addFault(a) } }),
  faultList: (c) => ({ json: c.listFaults() }),
  faultGet: (c, a) => {
    const id = str(a, 'id')
    const f = c.listFaults().find((x) => x.id === id)
    if (f === undefined) throw new InvalidArgumentError('id', `no fault with id '${id ?? ''}'`)
    return { json: f }
  },
  faultClear: (c, a) => ({ json: { removed: c.clearFaults(str(a, 'id')) } }),
  scenarioRun: async (c, a) => {
    const seed = a.seed as number | string | undefined
    const run = await c.runScenario(str(a, 'text') ?? '', { ...(seed !== undefined ? { seed } : {}), ...(str(a, 'source') !== undefined ? { source: str(a, 'source')! } : {}) })
    return { json: { name: run.scenario.name, seed: String(run.seed), state: run.state } }
  },
  scenarioStop: (c) => ({ json: { stopped: c.stopScenario() } }),
  scenarioState: (c) => ({ json: scenarioState(c) }),
  scenarioWait: async (c, a) => ({ json: await c.waitScenario(str(a, 'state') ?? 'finished', num(a, 'timeoutMs') ?? 0) }),
  traceDump: (c, a) => {
    const format = (str(a, 'format') ?? 'jsonl') as TraceFormat
    if (!TRACE_FORMATS.includes(format)) throw new InvalidArgumentError('format', `must be one of ${TRACE_FORMATS.join(', ')}, got '${format}'`)
    return { data: c.dumpTrace(format, { clear: a.clear === true }), contentType: TRACE_TYPES[format] }
  },
  port: async (c, a) => {
    const portId = num(a, 'port') ?? 0
    if (a.op === 'add') {
      const address = str(a, 'address')
      const trsvcid = num(a, 'trsvcid')
      // Present (even empty) = the port exposes only these; absent = every subsystem.
      const subsystems = Array.isArray(a.subsystems) ? (a.subsystems as string[]) : undefined
      return { json: (await c.addPort({ portId, ...(address !== undefined ? { address } : {}), ...(trsvcid !== undefined ? { trsvcid } : {}), ...(subsystems !== undefined ? { subsystems } : {}) })) ?? null }
    }
    if (a.op === 'link' || a.op === 'unlink') return { json: { changed: await c.engine.ops.setPortSubsystem(portId, str(a, 'subnqn') ?? '', a.op === 'link') } }
    if (a.op === 'remove') {
      await c.removePort(portId)
      return { json: null }
    }
    throw new InvalidArgumentError('port.op', `must be add, remove, link or unlink, got '${String(a.op ?? '')}'`)
  },
  controller: async (c, a) => {
    if (a.op === 'list') return status(c, { section: 'controllers' })
    if (a.op === 'fatal') {
      await c.controllerFatal(num(a, 'cntlid') ?? 0)
      return { json: null }
    }
    if (a.op === 'delete') {
      const f: { cntlid?: number; portId?: number; hostnqn?: string } = {}
      if (num(a, 'cntlid') !== undefined) f.cntlid = num(a, 'cntlid')!
      if (num(a, 'port') !== undefined) f.portId = num(a, 'port')!
      if (str(a, 'hostnqn') !== undefined) f.hostnqn = str(a, 'hostnqn')!
      return { json: { deleted: (await c.deleteControllers(f)) ?? 0 } }
    }
    throw new InvalidArgumentError('controller.op', `must be list, fatal or delete, got '${String(a.op ?? '')}'`)
  },
  aen: async (c, a) => {
    const port = num(a, 'port')
    const count = num(a, 'count')
    const nsids = Array.isArray(a.nsids) && a.nsids.length > 0 ? (a.nsids as number[]) : undefined
    await c.raiseAen(str(a, 'event') ?? '', { ...(port !== undefined ? { portId: port } : {}), ...(nsids !== undefined ? { nsids } : {}), ...(count !== undefined ? { count } : {}) })
    return { json: null }
  },
  referral: async (c, a) => {
    const address = str(a, 'address') ?? ''
    const trsvcid = num(a, 'trsvcid') ?? 4420
    if (a.op === 'add' || a.op === undefined) {
      const port = num(a, 'port')
      await c.engine.ops.addReferral({ address, trsvcid, ...(port !== undefined ? { portId: port } : {}) })
      return status(c, { section: 'referrals' })
    }
    if (a.op === 'remove') return { json: { removed: await c.engine.ops.removeReferral({ address, trsvcid }) } }
    throw new InvalidArgumentError('referral.op', `must be add or remove, got '${String(a.op)}'`)
  },
  subsystem: async (c, a) => {
    const nqn = str(a, 'nqn')
    switch (a.op) {
      case 'add': {
        const cfg = (a.config ?? {}) as JsonObject
        if (nqn !== undefined && cfg.nqn !== undefined && cfg.nqn !== nqn) throw new InvalidArgumentError('config.nqn', `differs from nqn '${nqn}'`)
        await c.engine.ops.addSubsystem({ ...cfg, ...(nqn !== undefined ? { nqn } : {}) })
        return { json: (c.status().target as { subsystems: Array<{ nqn: string }> }).subsystems.find((s) => s.nqn === (nqn ?? cfg.nqn)) ?? null }
      }
      case 'remove':
        await c.engine.ops.removeSubsystem(nqn ?? '')
        return { json: null }
      case 'host-add':
      case 'host-remove':
        await c.engine.ops.setSubsystemHost(nqn ?? '', str(a, 'hostnqn') ?? '', a.op === 'host-add')
        return { json: null }
      case 'max-io-queues':
        return { json: { deleted: (await c.engine.ops.setSubsystemMaxIoQueues(nqn ?? '', num(a, 'maxIoQueues') ?? 0)) ?? 0 } }
      default:
        throw new InvalidArgumentError('subsystem.op', `must be add, remove, host-add, host-remove or max-io-queues, got '${String(a.op ?? '')}'`)
    }
  },
  hostAuth: async (c, a) => {
    const hostnqn = str(a, 'hostnqn') ?? ''
    if (a.op === 'set' || a.op === 'update') {
      const list = (k: string): string[] | undefined => (Array.isArray(a[k]) && (a[k] as unknown[]).length > 0 ? (a[k] as string[]) : undefined)
      const ctrl = str(a, 'dhchapCtrlKey')
      const hashes = list('dhchapHashes')
      const groups = list('dhchapDhgroups')
      const key = str(a, 'dhchapKey')
      const settings = {
        ...(ctrl !== undefined ? { dhchapCtrlKey: ctrl } : {}),
        ...(hashes !== undefined ? { dhchapHashes: hashes } : {}),
        ...(groups !== undefined ? { dhchapDhgroups: groups } : {}),
      }
      if (a.op === 'update') await c.engine.ops.updateHostAuth(hostnqn, { ...(key !== undefined ? { dhchapKey: key } : {}), ...settings })
      else await c.engine.ops.setHostAuth(hostnqn, { dhchapKey: key ?? '', ...settings })
      return { json: null }
    }
    if (a.op === 'remove') return { json: { removed: await c.engine.ops.removeHostAuth(hostnqn) } }
    throw new InvalidArgumentError('hostAuth.op', `must be set, update or remove, got '${String(a.op ?? '')}'`)
  },
  configExport: (c, a) => {
    const format = str(a, 'format') ?? 'native'
    if (format !== 'native' && format !== 'nvmetcli') throw new InvalidArgumentError('format', `must be native or nvmetcli, got '${format}'`)
    return { json: c.exportConfig(format) }
  },
})

/** Run one verb; an unknown name is an `op` error. */
export async function runVerb(controller: FaultController, op: string, args: JsonObject): Promise<VerbResult> {
  const verb = Object.hasOwn(VERBS, op) ? VERBS[op] : undefined
  if (verb === undefined) throw new InvalidArgumentError('op', `unsupported operation '${op}'`)
  return verb(controller, args)
}
