/**
 * The control endpoint of a running target: a Unix stream socket that is never looser than mode
 * 0600 and, optionally, TCP on a loopback address with a token. Requests and responses are
 * length-delimited protobuf (proto/control.proto); each verb runs through control-verbs.ts, the
 * same code the HTTP API calls. A bad request gets `ok: false` with the error's code, message and
 * field path; the connection and the target keep running.
 *
 * Hardening (a peer on TCP is untrusted until it shows the token):
 * - the first frame must be a small Request carrying the token (any verb, or `auth`); until then a
 *   frame may be at most `preAuthMaxBytes` (4 KiB) and a wrong or missing token closes the
 *   connection at once, before anything is run or buffered beyond that;
 * - the decoder is O(n) in the bytes received (control-codec.ts);
 * - every connection is closed after `idleTimeoutMs` without traffic.
 */
import { timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import net from 'node:net'
import { InvalidArgumentError, NvmeofError } from '../lib/errors.js'
import { DelimitedDecoder, MAX_CONTROL_MESSAGE } from './control-codec.js'
import { listenPrivateUnix, unlinkSocket } from './control-unix.js'
import { runVerb } from './control-verbs.js'
import type { FaultController } from './controller.js'
import { fromProtoObject } from './proto.js'

/** Largest frame accepted from a TCP peer before it authenticated: a Request with a token fits. */
export const PRE_AUTH_MAX_BYTES = 4096
/** Default idle timeout of a control connection. */
export const CONTROL_IDLE_TIMEOUT_MS = 5 * 60_000

export interface ControlServerOptions {
  controller: FaultController
  /** Unix socket path (never looser than 0600; a stale socket file is replaced). */
  path?: string
  /** Optional TCP endpoint: loopback only, and the first frame must carry `token`. */
  tcp?: { host: string; port: number; token: string }
  /** Close a connection after this long without traffic (default 5 minutes). */
  idleTimeoutMs?: number
  /** Largest frame before authentication on TCP (default 4096). */
  preAuthMaxBytes?: number
  /** Called on a connection-level error (bad framing, failed authentication); the connection is closed. */
  onError?: (err: unknown) => void
}

export interface ControlServer {
  /** The Unix path and/or the bound TCP address. */
  readonly path: string | undefined
  readonly tcpAddress: { host: string; port: number } | undefined
  close(): Promise<void>
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || host.startsWith('::ffff:127.')
  return false
}

export function tokenOk(expected: string, got: string): boolean {
  const a = Buffer.from(expected)
  const b = Buffer.from(got)
  return a.length === b.length && timingSafeEqual(a, b)
}

function positive(v: number | undefined, field: string, dflt: number): number {
  if (v === undefined) return dflt
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(field, `must be a positive integer, got ${String(v)}`)
  return v
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  if (opts.path === undefined && opts.tcp === undefined) throw new InvalidArgumentError('path', 'give a Unix socket path or a tcp endpoint')
  if (opts.tcp !== undefined) {
    if (!isLoopback(opts.tcp.host)) throw new InvalidArgumentError('tcp.host', `must be a loopback address (127.0.0.0/8 or ::1), got '${opts.tcp.host}'`)
    if (typeof opts.tcp.token !== 'string' || opts.tcp.token.length < 8) throw new InvalidArgumentError('tcp.token', 'must be a string of at least 8 characters')
  }
  const idleMs = positive(opts.idleTimeoutMs, 'idleTimeoutMs', CONTROL_IDLE_TIMEOUT_MS)
  const preAuthMax = positive(opts.preAuthMaxBytes, 'preAuthMaxBytes', PRE_AUTH_MAX_BYTES)
  const servers: net.Server[] = []
  const sockets = new Set<net.Socket>()
  const schemas = opts.controller.engine.schemas
  const encode = (res: ResponseObject): Uint8Array => schemas.Response.encodeDelimited(schemas.Response.fromObject(res)).finish()

  const serve = (socket: net.Socket, token: string | undefined): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.setTimeout(idleMs, () => socket.destroy())
    let authenticated = token === undefined
    const refuse = (err: unknown): void => {
      opts.onError?.(err)
      socket.end(encode({ id: 0, ok: false, error: errorObject(err) }))
      socket.destroySoon()
    }
    // Requests on one connection are answered in order.
    let chain = Promise.resolve()
    const decoder = new DelimitedDecoder({
      maxMessage: authenticated ? MAX_CONTROL_MESSAGE : preAuthMax,
      onMessage: (msg) => {
        if (socket.destroyed || socket.writableEnded) return
        if (!authenticated) {
          // Checked synchronously on the first frame: nothing else is queued or run before it.
          if (!frameHasToken(opts.controller, msg, token!)) {
            decoder.setMaxMessage(0)
            throw new InvalidArgumentError('token', 'missing or wrong token')
          }
          authenticated = true
          decoder.setMaxMessage(MAX_CONTROL_MESSAGE)
        }
        const copy = Buffer.from(msg)
        chain = chain.then(async () => {
          const res = await handleRequest(opts.controller, copy, undefined)
          if (!socket.destroyed) socket.write(encode(res))
        })
      },
    })
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk)
      } catch (err) {
        socket.removeAllListeners('data')
        socket.pause()
        refuse(err)
      }
    })
  }

  let path: string | undefined
  if (opts.path !== undefined) {
    path = opts.path
    const server = net.createServer((s) => serve(s, undefined))
    await listenPrivateUnix(server, path)
    servers.push(server)
  }
  let tcpAddress: { host: string; port: number } | undefined
  if (opts.tcp !== undefined) {
    const { token } = opts.tcp
    const server = net.createServer((s) => serve(s, token))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: opts.tcp!.host, port: opts.tcp!.port }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const a = server.address() as net.AddressInfo
    tcpAddress = { host: a.address, port: a.port }
    servers.push(server)
  }
  return {
    path,
    tcpAddress,
    close: async () => {
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
      if (path !== undefined) unlinkSocket(path)
    },
  }
}

/** Whether a first frame is a Request whose token matches (a frame that does not decode does not). */
function frameHasToken(controller: FaultController, bytes: Buffer, token: string): boolean {
  try {
    const req = controller.engine.schemas.Request.decode(bytes) as unknown as { token?: string }
    return tokenOk(token, typeof req.token === 'string' ? req.token : '')
  } catch {
    return false
  }
}

interface ResponseObject {
  id: number
  ok: boolean
  error?: { code: string; message: string; path?: string }
  json?: string
  data?: Buffer
}

export function errorObject(err: unknown): { code: string; message: string; path?: string } {
  if (err instanceof NvmeofError) {
    const o: { code: string; message: string; path?: string } = { code: err.code, message: err.message }
    const p = (err as { path?: unknown }).path ?? (err as { field?: unknown }).field
    if (typeof p === 'string') o.path = p
    return o
  }
  return { code: 'ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) }
}

/**
 * Decode one request, run its verb, and build the response (never throws). `token`, when given, is
 * checked on this request too (in-process callers; the server checks it once, on the first frame).
 */
export async function handleRequest(controller: FaultController, bytes: Buffer, token: string | undefined): Promise<ResponseObject> {
  const schemas = controller.engine.schemas
  let id = 0
  try {
    let obj: Record<string, unknown>
    try {
      obj = schemas.Request.toObject(schemas.Request.decode(bytes), { longs: Number, oneofs: true, defaults: false }) as Record<string, unknown>
    } catch (err) {
      throw new InvalidArgumentError('request', `not a valid Request message: ${(err as Error).message}`)
    }
    id = typeof obj.id === 'number' ? obj.id : 0
    if (token !== undefined && !tokenOk(token, typeof obj.token === 'string' ? obj.token : '')) {
      throw new InvalidArgumentError('token', 'missing or wrong token')
    }
    const op = obj.op as string | undefined
    if (op === undefined) throw new InvalidArgumentError('op', 'the request names no operation')
    const field = schemas.Request.fields[op]!
    const rt = field.resolve().resolvedType as Parameters<typeof fromProtoObject>[0]
    const args = fromProtoObject(rt, (obj[op] ?? {}) as Record<string, unknown>)
    const r = await runVerb(controller, op, args)
    if (r.data !== undefined) return { id, ok: true, data: r.data }
    return { id, ok: true, json: JSON.stringify(r.json ?? null) }
  } catch (err) {
    return { id, ok: false, error: errorObject(err) }
  }
}
