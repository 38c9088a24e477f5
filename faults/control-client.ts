/**
 * A client for the control endpoint (what `nvmf-fault ctl` uses): connect to a Unix socket path or
 * `tcp://127.0.0.1:PORT` (with a token), send requests, await the matching responses.
 */
import net from 'node:net'
import { ConnectionError, InvalidArgumentError, NvmeofError, TimeoutError, type NvmeofErrorCode } from '../lib/errors.js'
import { DelimitedDecoder } from './control-codec.js'
import { loadFaultSchemas, toProtoObject, type FaultSchemas, type JsonObject } from './proto.js'

export interface ControlResponse {
  id: number
  ok: boolean
  error?: { code: string; message: string; path?: string }
  json?: string
  data?: Buffer
}

/** A failed control request, carrying the server's error code and field path. */
export class ControlRequestError extends NvmeofError {
  readonly path: string | undefined
  readonly remoteCode: string
  constructor(err: { code: string; message: string; path?: string }) {
    const known = err.code.startsWith('ERR_NVMEOF_') ? (err.code as NvmeofErrorCode) : 'ERR_NVMEOF_INVALID_STATE'
    super(known, err.message)
    this.remoteCode = err.code
    this.path = err.path
  }
}

export class ControlClient {
  #socket: net.Socket
  #schemas: FaultSchemas
  #nextId = 1
  #pending = new Map<number, { resolve: (r: ControlResponse) => void; reject: (e: unknown) => void }>()
  #token: string | undefined
  #timeoutMs: number
  #closedError: Error | undefined

  private constructor(socket: net.Socket, schemas: FaultSchemas, token: string | undefined, timeoutMs: number) {
    this.#socket = socket
    this.#schemas = schemas
    this.#token = token
    this.#timeoutMs = timeoutMs
    const decoder = new DelimitedDecoder({
      onMessage: (msg) => {
        const res = schemas.Response.toObject(schemas.Response.decode(msg), { longs: Number, bytes: Buffer, defaults: false }) as ControlResponse
        res.ok = res.ok === true // proto3 leaves false out of the decoded object
        const id = res.id ?? 0
        if (id === 0 && res.ok !== true) {
          // A connection-level error (bad framing): the server closes; every pending request fails.
          this.#failAll(new ControlRequestError(res.error ?? { code: 'ERR_INTERNAL', message: 'control connection failed' }))
          return
        }
        const p = this.#pending.get(id)
        if (p === undefined) return
        this.#pending.delete(id)
        p.resolve(res)
      },
    })
    socket.on('data', (c: Buffer) => {
      try {
        decoder.push(c)
      } catch (err) {
        this.#failAll(err as Error)
        socket.destroy()
      }
    })
    socket.on('error', (err) => this.#failAll(new ConnectionError(`control connection: ${err.message}`, { cause: err })))
    socket.on('close', () => this.#failAll(new ConnectionError('control connection closed')))
  }

  #failAll(err: Error): void {
    this.#closedError ??= err
    for (const p of this.#pending.values()) p.reject(err)
    this.#pending.clear()
  }

  /** `endpoint`: a Unix socket path, or tcp://HOST:PORT. */
  static async connect(endpoint: string, opts: { token?: string; timeoutMs?: number } = {}): Promise<ControlClient> {
    const schemas = loadFaultSchemas()
    const m = /^tcp:\/\/(.+):(\d+)$/.exec(endpoint)
    const socket = m !== null ? net.connect({ host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) }) : net.connect({ path: endpoint })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', (err) => reject(new ConnectionError(`cannot connect to control endpoint ${endpoint}: ${err.message}`, { cause: err })))
    })
    const client = new ControlClient(socket, schemas, opts.token, opts.timeoutMs ?? 30_000)
    // TCP endpoints take only a small first frame before the token is shown: authenticate first.
    if (m !== null && opts.token !== undefined) {
      try {
        await client.call('auth')
      } catch (err) {
        client.close()
        throw err
      }
    }
    return client
  }

  /** Send one request (`op` is the Request oneof member, e.g. 'anaSet'); resolve with the response. */
  request(op: string, args: JsonObject = {}): Promise<ControlResponse> {
    if (this.#closedError !== undefined) return Promise.reject(this.#closedError)
    const field = this.#schemas.Request.fields[op]
    if (field === undefined || field.partOf?.name !== 'op') throw new InvalidArgumentError('op', `unknown control operation '${op}'`)
    const id = this.#nextId++
    const rt = field.resolve().resolvedType
    const body = rt !== null && 'fieldsArray' in rt ? toProtoObject(rt as Parameters<typeof toProtoObject>[0], args) : args
    const msg = this.#schemas.Request.fromObject({ id, ...(this.#token !== undefined ? { token: this.#token } : {}), [op]: body })
    return new Promise<ControlResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new TimeoutError(`control request '${op}' got no answer in ${this.#timeoutMs} ms`))
      }, this.#timeoutMs)
      this.#pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer)
          resolve(r)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      this.#socket.write(this.#schemas.Request.encodeDelimited(msg).finish())
    })
  }

  /** Like `request` but throws ControlRequestError on `ok: false` and parses the JSON result. */
  async call(op: string, args: JsonObject = {}): Promise<{ json: unknown; data: Buffer | undefined }> {
    const r = await this.request(op, args)
    if (r.ok !== true) throw new ControlRequestError(r.error ?? { code: 'ERR_INTERNAL', message: 'request failed' })
    return { json: r.json !== undefined && r.json !== '' ? (JSON.parse(r.json) as unknown) : null, data: r.data }
  }

  close(): void {
    this.#socket.end()
  }
}
