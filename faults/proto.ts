/**
 * The protobuf schemas of faults/ (proto/scenario.proto, control.proto, trace.proto), loaded by
 * reflection (protobufjs `loadSync`), plus a validator that turns untrusted JSON (the proto3 JSON
 * mapping) into a plain object while naming the dotted path of any bad field. protobufjs' own
 * `verify` stops at the first error without a path and `fromObject` coerces silently, so scenario
 * files are checked here field by field instead.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { ConfigError } from '../lib/errors.js'

export type ProtoType = protobuf.Type

/** The three schemas in one root. Loaded once per call site that needs them (no module state). */
export interface FaultSchemas {
  root: protobuf.Root
  Scenario: protobuf.Type
  FaultSpec: protobuf.Type
  Step: protobuf.Type
  Request: protobuf.Type
  Response: protobuf.Type
  TraceEvent: protobuf.Type
  type(name: string): protobuf.Type
}

/** proto/ sits next to faults/ in the source tree and next to dist/ in the package. */
export function protoDir(): string {
  for (const rel of ['../proto/', '../../proto/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url))
    if (existsSync(`${dir}scenario.proto`)) return dir
  }
  throw new ConfigError('proto', 'cannot find proto/scenario.proto next to the faults module')
}

export function loadFaultSchemas(): FaultSchemas {
  const dir = protoDir()
  const root = new protobuf.Root()
  // Resolve `import "scenario.proto"` against proto/; google/* comes from protobufjs' bundled copies.
  root.resolvePath = (origin: string, target: string): string | null =>
    target.startsWith('google/') ? target : protobuf.util.path.resolve(`${dir}x`, target)
  root.loadSync([`${dir}scenario.proto`, `${dir}control.proto`, `${dir}trace.proto`])
  root.resolveAll()
  const type = (name: string): protobuf.Type => root.lookupType(`nvmf_fault.${name}`)
  return {
    root,
    Scenario: type('Scenario'),
    FaultSpec: type('FaultSpec'),
    Step: type('Step'),
    Request: type('Request'),
    Response: type('Response'),
    TraceEvent: type('TraceEvent'),
    type,
  }
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue }
export type JsonObject = { [k: string]: JsonValue }

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v)
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`
  return `${typeof v} ${typeof v === 'object' ? '' : String(v)}`.trim()
}

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-0x80000000, 0x7fffffff],
  sint32: [-0x80000000, 0x7fffffff],
  sfixed32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
  fixed32: [0, 0xffffffff],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sint64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sfixed64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
  fixed64: [0, Number.MAX_SAFE_INTEGER],
}

function scalar(field: protobuf.Field, v: unknown, path: string): JsonValue {
  const t = field.type
  if (t === 'string') {
    if (typeof v === 'string') return v
    if (typeof v === 'number') return String(v) // YAML turns `status: 0x302` into a number
    throw new ConfigError(path, `must be a string, got ${describe(v)}`)
  }
  if (t === 'bool') {
    if (typeof v === 'boolean') return v
    throw new ConfigError(path, `must be true or false, got ${describe(v)}`)
  }
  if (t === 'double' || t === 'float') {
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
    if (typeof n === 'number' && Number.isFinite(n)) return n
    throw new ConfigError(path, `must be a finite number, got ${describe(v)}`)
  }
  const range = INT_RANGES[t]
  if (range !== undefined) {
    // The JSON mapping writes 64-bit integers as strings; accept decimal and 0x-hex strings.
    const n = typeof v === 'string' && /^(0x[0-9a-f]+|-?\d+)$/i.test(v.trim()) ? Number(v.trim()) : v
    if (typeof n !== 'number' || !Number.isInteger(n)) throw new ConfigError(path, `must be an integer, got ${describe(v)}`)
    if (n < range[0] || n > range[1]) throw new ConfigError(path, `must be in [${range[0]}, ${range[1]}] (${t}), got ${n}`)
    return n
  }
  if (t === 'bytes') {
    if (typeof v === 'string') return v
    throw new ConfigError(path, `must be a base64 string, got ${describe(v)}`)
  }
  throw new ConfigError(path, `unsupported field type ${t}`)
}

function fieldValue(field: protobuf.Field, v: unknown, path: string): JsonValue {
  const resolved = field.resolve().resolvedType
  if (resolved instanceof protobuf.Enum) {
    if (typeof v === 'string' && v in resolved.values) return v
    if (typeof v === 'number' && Object.values(resolved.values).includes(v)) return v
    throw new ConfigError(path, `must be one of ${Object.keys(resolved.values).join(', ')}, got ${describe(v)}`)
  }
  if (resolved instanceof protobuf.Type) {
    if (resolved.fullName === '.google.protobuf.Struct') {
      if (!isPlainObject(v)) throw new ConfigError(path, `must be an object, got ${describe(v)}`)
      return JSON.parse(JSON.stringify(v)) as JsonObject
    }
    return validateMessage(resolved, v, path)
  }
  return scalar(field, v, path)
}

/**
 * Check `json` against message type `type` (proto3 JSON mapping: lowerCamelCase or the proto
 * field names) and return a plain object keyed by the lowerCamelCase names. Unknown fields, wrong
 * types, out-of-range integers and two members of one oneof are `ConfigError`s naming the path.
 */
export function validateMessage(type: protobuf.Type, json: unknown, path: string): JsonObject {
  if (json === null || json === undefined) return {}
  if (!isPlainObject(json)) throw new ConfigError(path || '(root)', `must be an object (${type.name}), got ${describe(json)}`)
  const out: JsonObject = {}
  const byName = new Map<string, protobuf.Field>()
  for (const f of type.fieldsArray) {
    byName.set(f.name, f)
    byName.set(f.jsonName ?? f.name, f)
    byName.set((f as unknown as { protoName?: string }).protoName ?? f.name, f)
  }
  const oneofSeen = new Map<string, string>()
  for (const [key, value] of Object.entries(json)) {
    const p = path === '' ? key : `${path}.${key}`
    const field = byName.get(key)
    if (field === undefined) {
      const names = type.fieldsArray.map((f) => f.name).join(', ')
      throw new ConfigError(p, `unknown field for ${type.name} (expected one of: ${names})`)
    }
    if (value === null || value === undefined) continue
    const oneof = field.partOf
    if (oneof !== null && oneof !== undefined && !oneof.name.startsWith('_')) {
      const other = oneofSeen.get(oneof.name)
      if (other !== undefined) throw new ConfigError(p, `only one of ${oneof.oneof.join(', ')} may be set (also got '${other}')`)
      oneofSeen.set(oneof.name, key)
    }
    if (field.repeated) {
      const arr = Array.isArray(value) ? value : [value]
      out[field.name] = arr.map((item, i) => fieldValue(field, item, `${p}[${i}]`))
    } else {
      out[field.name] = fieldValue(field, value, p)
    }
  }
  return out
}

/** Which member of a oneof is set in a validated object (or undefined). */
export function oneofCase(type: protobuf.Type, oneofName: string, obj: JsonObject): string | undefined {
  const oneof = type.oneofs?.[oneofName]
  if (oneof === undefined) return undefined
  return oneof.oneof.find((name) => obj[name] !== undefined)
}

// ---- google.protobuf.Struct <-> plain JSON, for the binary control plane ----

type StructValue = { nullValue?: number; numberValue?: number; stringValue?: string; boolValue?: boolean; structValue?: { fields?: Record<string, StructValue> }; listValue?: { values?: StructValue[] } }

export function jsonToStructValue(v: JsonValue): StructValue {
  if (v === null) return { nullValue: 0 }
  if (typeof v === 'number') return { numberValue: v }
  if (typeof v === 'string') return { stringValue: v }
  if (typeof v === 'boolean') return { boolValue: v }
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToStructValue) } }
  return { structValue: jsonToStruct(v) }
}

export function jsonToStruct(o: JsonObject): { fields: Record<string, StructValue> } {
  const fields: Record<string, StructValue> = {}
  for (const [k, v] of Object.entries(o)) fields[k] = jsonToStructValue(v)
  return { fields }
}

export function structValueToJson(v: StructValue): JsonValue {
  if (v.numberValue !== undefined) return v.numberValue
  if (v.stringValue !== undefined) return v.stringValue
  if (v.boolValue !== undefined) return v.boolValue
  if (v.listValue !== undefined) return (v.listValue.values ?? []).map(structValueToJson)
  if (v.structValue !== undefined) return structToJson(v.structValue)
  return null
}

export function structToJson(s: { fields?: Record<string, StructValue> }): JsonObject {
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(s.fields ?? {})) out[k] = structValueToJson(v)
  return out
}

/**
 * Convert a validated plain object of `type` into the shape protobufjs `fromObject` takes: Struct
 * fields become `{fields: ...}`. The reverse (`fromProtoObject`) is used on decoded messages.
 */
export function toProtoObject(type: protobuf.Type, obj: JsonObject): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) {
    const field = type.fields[k]
    const rt = field?.resolve().resolvedType
    if (field !== undefined && rt instanceof protobuf.Type) {
      const conv = (x: JsonValue): unknown =>
        rt.fullName === '.google.protobuf.Struct' ? jsonToStruct(x as JsonObject) : toProtoObject(rt, x as JsonObject)
      out[k] = field.repeated ? (v as JsonValue[]).map(conv) : conv(v)
    } else {
      out[k] = v
    }
  }
  return out
}

export function fromProtoObject(type: protobuf.Type, obj: Record<string, unknown>): JsonObject {
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(obj)) {
    const field = type.fields[k]
    if (field === undefined) continue
    const rt = field.resolve().resolvedType
    if (rt instanceof protobuf.Type) {
      const conv = (x: unknown): JsonValue =>
        rt.fullName === '.google.protobuf.Struct' ? structToJson(x as { fields?: Record<string, StructValue> }) : fromProtoObject(rt, x as Record<string, unknown>)
      out[k] = field.repeated ? (v as unknown[]).map(conv) : conv(v)
    } else {
      out[k] = v as JsonValue
    }
  }
  return out
}
