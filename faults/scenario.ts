/**
 * Scenarios: a timeline file (YAML or JSON, proto/scenario.proto `Scenario` in the proto3 JSON
 * mapping) of setup steps, faults and timed steps. Parsing validates every field and names the bad
 * one (`ConfigError.path`, e.g. "steps[3].ana.state"). A run is reproducible: the fault PRNGs and
 * generated UUIDs derive from the seed, and step times come from the injected clock.
 */
import { readFile } from 'node:fs/promises'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { ConfigError } from '../lib/errors.js'
import type { FaultEngine } from './engine.js'
import { oneofCase, validateMessage, type JsonObject } from './proto.js'
import { anaStateValue, NAMESPACE_OPS, AEN_EVENTS } from './target-ops.js'
import type { FaultSpec } from './types.js'

export type StepOp =
  | { kind: 'ana'; port: number; group: number; state: string }
  | { kind: 'ns'; op: string; nsid: number; sizeBytes?: number; blockSize?: number; group?: number; uuid?: string; subnqn?: string; disabled?: boolean }
  | { kind: 'addFault'; fault: FaultSpec }
  | { kind: 'removeFault'; id: string }
  | { kind: 'clearFaults' }
  | { kind: 'port'; op: 'add' | 'remove'; port: number; address?: string; trsvcid?: number }
  | { kind: 'controller'; op: 'fatal' | 'delete'; cntlid?: number; port?: number; hostnqn?: string }
  | { kind: 'aen'; event: string; count: number; port?: number; nsids?: number[] }
  | { kind: 'referral'; address: string; trsvcid: number; port?: number }
  | { kind: 'mark'; text: string }

export interface ScenarioStep {
  atMs: number
  op: StepOp
}

/** proto/scenario.proto `ScenarioStart`: wait for `onConnect` (when set), then `afterMs`. */
export interface ScenarioStart {
  afterMs: number
  onConnect?: { controllers: number; hostnqn?: string; subnqn?: string }
}

export interface Scenario {
  name: string
  description: string
  seed?: number
  setup: ScenarioStep[]
  faults: FaultSpec[]
  steps: ScenarioStep[]
  durationMs: number
  start?: ScenarioStart
  /** Where it came from (file name), for messages. */
  source: string
}

function parseText(text: string, source: string): unknown {
  const trimmed = text.trimStart()
  if (trimmed.startsWith('{')) {
    try {
      return JSON.parse(text)
    } catch (err) {
      throw new ConfigError(source, `invalid JSON: ${(err as Error).message}`)
    }
  }
  try {
    return parseYaml(text)
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0]
      throw new ConfigError(source, `invalid YAML${pos !== undefined ? ` at line ${pos.line} column ${pos.col}` : ''}: ${err.message.split('\n')[0] ?? ''}`)
    }
    throw err
  }
}

function parseStep(engine: FaultEngine, raw: JsonObject, path: string): ScenarioStep {
  const type = engine.schemas.Step
  const which = oneofCase(type, 'op', raw)
  if (which === undefined) throw new ConfigError(path, `needs one operation: ${type.oneofs!.op!.oneof.join(', ')}`)
  const atMs = (raw.atMs as number | undefined) ?? 0
  const v = raw[which] as JsonObject
  const p = `${path}.${which}`
  const str = (o: JsonObject, k: string): string | undefined => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined)
  const num = (o: JsonObject, k: string): number | undefined => (typeof o[k] === 'number' && o[k] !== 0 ? (o[k] as number) : undefined)
  const need = (o: JsonObject, k: string): number => {
    const n = num(o, k)
    if (n === undefined) throw new ConfigError(`${p}.${k}`, 'is required (>= 1)')
    return n
  }
  let op: StepOp
  switch (which) {
    case 'ana': {
      const state = str(v, 'state') ?? ''
      try {
        anaStateValue(state)
      } catch (err) {
        throw new ConfigError(`${p}.state`, (err as Error).message.replace(/^'state' /, ''))
      }
      const group = need(v, 'group')
      if (group > 128) throw new ConfigError(`${p}.group`, 'must be in [1, 128]')
      op = { kind: 'ana', port: need(v, 'port'), group, state }
      break
    }
    case 'ns': {
      const name = str(v, 'op') ?? ''
      if (!(NAMESPACE_OPS as readonly string[]).includes(name)) throw new ConfigError(`${p}.op`, `must be one of ${NAMESPACE_OPS.join(', ')}, got '${name}'`)
      const o: StepOp = { kind: 'ns', op: name, nsid: need(v, 'nsid') }
      const size = num(v, 'sizeBytes')
      if (size !== undefined) o.sizeBytes = size
      else if (name === 'resize') throw new ConfigError(`${p}.sizeBytes`, 'is required for resize')
      const bs = num(v, 'blockSize')
      if (bs !== undefined) o.blockSize = bs
      const g = num(v, 'group')
      if (g !== undefined) o.group = g
      else if (name === 'group') throw new ConfigError(`${p}.group`, 'is required for group')
      const uuid = str(v, 'uuid')
      if (uuid !== undefined) o.uuid = uuid
      const sub = str(v, 'subnqn')
      if (sub !== undefined) o.subnqn = sub
      if (v.disabled === true) o.disabled = true
      op = o
      break
    }
    case 'addFault':
      op = { kind: 'addFault', fault: engine.parseFault(v, p) }
      break
    case 'removeFault':
      op = { kind: 'removeFault', id: raw.removeFault as string }
      break
    case 'clearFaults':
      op = { kind: 'clearFaults' }
      break
    case 'port': {
      const name = str(v, 'op')
      if (name !== 'add' && name !== 'remove') throw new ConfigError(`${p}.op`, `must be add or remove, got '${name ?? ''}'`)
      const o: StepOp = { kind: 'port', op: name, port: need(v, 'port') }
      const a = str(v, 'address')
      if (a !== undefined) o.address = a
      const s = num(v, 'trsvcid')
      if (s !== undefined) o.trsvcid = s
      op = o
      break
    }
    case 'controller': {
      const name = str(v, 'op')
      if (name !== 'fatal' && name !== 'delete') throw new ConfigError(`${p}.op`, `must be fatal or delete, got '${name ?? ''}'`)
      const o: StepOp = { kind: 'controller', op: name }
      const c = num(v, 'cntlid')
      if (c !== undefined) o.cntlid = c
      else if (name === 'fatal') throw new ConfigError(`${p}.cntlid`, 'is required for fatal')
      const port = num(v, 'port')
      if (port !== undefined) o.port = port
      const h = str(v, 'hostnqn')
      if (h !== undefined) o.hostnqn = h
      op = o
      break
    }
    case 'aen': {
      const event = str(v, 'event') ?? ''
      if (!(AEN_EVENTS as readonly string[]).includes(event)) throw new ConfigError(`${p}.event`, `must be one of ${AEN_EVENTS.join(', ')}, got '${event}'`)
      const o: StepOp = { kind: 'aen', event, count: num(v, 'count') ?? 1 }
      const port = num(v, 'port')
      if (port !== undefined) o.port = port
      if (Array.isArray(v.nsids) && v.nsids.length > 0) o.nsids = v.nsids as number[]
      op = o
      break
    }
    case 'referral': {
      const address = str(v, 'address')
      if (address === undefined) throw new ConfigError(`${p}.address`, 'is required')
      const o: StepOp = { kind: 'referral', address, trsvcid: num(v, 'trsvcid') ?? 4420 }
      const port = num(v, 'port')
      if (port !== undefined) o.port = port
      op = o
      break
    }
    case 'mark':
      op = { kind: 'mark', text: raw.mark as string }
      break
    default:
      throw new ConfigError(p, 'unsupported step')
  }
  return { atMs, op }
}

/** Parse and validate scenario text (YAML or JSON). Fault types are checked against `engine`'s registry. */
export function parseScenario(engine: FaultEngine, text: string, source = 'scenario'): Scenario {
  const raw = parseText(text, source)
  const obj = validateMessage(engine.schemas.Scenario, raw, '')
  const list = (k: string): JsonObject[] => (Array.isArray(obj[k]) ? (obj[k] as JsonObject[]) : [])
  const faults = list('faults').map((f, i) => engine.parseFault(f, `faults[${i}]`))
  const ids = new Set<string>()
  faults.forEach((f, i) => {
    if (f.id === '') return
    if (ids.has(f.id)) throw new ConfigError(`faults[${i}].id`, `duplicate fault id '${f.id}'`)
    ids.add(f.id)
  })
  const steps = list('steps').map((s, i) => parseStep(engine, s, `steps[${i}]`))
  const sc: Scenario = {
    name: typeof obj.name === 'string' ? obj.name : '',
    description: typeof obj.description === 'string' ? obj.description : '',
    setup: list('setup').map((s, i) => parseStep(engine, s, `setup[${i}]`)),
    faults,
    steps,
    durationMs: typeof obj.durationMs === 'number' ? obj.durationMs : 0,
    source,
  }
  if (typeof obj.seed === 'number') sc.seed = obj.seed
  if (obj.start !== undefined && obj.start !== null) sc.start = parseStart(obj.start as JsonObject)
  return sc
}

function parseStart(v: JsonObject): ScenarioStart {
  const st: ScenarioStart = { afterMs: typeof v.afterMs === 'number' ? v.afterMs : 0 }
  const oc = v.onConnect as JsonObject | undefined
  if (oc !== undefined && oc !== null) {
    const n = typeof oc.controllers === 'number' && oc.controllers !== 0 ? oc.controllers : 1
    if (n > 1024) throw new ConfigError('start.onConnect.controllers', `must be in [1, 1024], got ${n}`)
    st.onConnect = { controllers: n }
    if (typeof oc.hostnqn === 'string' && oc.hostnqn !== '') st.onConnect.hostnqn = oc.hostnqn
    if (typeof oc.subnqn === 'string' && oc.subnqn !== '') st.onConnect.subnqn = oc.subnqn
  }
  return st
}

export async function loadScenarioFile(engine: FaultEngine, file: string): Promise<Scenario> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(file, `cannot read scenario: ${(err as Error).message}`)
  }
  return parseScenario(engine, text, file)
}

export { ScenarioRun, type ScenarioRunInfo, type ScenarioState } from './scenario-run.js'
