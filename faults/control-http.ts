/**
 * The HTTP/JSON control API of a running target (node:http; routes in control-http-routes.ts,
 * verbs in control-verbs.ts — the same code the protobuf socket runs). Also `/healthz`, `/metrics`
 * (Prometheus text, when a registry is given) and `/v1/openapi.json`.
 *
 * Exposure: TCP on a loopback address, unless the address is listed in `allow` (`--http-allow`),
 * and then every request must carry `Authorization: Bearer TOKEN`; and/or a Unix socket that is
 * never looser than 0600. The token (when set) is checked from the headers before any body byte
 * is read; bodies are capped; headers, requests and idle keep-alive connections time out.
 */
import http from 'node:http'
import type net from 'node:net'
import { ConfigError, InvalidArgumentError, NvmeofError } from '../lib/errors.js'
import { compileRoute, openApiDocument, ROUTES, type Route } from './control-http-routes.js'
import { isLoopback, errorObject, tokenOk } from './control-server.js'
import { listenPrivateUnix, unlinkSocket } from './control-unix.js'
import { runVerb } from './control-verbs.js'
import type { FaultController } from './controller.js'
import { validateMessage, type JsonObject } from './proto.js'
import type protobuf from 'protobufjs'

/** Largest request body (a scenario file or a fault spec fits comfortably). */
export const MAX_HTTP_BODY = 8 * 1024 * 1024

export interface MetricsSource {
  contentType: string
  metrics(): Promise<string>
}

export interface HttpApiOptions {
  controller: FaultController
  /** TCP endpoint. The host must be loopback unless it is in `allow`. */
  listen?: { host: string; port: number }
  /** Non-loopback bind addresses permitted (`--http-allow`); any entry makes `token` required. */
  allow?: string[]
  /** Bearer token (at least 16 characters); required when `allow` is non-empty. */
  token?: string
  /** Unix socket path for HTTP (mode 0600). */
  socketPath?: string
  /** Prometheus registry (or anything with `metrics()`) for /metrics. */
  metrics?: MetricsSource
  /** API version in the OpenAPI document (default '1'). */
  version?: string
  /** Idle keep-alive timeout (default 60 s). */
  idleTimeoutMs?: number
}

export interface HttpApi {
  readonly address: { host: string; port: number } | undefined
  readonly socketPath: string | undefined
  /** The OpenAPI document served at /v1/openapi.json. */
  readonly openapi: Record<string, unknown>
  close(): Promise<void>
}

/** A transport-level HTTP refusal (unknown route, method, body size); verb errors are lib/errors.ts types. */
class HttpError extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** HTTP status of an error: 400 for a bad field (404 when it names a missing resource), 409 for a state error. */
function statusFor(err: unknown): number {
  if (err instanceof HttpError) return err.status
  if (err instanceof NvmeofError) {
    if (err.code === 'ERR_NVMEOF_INVALID_ARG' || err.code === 'ERR_NVMEOF_CONFIG') return /\bno (fault|namespace|port|controller|subsystem|referral)\b/.test(err.message) ? 404 : 400
    if (err.code === 'ERR_NVMEOF_INVALID_STATE') return 409
  }
  return 500
}

function send(res: http.ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : `${JSON.stringify(body)}\n`)
  res.writeHead(status, { 'content-type': contentType, 'content-length': buf.length, 'cache-control': 'no-store' })
  res.end(buf)
}

function sendError(res: http.ServerResponse, err: unknown): void {
  const e = err instanceof HttpError ? { code: err.code, message: err.message } : errorObject(err)
  send(res, statusFor(err), { error: e })
}

async function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > max) throw new HttpError(413, 'ERR_NVMEOF_INVALID_ARG', `body of ${declared} bytes exceeds the limit of ${max}`)
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length
    if (n > max) throw new HttpError(413, 'ERR_NVMEOF_INVALID_ARG', `body exceeds the limit of ${max} bytes`)
    chunks.push(c)
  }
  return Buffer.concat(chunks, n)
}

/** Assemble and validate the verb's request from path, query and body. */
function buildArgs(route: Route, type: protobuf.Type, params: Record<string, string>, query: URLSearchParams, body: unknown): JsonObject {
  if (route.bodyIsRequest === true) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ConfigError('(body)', 'must be a JSON object')
    return body as JsonObject
  }
  const raw: Record<string, unknown> = {}
  if (body !== undefined) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ConfigError('(body)', 'must be a JSON object')
    Object.assign(raw, body)
  }
  for (const q of route.query ?? []) {
    const v = query.get(q)
    if (v === null) continue
    raw[q] = type.fields[q]?.type === 'bool' ? v === 'true' || v === '1' || v === '' : v
  }
  for (const [k, v] of Object.entries(params)) raw[route.params?.[k] ?? k] = v
  Object.assign(raw, route.fixed ?? {})
  return validateMessage(type, raw, '')
}

export async function startHttpApi(opts: HttpApiOptions): Promise<HttpApi> {
  const allow = opts.allow ?? []
  if (opts.listen === undefined && opts.socketPath === undefined) throw new InvalidArgumentError('listen', 'give a TCP address or a Unix socket path')
  if (opts.listen !== undefined && !isLoopback(opts.listen.host) && !allow.includes(opts.listen.host))
    throw new InvalidArgumentError('listen.host', `'${opts.listen.host}' is not loopback; add --http-allow ${opts.listen.host} (and a token) to expose it`)
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token.length < 16)) throw new InvalidArgumentError('token', 'must be at least 16 characters')
  if (allow.length > 0 && opts.token === undefined) throw new InvalidArgumentError('token', 'is required when a non-loopback address is allowed (--http-allow)')
  const token = opts.token
  const schemas = opts.controller.engine.schemas
  const openapi = openApiDocument(schemas, opts.version ?? '1')
  const openapiText = `${JSON.stringify(openapi, null, 2)}\n`
  const routes = ROUTES.map((r) => ({ route: r, match: compileRoute(r), type: schemas.Request.fields[r.op]!.resolve().resolvedType as protobuf.Type }))

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const path = url.pathname.replace(/\/+$/, '') || '/'
    if (path === '/healthz' && req.method === 'GET') return send(res, 200, { ok: true })
    if (token !== undefined) {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
      if (m === null || !tokenOk(token, m[1]!)) {
        // Refused from the headers alone: the body is never read, the connection not kept.
        res.setHeader('connection', 'close')
        res.setHeader('www-authenticate', 'Bearer')
        return send(res, 401, { error: { code: 'ERR_NVMEOF_INVALID_ARG', message: "'token' missing or wrong bearer token", path: 'token' } })
      }
    }
    if (path === '/v1/openapi.json' && req.method === 'GET') return send(res, 200, openapiText)
    if (path === '/metrics' && req.method === 'GET') {
      if (opts.metrics === undefined) throw new HttpError(404, 'ERR_NOT_FOUND', 'metrics are not enabled on this target')
      return send(res, 200, await opts.metrics.metrics(), opts.metrics.contentType)
    }
    let methodMismatch = false
    for (const r of routes) {
      const params = r.match(path)
      if (params === undefined) continue
      if (r.route.method !== req.method) {
        methodMismatch = true
        continue
      }
      const bodyBytes = r.route.body === true || r.route.bodyIsRequest === true ? await readBody(req, MAX_HTTP_BODY) : undefined
      let body: unknown
      if (bodyBytes !== undefined && bodyBytes.length > 0) {
        const ct = String(req.headers['content-type'] ?? 'application/json')
        if (r.route.op === 'scenarioRun' && !ct.includes('json')) body = { text: bodyBytes.toString('utf8') }
        else {
          try {
            body = JSON.parse(bodyBytes.toString('utf8'))
          } catch (err) {
            throw new ConfigError('(body)', `is not valid JSON: ${(err as Error).message}`)
          }
        }
      }
      if (r.route.op === 'scenarioRun' && typeof body === 'object' && body !== null && 'scenario' in body) {
        // Convenience: {"scenario": {...}} is the scenario as a JSON object.
        const { scenario, ...rest } = body as Record<string, unknown>
        body = { ...rest, text: JSON.stringify(scenario) }
      }
      const args = buildArgs(r.route, r.type, params, url.searchParams, body)
      const out = await runVerb(opts.controller, r.route.op, args)
      if (out.data !== undefined) return send(res, 200, out.data, out.contentType ?? 'application/octet-stream')
      return send(res, 200, out.json ?? null)
    }
    if (methodMismatch) throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}`)
    throw new HttpError(404, 'ERR_NOT_FOUND', `no route ${req.method} ${path}`)
  }

  const makeServer = (): http.Server => {
    const server = http.createServer({ requestTimeout: 60_000, headersTimeout: 10_000, maxHeaderSize: 16 * 1024 }, (req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, err)
        else res.destroy()
      })
    })
    server.keepAliveTimeout = opts.idleTimeoutMs ?? 60_000
    server.timeout = opts.idleTimeoutMs ?? 60_000
    return server
  }
  const servers: http.Server[] = []
  let address: { host: string; port: number } | undefined
  try {
    if (opts.listen !== undefined) {
      const server = makeServer()
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: opts.listen!.host, port: opts.listen!.port }, () => {
          server.off('error', reject)
          resolve()
        })
      })
      const a = server.address() as net.AddressInfo
      address = { host: a.address, port: a.port }
    }
    if (opts.socketPath !== undefined) {
      const server = makeServer()
      servers.push(server)
      await listenPrivateUnix(server, opts.socketPath, 'socketPath')
    }
  } catch (err) {
    for (const s of servers) s.close()
    throw err
  }
  return {
    address,
    socketPath: opts.socketPath,
    openapi,
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve())
              s.closeAllConnections()
            }),
        ),
      )
      if (opts.socketPath !== undefined) unlinkSocket(opts.socketPath)
    },
  }
}
