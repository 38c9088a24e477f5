/**
 * The NVMe/TCP transport (NVMe/TCP Transport 1.0): ports are listeners, every accepted connection
 * is one NVMe queue (tcp-connection.ts). The transport's files, in the order data flows:
 *
 *   tcp-listener.ts      ports, accept (limits.connectionsPerPort), shutdown, stats
 *   tcp-connection.ts    one connection: its state machine, receive, ICReq/ICResp, capsules
 *   tcp-pdu-checks.ts    ICReq fields, capsule SGL / in-capsule data, rx `mutate` framing
 *   tcp-data-transfer.ts R2T / H2CData state and the byte budget (receive-budget.ts)
 *   tcp-read-gate.ts     when the connection reads (receive-side backpressure, stalls)
 *   tcp-timers.ts        ICReq, Connect, partial-PDU and idle time limits
 *   tcp-writer.ts        the only place PDUs are written (digests, cork/uncork, onPduSend seam)
 *   tcp-send-shaping.ts  send-side fault shapers composed around the writer
 *
 * This is the only part of the target that imports `node:net`. Fault seams: onConnection,
 * onPduReceived, onPduSend here (target/seams); the core runs onCommand/onCompletion.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import type { Clock } from '../../lib/clock.js'
import type { HookSlot } from '../seams/index.js'
import type { PortInfo, TargetCore } from '../core/target-core.js'
import { TcpConnection } from './tcp-connection.js'

export interface TcpTransportOptions {
  core: TargetCore
  logger: Logger
  clock: Clock
  hooks: HookSlot
  /** Log every PDU (trace level). */
  tracePdu?: boolean
}

/** One connection's receive-side state (limits and backpressure observation). */
export interface ConnectionStats {
  connectionId: number
  portId: number
  /** Bytes of command buffers reserved against limits.maxBufferedBytes. */
  heldBytes: number
  /** Commands waiting for room in the budget. */
  waiting: number
  /** R2Ts outstanding. */
  r2t: number
  inflight: number
  /** Reading from the socket is paused. */
  paused: boolean
  /** Bytes of received PDUs not yet delivered (a partial PDU, or PDUs queued while paused). */
  framerBytes: number
}

export interface BoundPort {
  id: number
  address: string
  port: number
}

/** The listener of one port. */
export class TcpPort {
  readonly info: PortInfo
  readonly server: Server
  readonly connections = new Set<TcpConnection>()
  readonly logger: Logger
  constructor(info: PortInfo, server: Server, logger: Logger) {
    this.info = info
    this.server = server
    this.logger = logger
  }
}

export class TcpTransport {
  readonly core: TargetCore
  readonly logger: Logger
  readonly clock: Clock
  readonly hooks: HookSlot
  readonly tracePdu: boolean
  readonly #ports = new Map<number, TcpPort>()
  #nextConnectionId = 1
  #closing = false

  constructor(o: TcpTransportOptions) {
    this.core = o.core
    this.logger = o.logger
    this.clock = o.clock
    this.hooks = o.hooks
    this.tracePdu = o.tracePdu === true
  }

  /** Bind a port; resolves with the bound address (the actual port after listen(0)). */
  async addPort(info: PortInfo): Promise<BoundPort> {
    if (this.#ports.has(info.id)) throw new Error(`port ${info.id} already listening`)
    const logger = this.logger.child({ portId: info.id })
    const server = createServer({ noDelay: true, allowHalfOpen: false })
    const port = new TcpPort(info, server, logger)
    server.on('connection', (socket) => this.#accept(port, socket))
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err)
      server.once('error', onError)
      server.listen({ host: info.address, port: info.port }, () => {
        server.off('error', onError)
        resolve()
      })
    })
    server.on('error', (err) => logger.error({ err }, 'listener error'))
    const addr = server.address()
    if (addr !== null && typeof addr === 'object') info.port = addr.port
    this.#ports.set(info.id, port)
    logger.info({ address: info.address, port: info.port, advertise: info.advertise }, 'listening')
    return { id: info.id, address: info.address, port: info.port }
  }

  /** Stop listening on a port and close its connections (their controllers go away with them). */
  async removePort(id: number): Promise<boolean> {
    const port = this.#ports.get(id)
    if (port === undefined) return false
    this.#ports.delete(id)
    const closed = new Promise<void>((resolve) => port.server.close(() => resolve()))
    for (const c of [...port.connections]) c.close('port removed')
    await closed
    return true
  }

  /** Receive-side state of every open connection (all ports). */
  connectionStats(): ConnectionStats[] {
    return [...this.#ports.values()].flatMap((p) => [...p.connections].map((c) => c.stats()))
  }

  ports(): BoundPort[] {
    return [...this.#ports.values()].map((p) => ({ id: p.info.id, address: p.info.address, port: p.info.port }))
  }

  /** Connections open now (all ports). */
  get connectionCount(): number {
    let n = 0
    for (const p of this.#ports.values()) n += p.connections.size
    return n
  }

  /**
   * Clean shutdown: stop accepting, give in-flight commands up to `graceMs` to complete, then
   * close every connection.
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    const ports = [...this.#ports.values()]
    this.#ports.clear()
    const listenersClosed = ports.map((p) => new Promise<void>((resolve) => p.server.close(() => resolve())))
    const conns = ports.flatMap((p) => [...p.connections])
    // Bounded by iterations, not by the injected clock (a manual clock may not move).
    for (let i = 0; i < graceMs / 10 && conns.some((c) => c.busy); i++) await new Promise((r) => setTimeout(r, 10))
    for (const c of conns) c.close('target shutting down')
    await Promise.all(conns.map((c) => c.closed))
    await Promise.all(listenersClosed)
  }

  #accept(port: TcpPort, socket: Socket): void {
    if (this.#closing) {
      socket.destroy()
      return
    }
    const limit = this.core.config.limits.connectionsPerPort
    if (port.connections.size >= limit) {
      // limits.connectionsPerPort: refused before any state is made for it.
      port.logger.warn({ limit, remote: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}` }, 'connection limit reached: closing new connection')
      socket.on('error', () => undefined)
      socket.destroy()
      return
    }
    const id = this.#nextConnectionId++
    const conn = new TcpConnection({ transport: this, port, socket, connectionId: id })
    port.connections.add(conn)
    void conn.closed.then(() => port.connections.delete(conn))
    conn.start()
  }
}
