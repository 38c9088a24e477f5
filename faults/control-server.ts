/**
 * The control endpoint of a running target: a Unix stream socket created with mode 0600 and,
 * optionally, TCP on a loopback address with a token. Requests and responses are length-delimited
 * protobuf (proto/control.proto). A bad request gets `ok: false` with the error's code, message and
 * field path; the connection and the target keep running.
 */
import { timingSafeEqual } from 'node:crypto'
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs'
import { isIP } from 'node:net'
import net from 'node:net'
import { InvalidArgumentError, NvmeofError } from '../lib/errors.js'
import { DelimitedDecoder } from './control-codec.js'
import type { FaultController } from './controller.js'
import { fromProtoObject, type JsonObject } from './proto.js'
import type { TraceFormat } from './trace.js'

export interface ControlServerOptions {
  controller: FaultController
  /** Unix socket path (created with mode 0600; a stale socket file is replaced). */
  path?: string
  /** Optional TCP endpoint: loopback only, and every request must carry `token`. */
  tcp?: { host: string; port: number; token: string }
  /** Called on a connection-level error (bad framing); the connection is closed. */
  onError?: (err: unknown) => void
}

export interface ControlServer {
  /** The Unix path and/or the bound TCP address. */
  readonly path: string | undefined
  readonly tcpAddress: { host: string; port: number } | undefined
  close(): Promise<void>
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1'
  return false
}

function tokenOk(expected: string, got: string): boolean {
  const a = Buffer.from(expected)
  const b = Buffer.from(got)
  return a.length === b.length && timingSafeEqual(a, b)
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  if (opts.path === undefined && opts.tcp === undefined) throw new InvalidArgumentError('path', 'give a Unix socket path or a tcp endpoint')
  if (opts.tcp !== undefined) {
    if (!isLoopback(opts.tcp.host)) throw new InvalidArgumentError('tcp.host', `must be a loopback address (127.0.0.0/8 or ::1), got '${opts.tcp.host}'`)
    if (typeof opts.tcp.token !== 'string' || opts.tcp.token.length < 8) throw new InvalidArgumentError('tcp.token', 'must be a string of at least 8 characters')
  }
  const servers: net.Server[] = []
  const sockets = new Set<net.Socket>()
  const schemas = opts.controller.engine.schemas

  const serve = (socket: net.Socket, token: string | undefined): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    // Requests on one connection are answered in order.
    let chain = Promise.resolve()
    const decoder = new DelimitedDecoder({
      onMessage: (msg) => {
        const copy = Buffer.from(msg)
        chain = chain.then(async () => {
          const res = await handleRequest(opts.controller, copy, token)
          if (!socket.destroyed) socket.write(schemas.Response.encodeDelimited(schemas.Response.fromObject(res)).finish())
        })
      },
    })
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk)
      } catch (err) {
        opts.onError?.(err)
        const res = { id: 0, ok: false, error: errorObject(err) }
        socket.end(schemas.Response.encodeDelimited(schemas.Response.fromObject(res)).finish())
      }
    })
  }

  let path: string | undefined
  if (opts.path !== undefined) {
    path = opts.path
    removeStaleSocket(path)
    const server = net.createServer((s) => serve(s, undefined))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ path, readableAll: false, writableAll: false }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    // Only the owner may drive the target (the socket is created with the process umask).
    chmodSync(path, 0o600)
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
      if (path !== undefined && existsSync(path)) {
        try {
          unlinkSync(path)
        } catch {
          // already gone
        }
      }
    },
  }
}

function removeStaleSocket(path: string): void {
  if (!existsSync(path)) return
  if (!lstatSync(path).isSocket()) throw new InvalidArgumentError('path', `'${path}' exists and is not a socket`)
  unlinkSync(path)
}

interface ResponseObject {
  id: number
  ok: boolean
  error?: { code: string; message: string; path?: string }
  json?: string
  data?: Buffer
}

function errorObject(err: unknown): { code: string; message: string; path?: string } {
  if (err instanceof NvmeofError) {
    const o: { code: string; message: string; path?: string } = { code: err.code, message: err.message }
    const p = (err as { path?: unknown }).path ?? (err as { field?: unknown }).field
    if (typeof p === 'string') o.path = p
    return o
  }
  return { code: 'ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) }
}

/** Decode one request, run it on the controller, and build the response (never throws). */
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
    const json = (v: unknown): ResponseObject => ({ id, ok: true, json: JSON.stringify(v ?? null) })
    switch (op) {
      case 'status':
        return json(controller.status())
      case 'anaSet':
        await controller.setAna((args.port as number | undefined) ?? 0, (args.group as number | undefined) ?? 0, (args.state as string | undefined) ?? '')
        return json(controller.status().target)
      case 'ns':
        return json(await controller.namespace(args as unknown as Parameters<FaultController['namespace']>[0] & JsonObject))
      case 'faultAdd':
        return json({ id: controller.addFault(args) })
      case 'faultList':
        return json(controller.listFaults())
      case 'faultClear':
        return json({ removed: controller.clearFaults(args.id as string | undefined) })
      case 'scenarioRun': {
        const run = await controller.runScenario((args.text as string | undefined) ?? '', {
          ...(args.seed !== undefined ? { seed: args.seed as number } : {}),
          ...(typeof args.source === 'string' ? { source: args.source } : {}),
        })
        return json({ name: run.scenario.name, seed: String(run.seed), state: run.state })
      }
      case 'scenarioWait':
        return json(await controller.waitScenario((args.state as string | undefined) ?? 'finished', (args.timeoutMs as number | undefined) ?? 0))
      case 'scenarioStop':
        return json({ stopped: controller.stopScenario() })
      case 'traceDump': {
        const format = ((args.format as string | undefined) ?? 'jsonl') as TraceFormat
        return { id, ok: true, data: controller.dumpTrace(format, { clear: args.clear === true }) }
      }
      case 'port': {
        const portId = (args.port as number | undefined) ?? 0
        if (args.op === 'add') {
          const r = await controller.addPort({ portId, ...(typeof args.address === 'string' ? { address: args.address } : {}), ...(typeof args.trsvcid === 'number' ? { trsvcid: args.trsvcid } : {}) })
          return json(r ?? null)
        }
        if (args.op === 'remove') {
          await controller.removePort(portId)
          return json(null)
        }
        throw new InvalidArgumentError('port.op', `must be add or remove, got '${String(args.op ?? '')}'`)
      }
      case 'controller': {
        if (args.op === 'fatal') {
          await controller.controllerFatal((args.cntlid as number | undefined) ?? 0)
          return json(null)
        }
        if (args.op === 'delete') {
          const f: { cntlid?: number; portId?: number; hostnqn?: string } = {}
          if (typeof args.cntlid === 'number') f.cntlid = args.cntlid
          if (typeof args.port === 'number') f.portId = args.port
          if (typeof args.hostnqn === 'string') f.hostnqn = args.hostnqn
          return json((await controller.deleteControllers(f)) ?? null)
        }
        throw new InvalidArgumentError('controller.op', `must be fatal or delete, got '${String(args.op ?? '')}'`)
      }
      case 'aen':
        await controller.raiseAen((args.event as string | undefined) ?? '', {
          ...(typeof args.port === 'number' ? { portId: args.port } : {}),
          ...(Array.isArray(args.nsids) && args.nsids.length > 0 ? { nsids: args.nsids as number[] } : {}),
          ...(typeof args.count === 'number' ? { count: args.count } : {}),
        })
        return json(null)
      default:
        throw new InvalidArgumentError('op', `unsupported operation '${op}'`)
    }
  } catch (err) {
    return { id, ok: false, error: errorObject(err) }
  }
}
