/**
 * The HTTP/JSON API's routes: each maps a method and a resource path (`/v1/...`) onto one verb of
 * control-verbs.ts and says how the verb's request message (proto/control.proto) is assembled from
 * path parameters, query parameters and the JSON body. The OpenAPI 3 document is generated from this
 * table and the proto types, so the document, the validation and the verbs cannot drift apart.
 */
import protobuf from 'protobufjs'
import type { FaultSchemas, JsonObject } from './proto.js'
import { STATUS_SECTIONS } from './control-verbs.js'

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** Path template, `{name}` for a parameter. */
  path: string
  /** The verb (a `Request.op` member). */
  op: string
  summary: string
  /** Fixed fields merged into the request (e.g. `{op: 'add'}`). */
  fixed?: JsonObject
  /** Path parameter -> request field (default: same name). */
  params?: Record<string, string>
  /** Query parameters accepted, with their request field (default: same name). */
  query?: string[]
  /** The JSON body is merged into the request (default for POST/PUT). */
  body?: boolean
  /** The body is the request as-is (faultAdd: the FaultSpec). */
  bodyIsRequest?: boolean
  /** The response is bytes (trace dump). */
  binary?: boolean
}

const NS_ACTIONS = ['enable', 'disable', 'uuid', 'nguid', 'group', 'resize'] as const

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/v1/status', op: 'status', summary: 'Status snapshot: target, faults, scenario, trace', query: ['section'] },
  { method: 'GET', path: '/v1/ports', op: 'status', summary: 'List ports', fixed: { section: 'ports' } },
  { method: 'POST', path: '/v1/ports', op: 'port', summary: 'Add a port (body: port, address, trsvcid, subsystems: absent = every subsystem, [] = none until linked)', fixed: { op: 'add' }, body: true },
  { method: 'DELETE', path: '/v1/ports/{port}', op: 'port', summary: 'Remove a port', fixed: { op: 'remove' } },
  { method: 'PUT', path: '/v1/ports/{port}/subsystems/{nqn}', op: 'port', summary: 'Expose a subsystem on a port (nvmet ports/<id>/subsystems link); bumps the discovery genctr', fixed: { op: 'link' }, params: { nqn: 'subnqn' } },
  { method: 'DELETE', path: '/v1/ports/{port}/subsystems/{nqn}', op: 'port', summary: "Hide a subsystem on a port (unlink): its controllers on that port are deleted; bumps the discovery genctr", fixed: { op: 'unlink' }, params: { nqn: 'subnqn' } },
  { method: 'GET', path: '/v1/subsystems', op: 'status', summary: 'List subsystems with hosts and namespaces', fixed: { section: 'subsystems' } },
  { method: 'POST', path: '/v1/subsystems', op: 'subsystem', summary: 'Add a subsystem (body: nqn, config: the target-config subsystem shape)', fixed: { op: 'add' }, body: true },
  { method: 'DELETE', path: '/v1/subsystems/{nqn}', op: 'subsystem', summary: 'Remove a subsystem', fixed: { op: 'remove' } },
  { method: 'POST', path: '/v1/subsystems/{nqn}/hosts', op: 'subsystem', summary: 'Allow a host NQN (body: hostnqn)', fixed: { op: 'host-add' }, body: true },
  { method: 'DELETE', path: '/v1/subsystems/{nqn}/hosts/{hostnqn}', op: 'subsystem', summary: 'Disallow a host NQN', fixed: { op: 'host-remove' } },
  { method: 'PUT', path: '/v1/subsystems/{nqn}/max-io-queues', op: 'subsystem', summary: 'Set the I/O queue limit (body: maxIoQueues, 1-128; nvmet attr_qid_max); the subsystem\'s controllers are deleted so hosts reconnect with it', fixed: { op: 'max-io-queues' }, body: true },
  { method: 'POST', path: '/v1/subsystems/{nqn}/namespaces', op: 'ns', summary: 'Add a namespace (body: nsid, sizeBytes, blockSize, group, uuid, disabled)', fixed: { op: 'add' }, params: { nqn: 'subnqn' }, body: true },
  { method: 'DELETE', path: '/v1/subsystems/{nqn}/namespaces/{nsid}', op: 'ns', summary: 'Remove a namespace', fixed: { op: 'remove' }, params: { nqn: 'subnqn' } },
  ...NS_ACTIONS.map(
    (a): Route => ({
      method: 'POST',
      path: `/v1/subsystems/{nqn}/namespaces/{nsid}/${a}`,
      op: 'ns',
      summary: {
        enable: 'Enable a namespace',
        disable: 'Disable a namespace',
        uuid: 'New UUID for a disabled namespace (body: uuid; empty = from the run PRNG)',
        nguid: 'New NGUID for a disabled namespace (body: nguid; empty = from the run PRNG)',
        group: 'Move a namespace to an ANA group (body: group)',
        resize: 'Resize a namespace (body: sizeBytes)',
      }[a],
      fixed: { op: a },
      params: { nqn: 'subnqn' },
      body: true,
    }),
  ),
  { method: 'PUT', path: '/v1/hosts/{hostnqn}/dhchap', op: 'hostAuth', summary: 'Give a host DH-HMAC-CHAP keys for its next Connects (body: dhchapKey, dhchapCtrlKey, dhchapHashes, dhchapDhgroups)', fixed: { op: 'set' }, body: true },
  { method: 'PATCH', path: '/v1/hosts/{hostnqn}/dhchap', op: 'hostAuth', summary: "Change some of a host's DH-HMAC-CHAP settings, keeping the others (nvmet hosts/<nqn>/dhchap_key, dhchap_ctrl_key, dhchap_hash, dhchap_dhgroup); a host without keys needs dhchapKey", fixed: { op: 'update' }, body: true },
  { method: 'DELETE', path: '/v1/hosts/{hostnqn}/dhchap', op: 'hostAuth', summary: "Forget a host's DH-HMAC-CHAP keys (its next Connects need no authentication)", fixed: { op: 'remove' } },
  { method: 'GET', path: '/v1/ana', op: 'status', summary: 'ANA state per subsystem x port x group', fixed: { section: 'ana' } },
  { method: 'PUT', path: '/v1/ana/{port}/{group}', op: 'anaSet', summary: 'Set the ANA state of a group on a port (body: state); raises the ANA-change AEN', body: true },
  { method: 'GET', path: '/v1/faults', op: 'faultList', summary: 'List faults with their counters (seen, fired)' },
  { method: 'POST', path: '/v1/faults', op: 'faultAdd', summary: 'Add a fault (body: a FaultSpec, proto/scenario.proto)', bodyIsRequest: true },
  { method: 'DELETE', path: '/v1/faults', op: 'faultClear', summary: 'Remove every fault' },
  { method: 'GET', path: '/v1/faults/{id}', op: 'faultGet', summary: 'One fault with its counters' },
  { method: 'DELETE', path: '/v1/faults/{id}', op: 'faultClear', summary: 'Remove one fault' },
  { method: 'GET', path: '/v1/scenario', op: 'scenarioState', summary: 'State of the current scenario run' },
  { method: 'POST', path: '/v1/scenario', op: 'scenarioRun', summary: 'Run a scenario (JSON body {text, seed, source}, or the YAML/JSON file itself with Content-Type application/yaml)', query: ['seed', 'source'], body: true },
  { method: 'DELETE', path: '/v1/scenario', op: 'scenarioStop', summary: 'Stop the scenario and remove its faults' },
  { method: 'POST', path: '/v1/scenario/wait', op: 'scenarioWait', summary: 'Wait until the scenario is running or finished (JSON body {state, timeoutMs}; 0 = no limit)', body: true },
  { method: 'GET', path: '/v1/controllers', op: 'controller', summary: 'List controllers', fixed: { op: 'list' } },
  { method: 'DELETE', path: '/v1/controllers', op: 'controller', summary: 'Delete controllers (query: port, hostnqn); hosts reconnect', fixed: { op: 'delete' }, query: ['port', 'hostnqn'] },
  { method: 'DELETE', path: '/v1/controllers/{cntlid}', op: 'controller', summary: 'Delete one controller', fixed: { op: 'delete' } },
  { method: 'POST', path: '/v1/controllers/{cntlid}/fatal', op: 'controller', summary: 'Set CSTS.CFS on a controller', fixed: { op: 'fatal' } },
  { method: 'POST', path: '/v1/aens', op: 'aen', summary: 'Raise asynchronous events (body: event, count, port, nsids)', body: true },
  { method: 'GET', path: '/v1/referrals', op: 'status', summary: 'List discovery referrals', fixed: { section: 'referrals' } },
  { method: 'POST', path: '/v1/referrals', op: 'referral', summary: 'Add a referral (body: address, trsvcid, port)', fixed: { op: 'add' }, body: true },
  { method: 'DELETE', path: '/v1/referrals', op: 'referral', summary: 'Remove referrals (query: address, trsvcid)', fixed: { op: 'remove' }, query: ['address', 'trsvcid'] },
  { method: 'GET', path: '/v1/trace', op: 'traceDump', summary: 'Export the event trace (format: jsonl, proto, pcap; pcap needs --record-pdus)', query: ['format', 'clear'], binary: true },
  { method: 'GET', path: '/v1/config', op: 'configExport', summary: 'Export the live configuration (format: native or nvmetcli)', query: ['format'] },
]

/** `/v1/faults/{id}` -> a matcher that returns the decoded parameters. */
export function compileRoute(r: Route): (path: string) => Record<string, string> | undefined {
  const names: string[] = []
  const re = new RegExp(`^${r.path.replace(/\{(\w+)\}/g, (_m, n: string) => (names.push(n), '([^/]+)'))}$`)
  return (path) => {
    const m = re.exec(path)
    if (m === null) return undefined
    const out: Record<string, string> = {}
    names.forEach((n, i) => (out[n] = decodeURIComponent(m[i + 1]!)))
    return out
  }
}

// ---- OpenAPI 3 ------------------------------------------------------------------------------

type Schema = Record<string, unknown>

function fieldSchema(f: protobuf.Field, defs: Record<string, Schema>): Schema {
  const rt = f.resolve().resolvedType
  let s: Schema
  if (rt instanceof protobuf.Enum) s = { type: 'string', enum: Object.keys(rt.values) }
  else if (rt instanceof protobuf.Type) {
    if (rt.fullName === '.google.protobuf.Struct') s = { type: 'object', additionalProperties: true }
    else s = { $ref: `#/components/schemas/${typeSchema(rt, defs)}` }
  } else if (f.type === 'string') s = { type: 'string' }
  else if (f.type === 'bool') s = { type: 'boolean' }
  else if (f.type === 'double' || f.type === 'float') s = { type: 'number' }
  else if (f.type === 'bytes') s = { type: 'string', format: 'byte' }
  else if (/64/.test(f.type)) s = { oneOf: [{ type: 'integer' }, { type: 'string', pattern: '^(0x[0-9a-fA-F]+|-?[0-9]+)$' }] }
  else s = { type: 'integer', ...(f.type.startsWith('u') || f.type.startsWith('fixed') ? { minimum: 0 } : {}) }
  if (f.comment) s = { ...s, description: f.comment }
  return f.repeated ? { type: 'array', items: s } : s
}

function typeSchema(t: protobuf.Type, defs: Record<string, Schema>): string {
  const name = t.name
  if (defs[name] !== undefined) return name
  defs[name] = {} // cycles
  const properties: Record<string, Schema> = {}
  for (const f of t.fieldsArray) properties[f.jsonName ?? f.name] = fieldSchema(f, defs)
  defs[name] = { type: 'object', additionalProperties: false, properties, ...(t.comment ? { description: t.comment } : {}) }
  return name
}

const ERROR_SCHEMA: Schema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'stable error code (ERR_NVMEOF_*), as on the protobuf control socket' },
        message: { type: 'string' },
        path: { type: 'string', description: 'the dotted path of the bad field' },
      },
    },
  },
}

/** The OpenAPI 3.0 document of the API (served at /v1/openapi.json and checked in as docs/openapi.json). */
export function openApiDocument(schemas: FaultSchemas, version: string): Schema {
  const defs: Record<string, Schema> = { Error: ERROR_SCHEMA }
  const paths: Record<string, Record<string, Schema>> = {}
  const errors = {
    '400': { description: 'invalid request; the error names the field', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    '401': { description: 'missing or wrong bearer token', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    '409': { description: 'not possible in the current state', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  }
  for (const r of ROUTES) {
    const rt = schemas.Request.fields[r.op]!.resolve().resolvedType as protobuf.Type
    const reqName = typeSchema(rt, defs)
    const params: Schema[] = []
    for (const m of r.path.matchAll(/\{(\w+)\}/g)) params.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })
    for (const q of r.query ?? []) {
      const f = rt.fields[q]
      params.push({ name: q, in: 'query', required: false, schema: f !== undefined ? fieldSchema(f, defs) : { type: 'string' } })
    }
    if (r.op === 'status' && r.fixed === undefined) params[0] = { ...params[0], schema: { type: 'string', enum: [...STATUS_SECTIONS] } }
    const op: Schema = {
      operationId: `${r.method.toLowerCase()}${r.path.replace(/\{(\w+)\}/g, 'By-$1').split(/[/-]/).map((p) => (p === '' || p === 'v1' ? '' : p[0]!.toUpperCase() + p.slice(1))).join('')}`,
      summary: r.summary,
      'x-verb': r.op,
      ...(r.fixed !== undefined ? { 'x-fixed-fields': r.fixed } : {}),
      ...(params.length > 0 ? { parameters: params } : {}),
      responses: {
        '200': r.binary
          ? { description: 'the trace', content: { 'application/jsonl': {}, 'application/vnd.tcpdump.pcap': {}, 'application/octet-stream': {} } }
          : { description: 'the result as JSON', content: { 'application/json': { schema: {} } } },
        ...errors,
      },
    }
    if (r.body === true || r.bodyIsRequest === true) {
      const content: Schema = { 'application/json': { schema: { $ref: `#/components/schemas/${reqName}` } } }
      if (r.op === 'scenarioRun') content['application/yaml'] = { schema: { type: 'string', description: 'the scenario file' } }
      op.requestBody = { required: r.bodyIsRequest === true, content }
    }
    ;(paths[r.path] ??= {})[r.method.toLowerCase()] = op
  }
  paths['/healthz'] = { get: { operationId: 'getHealthz', summary: 'Liveness (no token needed)', responses: { '200': { description: 'ok' } } } }
  paths['/metrics'] = { get: { operationId: 'getMetrics', summary: 'Prometheus text format metrics', responses: { '200': { description: 'metrics', content: { 'text/plain': {} } } } } }
  paths['/v1/openapi.json'] = { get: { operationId: 'getOpenapi', summary: 'This document', responses: { '200': { description: 'OpenAPI 3 document', content: { 'application/json': {} } } } } }
  return {
    openapi: '3.0.3',
    info: { title: 'nvmf-fault control API', version, description: 'The verbs of the protobuf control socket (proto/control.proto) as resource-style JSON over HTTP.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: defs },
    security: [{}, { bearer: [] }],
    paths,
  }
}
