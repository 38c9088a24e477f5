/**
 * The NVMe/TCP transport (NVMe/TCP Transport 1.0) — the only module of the target that imports
 * `node:net`. Ports are listeners; every accepted connection is one NVMe queue:
 *
 * - ICReq/ICResp (section 3.6.2.2): PFV 0, CPDA 0 (the Linux host rejects anything else), the
 *   digests echoed as the host asks, MAXH2CDATA; HPDA is honoured when placing C2H data.
 * - Framing with lib/framer.ts; any header violation sends a C2HTermReq with FES/FEI and closes.
 * - In-capsule data up to the advertised capsule size (and up to 8 KiB on the admin queue and for
 *   Connect, which the Linux host sends in-capsule whatever IOCCSZ says; wire spec 10.1).
 * - R2T + H2CData for larger writes (the host splits by MAXH2CDATA), C2HData for reads, with the
 *   SUCCESS flag only when the host disabled SQ flow control (wire spec 10.2).
 * - Backpressure both ways: a capsule beyond the queue depth (SQSIZE+1) is a PDU sequence error;
 *   every command buffer (R2T, read data) is reserved against the connection's byte budget before
 *   it is allocated (receive-budget.ts); reading pauses at the queue depth and, whatever the R2T
 *   state, while the socket's write side needs a 'drain'; writes are corked scatter-gather (header,
 *   data, digest as separate buffers, never concatenated).
 * - Limits (target/limits.ts): connections per port, time to ICReq, to Connect after ICResp, to
 *   finish a started PDU, and idle time of a queue no keep-alive covers.
 * - Fault seams: onConnection, onPduReceived, onPduSend (the core runs onCommand/onCompletion).
 *   With no hooks installed nothing here awaits.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import { FES, NvmeTcpProtocolError } from '../../lib/errors.js'
import { PduFramer } from '../../lib/framer.js'
import { decodeSqe, SQE_DPTR } from '../../lib/nvme/sqe.js'
import { encodeCqe } from '../../lib/nvme/cqe.js'
import { isInCapsuleDataBlock, isTransportDataBlock } from '../../lib/nvme/sgl.js'
import { AdminOpcode, FABRICS_OPCODE } from '../../lib/nvme/opcodes.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { decodePdu, encodePduParts, PduType, pduTypeName, type Pdu } from '../../lib/pdu/index.js'
import { CH_PLEN } from '../../lib/pdu/common.js'
import type { Clock, TimerHandle } from '../../lib/clock.js'
import type { Decision, HookContext, HookSlot } from '../core/hooks.js'
import type { Queue } from '../core/queue.js'
import type { Request } from '../core/request.js'
import type { PortInfo, TargetCore } from '../core/target-core.js'
import type { QueueTransport } from '../core/transport-ops.js'
import { ReceiveBudget } from './receive-budget.js'

/** SGL1 ADDRESS at SQE byte 24 and the identifier byte at 39, as PDU offsets (CapsuleCmd SQE at 8). */
const FEI_SGL_ADDRESS = 8 + SQE_DPTR
const FEI_SGL_IDENTIFIER = 8 + SQE_DPTR + 15
/** In-capsule data the Linux host may send on the admin queue and with Connect (NVME_TCP_ADMIN_CCSZ). */
const ADMIN_IN_CAPSULE = 8192
/** ICReq PFV and HPDA offsets (FEI values of spec 1.5). */
const ICREQ_PFV = 8
const ICREQ_HPDA = 10

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

interface PendingTransfer {
  req: Request
  ttag: number
  /** Allocated when the R2T is issued (after the budget granted it), never before. */
  buffer: Buffer
  received: number
  /** End offset of the outstanding R2T. */
  r2tEnd: number
  digestError: boolean
  resolve: (v: Buffer | number) => void
  reject: (e: Error) => void
}

/** The listener of one port. */
class TcpPort {
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

type ConnState = 'CONNECTING' | 'LIVE' | 'CLOSING' | 'CLOSED'

class TcpConnection implements QueueTransport {
  readonly connectionId: number
  readonly portId: number
  readonly remoteAddress: string
  readonly remotePort: number
  readonly #t: TcpTransport
  readonly #port: TcpPort
  readonly #socket: Socket
  readonly #framer: PduFramer
  readonly queue: Queue
  #logger: Logger
  #state: ConnState = 'CONNECTING'
  #hdgst = false
  #ddgst = false
  #hpda = 0
  #icTimer: TimerHandle | undefined
  #connectTimer: TimerHandle | undefined
  /** Armed while a started PDU is incomplete; `#pduMark` is the PDU count when it was armed. */
  #pduTimer: TimerHandle | undefined
  #pduMark = -1
  #idleTimer: TimerHandle | undefined
  #lastRx = 0
  readonly #transfers = new Map<number, PendingTransfer>()
  readonly #budget: ReceiveBudget
  #nextTtag = 0
  #paused = false
  #stalledUntil = 0
  #needDrain = false
  /** Sends waiting behind an asynchronous onPduSend decision (keeps PDU order). */
  #sendChain: Promise<void> = Promise.resolve()
  #sendChainDepth = 0
  #corked = false
  /** Wire parts of PDUs an onPduSend `hold` decision kept back; they precede the next write. */
  #held: Buffer[] = []
  readonly closed: Promise<void>
  #resolveClosed!: () => void

  constructor(o: { transport: TcpTransport; port: TcpPort; socket: Socket; connectionId: number }) {
    this.#t = o.transport
    this.#port = o.port
    this.#socket = o.socket
    this.connectionId = o.connectionId
    this.portId = o.port.info.id
    this.remoteAddress = o.socket.remoteAddress ?? ''
    this.remotePort = o.socket.remotePort ?? 0
    this.#logger = o.port.logger.child({ conn: o.connectionId, remote: `${this.remoteAddress}:${this.remotePort}` })
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve))
    const cfg = o.transport.core.config
    this.#framer = new PduFramer({
      role: 'target',
      maxH2CData: cfg.maxH2CData,
      maxInCapsuleData: Math.max(cfg.inlineDataSize, ADMIN_IN_CAPSULE),
      onPdu: (raw) => this.#onPdu(raw),
    })
    this.queue = o.transport.core.createQueue(this, this.#logger)
    this.#budget = new ReceiveBudget({ limit: cfg.limits.maxBufferedBytes, maxR2T: cfg.limits.maxR2T })
  }

  stats(): ConnectionStats {
    return {
      connectionId: this.connectionId,
      portId: this.portId,
      heldBytes: this.#budget.held,
      waiting: this.#budget.waiting,
      r2t: this.#budget.r2t,
      inflight: this.queue.inflight.size,
      paused: this.#paused,
      framerBytes: this.#framer.bufferedBytes,
    }
  }

  get #limits(): TcpTransport['core']['config']['limits'] {
    return this.#t.core.config.limits
  }

  get #hooks(): HookSlot {
    return this.#t.hooks
  }
  get #ctx(): HookContext {
    return this.queue.hookContext
  }
  /** Commands in flight that will complete by themselves (not AERs, not dropped by a fault). */
  get busy(): boolean {
    for (const r of this.queue.inflight.values()) if (!r.dropped && !(r.kind === 'admin' && r.opc === AdminOpcode.ASYNC_EVENT_REQUEST)) return true
    return false
  }

  start(): void {
    const s = this.#socket
    s.setNoDelay(true)
    s.on('error', (err) => this.#logger.debug({ err }, 'socket error'))
    s.on('close', () => this.#onClose())
    s.on('drain', () => {
      this.#needDrain = false
      this.#maybeResume()
    })
    s.on('end', () => s.end())
    // The host must send ICReq promptly (Linux host: 10 s); a silent peer is dropped.
    this.#icTimer = this.#t.clock.setTimeout(() => {
      if (this.#state === 'CONNECTING') {
        this.#logger.info({ timeoutMs: this.#limits.icReqTimeoutMs }, 'no ICReq in time: closing')
        this.#destroy()
      }
    }, this.#limits.icReqTimeoutMs)
    this.#icTimer.unref?.()
    const onConnection = this.#hooks.hooks?.onConnection
    if (onConnection !== undefined) {
      s.pause()
      void Promise.resolve()
        .then(() => onConnection(this.#ctx, { remoteAddress: this.remoteAddress, remotePort: this.remotePort }))
        .then(
          async (d) => {
            if (d.action === 'delay') await this.#sleep(d.ms)
            if (d.action === 'drop') return // accepted but never served
            if (!this.#applyConnectionFault(d)) this.#beginReading()
          },
          (err: unknown) => {
            this.#logger.error({ err }, 'onConnection hook failed')
            this.#beginReading()
          },
        )
      return
    }
    this.#beginReading()
  }

  /** Fault delays run on the injected clock (a manual clock replays them deterministically). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#t.clock.setTimeout(resolve, ms))
  }

  #beginReading(): void {
    if (this.#state === 'CLOSED') return
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    this.#socket.resume()
  }

  #onData(chunk: Buffer): void {
    if (this.#state === 'CLOSING' || this.#state === 'CLOSED') return
    this.#lastRx = this.#t.clock.now()
    try {
      this.#framer.push(chunk)
    } catch (err) {
      this.#fatal(err)
    }
    if (this.#framer.paused && !this.#paused) this.#pauseReading()
    this.#watchPartialPdu()
    if (this.#idleTimer === undefined && this.queue.connected && this.#limits.idleTimeoutMs > 0) this.#armIdle(this.#limits.idleTimeoutMs)
  }

  // ---- time limits -----------------------------------------------------------------------------

  /**
   * limits.pduTimeoutMs: a PDU whose first bytes arrived must arrive whole in time (a peer
   * trickling one PDU forever holds a buffer and a socket). Not counted while the target itself
   * paused delivery.
   */
  #watchPartialPdu(): void {
    const f = this.#framer
    if (f.atPduBoundary || f.paused) {
      if (this.#pduTimer !== undefined) this.#t.clock.clearTimeout(this.#pduTimer)
      this.#pduTimer = undefined
      return
    }
    if (this.#pduTimer !== undefined && this.#pduMark === f.pdusDelivered) return
    if (this.#pduTimer !== undefined) this.#t.clock.clearTimeout(this.#pduTimer)
    this.#pduMark = f.pdusDelivered
    const ms = this.#limits.pduTimeoutMs
    this.#pduTimer = this.#t.clock.setTimeout(() => {
      this.#pduTimer = undefined
      if (this.#state === 'CLOSING' || this.#state === 'CLOSED') return
      if (f.atPduBoundary || f.paused) return
      if (f.pdusDelivered !== this.#pduMark) {
        this.#watchPartialPdu()
        return
      }
      this.#logger.warn({ timeoutMs: ms, bufferedBytes: f.bufferedBytes }, 'PDU not finished in time: closing')
      this.#destroy()
    }, ms)
    this.#pduTimer.unref?.()
  }

  /** limits.connectTimeoutMs: after ICResp, a Connect must bind the queue in time. */
  #armConnectTimer(): void {
    const ms = this.#limits.connectTimeoutMs
    this.#connectTimer = this.#t.clock.setTimeout(() => {
      this.#connectTimer = undefined
      if (this.#state !== 'LIVE' || this.queue.connected) return
      this.#logger.info({ timeoutMs: ms }, 'no Connect in time after ICReq: closing')
      this.#destroy()
    }, ms)
    this.#connectTimer.unref?.()
  }

  /**
   * limits.idleTimeoutMs: a connected queue that receives nothing, has nothing in flight and whose
   * controller has keep-alive disabled (KATO 0 — otherwise the keep-alive timeout governs) is closed.
   */
  #armIdle(ms: number): void {
    this.#idleTimer = this.#t.clock.setTimeout(() => {
      this.#idleTimer = undefined
      if (this.#state !== 'LIVE') return
      const limit = this.#limits.idleTimeoutMs
      const idle = this.#t.clock.now() - this.#lastRx
      const ctrl = this.queue.controller
      const covered = ctrl !== undefined && ctrl.kato > 0
      // An outstanding AER is not activity (the host keeps one posted on every admin queue).
      if (!covered && idle >= limit && !this.busy) {
        this.#logger.info({ timeoutMs: limit, idle }, 'idle connection: closing')
        this.close('idle timeout')
        return
      }
      this.#armIdle(Math.max(1, limit - (covered || this.busy ? 0 : idle)))
    }, ms)
    this.#idleTimer.unref?.()
  }

  #clearTimers(): void {
    for (const t of [this.#icTimer, this.#connectTimer, this.#pduTimer, this.#idleTimer]) if (t !== undefined) this.#t.clock.clearTimeout(t)
    this.#icTimer = this.#connectTimer = this.#pduTimer = this.#idleTimer = undefined
  }

  /** One whole PDU from the framer (a view valid only during this call). */
  #onPdu(raw: Buffer): boolean {
    if (this.#state === 'CLOSING' || this.#state === 'CLOSED') return false
    const onRx = this.#hooks.hooks?.onPduReceived
    // Decisions may be asynchronous: with a hook, decode a copy (the framer's view is reused) and
    // hold delivery until the decision is made.
    const src = onRx !== undefined ? Buffer.from(raw) : raw
    let pdu: Pdu
    try {
      pdu = decodePdu(src, { hdgst: this.#hdgst, ddgst: this.#ddgst })
    } catch (err) {
      this.#fatal(err)
      return false
    }
    if (this.#t.tracePdu) this.#trace('rx', pdu, raw.length)
    if (onRx !== undefined) {
      const held = pdu
      void Promise.resolve()
        .then(() => onRx(this.#ctx, { pdu: held, raw: src }))
        .then(
          (d) => this.#afterRxHook(held, d),
          (err: unknown) => {
            this.#logger.error({ err }, 'onPduReceived hook failed')
            this.#afterRxHook(held, { action: 'pass' })
          },
        )
      return false
    }
    try {
      this.#handle(pdu, raw)
    } catch (err) {
      this.#fatal(err)
      return false
    }
    return !this.#shouldPause()
  }

  async #afterRxHook(pdu: Pdu, d: Decision): Promise<void> {
    if (this.#state === 'CLOSING' || this.#state === 'CLOSED') return
    if (d.action === 'delay' || d.action === 'stall') await this.#sleep(d.ms)
    if (d.action === 'close' || d.action === 'reset' || d.action === 'termReq') {
      this.applyFault(d)
      return
    }
    if (d.action === 'segment' || d.action === 'hold') {
      // Send-side shaping has no meaning for bytes already received (hooks.ts, "Decisions and seams").
      this.#logger.warn({ seam: 'onPduReceived', action: d.action }, `fault decision '${d.action}' does not apply at onPduReceived; treated as 'pass'`)
    }
    try {
      if (d.action === 'mutate') this.#handleReplacement(d.parts)
      else if (d.action !== 'drop') this.#handle(pdu, undefined)
    } catch (err) {
      this.#fatal(err)
      return
    }
    if ((this.#state as ConnState) === 'CLOSING' || (this.#state as ConnState) === 'CLOSED') return
    if (!this.#shouldPause()) this.#resumeFramer()
    else this.#pauseReading()
    this.#watchPartialPdu()
  }

  /**
   * rx `mutate`: the replacement bytes are checked exactly as socket bytes are — a framer with this
   * connection's role, limits and digests validates each common header (FES 01h), the decoder checks
   * the header digest (FES 03h) and reports the data digest (a bad H2CData DDGST fails that command
   * with Transient Transport Error, spec 1.5) — and each whole PDU is then handled as received.
   */
  #handleReplacement(parts: Buffer[]): void {
    const pdus: Buffer[] = []
    const check = new PduFramer({
      role: 'target',
      ...this.#framer.limits,
      ...this.#framer.digests,
      onPdu: (raw) => {
        pdus.push(Buffer.from(raw))
      },
    })
    for (const p of parts) check.push(p)
    if (!check.atPduBoundary) {
      // A stream cannot end inside a PDU: the last header's PLEN claims bytes that never came.
      throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, CH_PLEN, `replacement bytes end inside a PDU (${check.bufferedBytes} bytes of it)`)
    }
    for (const raw of pdus) {
      if (this.#state === 'CLOSING' || this.#state === 'CLOSED') return
      const pdu = decodePdu(raw, { hdgst: this.#hdgst, ddgst: this.#ddgst })
      if (this.#t.tracePdu) this.#trace('rx', pdu, raw.length)
      this.#handle(pdu, raw)
    }
  }

  #resumeFramer(): void {
    try {
      this.#framer.resume()
    } catch (err) {
      this.#fatal(err)
      return
    }
    if (this.#framer.paused) this.#pauseReading()
    else if (this.#paused) {
      this.#paused = false
      this.#socket.resume()
    }
    this.#watchPartialPdu()
  }

  #handle(pdu: Pdu, raw: Buffer | undefined): void {
    if (this.#state === 'CONNECTING') {
      // ICReq must be the first PDU (spec 1.4); anything else is a sequence error.
      if (pdu.type !== PduType.IC_REQ) throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 0, `${pduTypeName(pdu.type)} before ICReq`, raw)
      this.#onIcReq(pdu, raw)
      return
    }
    switch (pdu.type) {
      case PduType.IC_REQ:
        throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 0, 'second ICReq', raw)
      case PduType.CAPSULE_CMD:
        this.#onCapsule(pdu.sqe, pdu.data, pdu.dataDigestOk !== false, raw)
        return
      case PduType.H2C_DATA:
        this.#onH2CData(pdu.cccid, pdu.ttag, pdu.datao, pdu.data, pdu.dataDigestOk !== false, raw)
        return
      case PduType.H2C_TERM_REQ:
        this.#logger.warn({ fes: pdu.fes, fei: pdu.fei }, 'host sent H2CTermReq: closing')
        this.close('H2CTermReq')
        return
      default:
        throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, 0, `unexpected ${pduTypeName(pdu.type)} from host`, raw)
    }
  }

  #onIcReq(pdu: Extract<Pdu, { type: 0 }>, raw: Buffer | undefined): void {
    if (pdu.pfv !== 0) throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, ICREQ_PFV, `ICReq PFV ${pdu.pfv} unsupported`, raw)
    if (pdu.hpda > 31) throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, ICREQ_HPDA, `ICReq HPDA ${pdu.hpda} > 31`, raw)
    if (this.#icTimer !== undefined) this.#t.clock.clearTimeout(this.#icTimer)
    this.#icTimer = undefined
    this.#hpda = pdu.hpda
    // Echo exactly the digests the host asked for (the Linux host requires equality).
    this.#send({ type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: pdu.hdgst, ddgst: pdu.ddgst, maxh2cdata: this.#t.core.config.maxH2CData })
    this.#hdgst = pdu.hdgst
    this.#ddgst = pdu.ddgst
    this.#framer.setDigests({ hdgst: pdu.hdgst, ddgst: pdu.ddgst })
    this.#state = 'LIVE'
    this.queue.markLive()
    this.#armConnectTimer()
  }

  #onCapsule(sqeView: Buffer, dataView: Buffer | undefined, digestOk: boolean, raw: Buffer | undefined): void {
    // SQ overflow: the host may have at most SQSIZE+1 commands outstanding (NVMe Base 2.0 section
    // 4.6.1.2.1; the Linux host uses exactly that many tags). One more is a PDU sequence error, not
    // a command to buffer (nvmet-tcp treats running out of commands as fatal too).
    if (this.queue.inflight.size >= this.queue.depth) {
      throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 0, `command capsule beyond the queue depth ${this.queue.depth} (SQ overflow)`, raw)
    }
    const sqe = decodeSqe(sqeView)
    const data = dataView !== undefined && dataView.length > 0 ? dataView : undefined
    if (data !== undefined) {
      // In-capsule data: SGL1 must be a Data Block / Offset descriptor at offset 0 (spec 1.9).
      if (!isInCapsuleDataBlock(sqe.sgl)) throw new NvmeTcpProtocolError(FES.UNSUPPORTED_PARAMETER, FEI_SGL_IDENTIFIER, 'in-capsule data with a non-offset SGL', raw)
      if (sqe.sgl.address !== 0n) throw new NvmeTcpProtocolError(FES.UNSUPPORTED_PARAMETER, FEI_SGL_ADDRESS, 'in-capsule SGL offset is not 0', raw)
      if (sqe.sgl.length !== data.length) throw new NvmeTcpProtocolError(FES.DATA_TRANSFER_LIMIT_EXCEEDED, 0, `in-capsule SGL length ${sqe.sgl.length} != ${data.length} data bytes`, raw)
      // Capsule size: 8 KiB on the admin queue and for fabrics commands; IOCCSZ on I/O queues.
      const limit = this.queue.qid <= 0 || sqe.opc === FABRICS_OPCODE ? Math.max(ADMIN_IN_CAPSULE, this.#t.core.config.inlineDataSize) : this.#t.core.config.inlineDataSize
      if (data.length > limit) {
        this.queue.reject(sqe, NvmeStatus.SGL_INVALID_OFFSET | STATUS_DNR, SQE_DPTR)
        return
      }
      if (!digestOk) {
        // A data digest error is not transport fatal: fail the command (SPDK: Transient Transport Error).
        this.queue.reject(sqe, NvmeStatus.TRANSIENT_TR_ERR, SQE_DPTR)
        return
      }
    } else if (sqe.sgl.length > 0 && !isTransportDataBlock(sqe.sgl)) {
      this.queue.reject(sqe, (isInCapsuleDataBlock(sqe.sgl) ? NvmeStatus.SGL_INVALID_DATA : NvmeStatus.SGL_INVALID_TYPE) | STATUS_DNR, SQE_DPTR)
      return
    }
    this.queue.submit(sqe, data)
  }

  #onH2CData(cccid: number, ttag: number, datao: number, data: Buffer, digestOk: boolean, raw: Buffer | undefined): void {
    const x = this.#transfers.get(ttag)
    // TTAG and CCCID must name an outstanding R2T (spec 1.10; SPDK: FES 0x02).
    if (x === undefined || x.req.cid !== cccid) throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 0, `H2CData for unknown TTAG ${ttag} / CCCID ${cccid}`, raw)
    if (datao !== x.received) throw new NvmeTcpProtocolError(FES.DATA_TRANSFER_OUT_OF_RANGE, 0, `H2CData DATAO ${datao}, expected ${x.received}`, raw)
    if (data.length === 0 || datao + data.length > x.r2tEnd) throw new NvmeTcpProtocolError(FES.DATA_TRANSFER_OUT_OF_RANGE, 0, `H2CData beyond the R2T (${datao}+${data.length} > ${x.r2tEnd})`, raw)
    data.copy(x.buffer, datao)
    x.received += data.length
    if (!digestOk) x.digestError = true
    if (x.received < x.r2tEnd) return
    this.#transfers.delete(ttag)
    if (x.received < x.buffer.length) {
      // More requested than one R2T covered: ask for the rest (it keeps its R2T slot).
      this.#issueR2T(x)
    } else {
      // The data is in: the R2T slot is free; the bytes stay reserved until the command completes.
      this.#budget.releaseR2T()
      x.resolve(x.digestError ? NvmeStatus.TRANSIENT_TR_ERR : x.buffer)
    }
    this.#maybeResume()
  }

  // ---- QueueTransport --------------------------------------------------------------------------

  fetchData(req: Request): Promise<Buffer | number> {
    return new Promise((resolve, reject) => {
      // Reserved before the buffer exists; the R2T goes out once the budget and an R2T slot allow.
      this.#budget.request({
        bytes: req.dataLength,
        r2t: true,
        grant: () => {
          req.reservedBytes += req.dataLength
          if (this.queue.inflight.get(req.cid) !== req) {
            // Ended while it waited (connection torn down or command gone): nothing to fetch.
            this.#releaseReserved(req)
            this.#budget.releaseR2T()
            reject(new Error('command ended'))
            return
          }
          const x: PendingTransfer = { req, ttag: -1, buffer: Buffer.alloc(req.dataLength), received: 0, r2tEnd: 0, digestError: false, resolve, reject }
          this.#issueR2T(x)
        },
        fail: reject,
      })
    })
  }

  reserveData(req: Request): Promise<void> | undefined {
    let granted = false
    let grantLater: (() => void) | undefined
    let failLater: ((e: Error) => void) | undefined
    this.#budget.request({
      bytes: req.dataLength,
      r2t: false,
      grant: () => {
        req.reservedBytes += req.dataLength
        if (grantLater !== undefined) grantLater()
        else granted = true
      },
      fail: (e) => failLater?.(e),
    })
    if (granted) return undefined
    return new Promise<void>((resolve, reject) => {
      grantLater = resolve
      failLater = reject
    })
  }

  releaseData(req: Request): void {
    this.#releaseReserved(req)
  }

  /** Gives back what `req` holds in the budget (its response is out, or it will never be sent). */
  #releaseReserved(req: Request): void {
    const bytes = req.reservedBytes
    req.reservedBytes = 0
    if (bytes > 0) this.#budget.release(bytes, false)
  }

  #issueR2T(x: PendingTransfer): void {
    if (this.#state !== 'LIVE') {
      x.reject(new Error('connection closed'))
      return
    }
    let ttag = this.#nextTtag
    for (let i = 0; i < 0xffff && this.#transfers.has(ttag); i++) ttag = (ttag + 1) % 0xffff
    this.#nextTtag = (ttag + 1) % 0xffff
    x.ttag = ttag
    // Request the whole remaining length in one R2T, as Linux and SPDK do (the host splits it by MAXH2CDATA).
    const r2tl = x.buffer.length - x.received
    x.r2tEnd = x.received + r2tl
    this.#transfers.set(ttag, x)
    this.#send({ type: PduType.R2T, cccid: x.req.cid, ttag, r2to: x.received, r2tl })
  }

  queueResponse(req: Request): void {
    if (this.#state !== 'LIVE') {
      req.reservedBytes = 0
      return
    }
    const q = this.queue
    const data = req.status === 0 ? req.c2hData : undefined
    const elide = data !== undefined && data.length > 0 && q.sqFlowDisabled && req.dw0 === 0 && req.dw1 === 0
    // The reservation is given back once the response has been handed to the kernel: until then
    // the data is still held here (a host that does not read keeps it in the budget).
    const written = req.reservedBytes > 0 ? (): void => this.#releaseReserved(req) : undefined
    if (data !== undefined && data.length > 0) {
      const len = Math.min(data.length, req.dataLength)
      // One C2HData per command (like nvmet/SPDK); DATAO from 0, LAST_PDU on it.
      this.#send({ type: PduType.C2H_DATA, cccid: req.cid, datao: 0, last: true, success: elide, data: len === data.length ? data : data.subarray(0, len) }, elide ? written : undefined)
    }
    if (!elide) {
      const cqe = encodeCqe({ dw0: req.dw0 >>> 0, dw1: req.dw1 >>> 0, sqhd: q.sqhd, sqid: q.qid < 0 ? 0 : q.qid, cid: req.cid, status: req.status })
      this.#send({ type: PduType.CAPSULE_RESP, cqe }, written)
    }
    this.#maybeResume()
  }

  close(reason: string): void {
    if (this.#state === 'CLOSING' || this.#state === 'CLOSED') return
    this.#logger.debug({ reason }, 'closing connection')
    this.#state = 'CLOSING'
    this.#failTransfers()
    this.queue.disconnect(reason)
    // FIN after what is queued has been written; destroy if the peer does not finish.
    this.#socket.end()
    const t = setTimeout(() => this.#socket.destroy(), 2000)
    t.unref()
  }

  applyFault(d: Decision): void {
    this.#applyConnectionFault(d)
  }

  /** Returns true when the decision closed the connection. */
  #applyConnectionFault(d: Decision): boolean {
    switch (d.action) {
      case 'close':
        this.close('fault: close')
        return true
      case 'reset':
        this.#state = 'CLOSING'
        this.#failTransfers()
        this.queue.disconnect('fault: reset')
        this.#socket.resetAndDestroy()
        return true
      case 'termReq':
        this.#sendTermReq(d.fes, d.fei ?? 0, Buffer.alloc(0))
        this.close('fault: termReq')
        return true
      case 'stall':
        this.#stall(d.ms)
        return false
      default:
        return false
    }
  }

  #stall(ms: number): void {
    this.#stalledUntil = Math.max(this.#stalledUntil, this.#t.clock.now() + ms)
    this.#pauseReading()
    this.#t.clock.setTimeout(() => this.#maybeResume(), ms)
  }

  // ---- backpressure ----------------------------------------------------------------------------

  /**
   * Pause reading while writes wait for 'drain' — whatever the R2T state: a host that does not read
   * its socket gets no more commands read — and at the queue depth unless a command waits for H2C
   * data (then its data must still be read; a capsule beyond the depth is a sequence error).
   */
  #shouldPause(): boolean {
    if (this.#t.clock.now() < this.#stalledUntil) return true
    if (this.#needDrain) return true
    return this.#transfers.size === 0 && this.queue.inflight.size >= this.queue.depth
  }

  #pauseReading(): void {
    if (this.#paused) return
    this.#paused = true
    this.#socket.pause()
  }

  #maybeResume(): void {
    if (this.#state !== 'LIVE' && this.#state !== 'CONNECTING') return
    if (!this.#paused && !this.#framer.paused) return
    if (this.#shouldPause()) return
    if (this.#hooks.hooks?.onPduReceived !== undefined && this.#framer.paused && !this.#paused) return
    this.#resumeFramer()
  }

  // ---- sending ---------------------------------------------------------------------------------

  /** `written` runs once the PDU's bytes are handed to the kernel (or will never be). */
  #send(pdu: Pdu, written?: () => void): void {
    if (this.#state === 'CLOSED') {
      written?.()
      return
    }
    const opts = { hdgst: this.#hdgst, ddgst: this.#ddgst, pda: this.#hpda }
    const parts = encodePduParts(pdu, pdu.type === PduType.IC_RESP || pdu.type === PduType.C2H_TERM_REQ ? {} : opts)
    if (this.#t.tracePdu) this.#trace('tx', pdu, parts.reduce((n, p) => n + p.length, 0))
    const onTx = this.#hooks.hooks?.onPduSend
    if (onTx === undefined && this.#sendChainDepth === 0) {
      this.#write(parts, written)
      return
    }
    // Keep PDU order behind asynchronous decisions.
    this.#sendChainDepth++
    this.#sendChain = this.#sendChain
      .then(async () => {
        const d: Decision = onTx !== undefined ? await onTx(this.#ctx, { pdu, parts }) : { action: 'pass' }
        await this.#afterTxHook(parts, d)
      })
      .catch((err: unknown) => this.#logger.error({ err }, 'onPduSend hook failed'))
      .finally(() => {
        this.#sendChainDepth--
        // Fault paths (held, dropped, segmented PDUs): the budget is given back once decided.
        written?.()
      })
  }

  async #afterTxHook(parts: Buffer[], d: Decision): Promise<void> {
    switch (d.action) {
      case 'pass':
      case 'complete':
        this.#write(parts)
        return
      case 'drop':
        return
      case 'delay':
        await this.#sleep(d.ms)
        this.#write(parts)
        return
      case 'mutate':
        this.#write(d.parts)
        return
      case 'hold':
        // Kept back; #write/#writeNow put these bytes in front of the next PDU written. Copied: the
        // data part may be a view of store memory that a later write could change meanwhile.
        this.#held.push(Buffer.concat(parts))
        return
      case 'segment': {
        const all = Buffer.concat(parts)
        let off = 0
        for (const size of d.sizes) {
          if (off >= all.length) break
          this.#writeNow([all.subarray(off, off + Math.max(1, size))])
          off += Math.max(1, size)
          if (d.gapMs !== undefined && d.gapMs > 0) await this.#sleep(d.gapMs)
        }
        if (off < all.length) this.#writeNow([all.subarray(off)])
        return
      }
      case 'stall':
        this.#stall(d.ms)
        await this.#sleep(d.ms)
        this.#write(parts)
        return
      default:
        this.#applyConnectionFault(d)
    }
  }

  /** Parts held by `hold` decisions, taken (in order) to go out in front of the PDU being written. */
  #withHeld(parts: Buffer[]): Buffer[] {
    if (this.#held.length === 0) return parts
    const all = [...this.#held, ...parts]
    this.#held = []
    return all
  }

  /**
   * Corked scatter-gather write: header, data and digest go out as separate buffers, uncorked next
   * tick; held PDUs (if any) go first in the same corked write.
   */
  #write(parts: Buffer[], written?: () => void): void {
    const s = this.#socket
    if (s.destroyed || !s.writable) {
      written?.()
      return
    }
    parts = this.#withHeld(parts)
    if (!this.#corked) {
      this.#corked = true
      s.cork()
      process.nextTick(() => {
        this.#corked = false
        s.uncork()
      })
    }
    const last = parts.length - 1
    parts.forEach((p, i) => {
      if (!s.write(p, i === last ? written : undefined)) this.#needDrain = true
    })
    // A host that does not read what we send gets nothing more read from it until 'drain'.
    if (this.#needDrain && this.#state === 'LIVE') this.#pauseReading()
  }
  #writeNow(parts: Buffer[]): void {
    const s = this.#socket
    if (s.destroyed || !s.writable) return
    const held = this.#withHeld([])
    if (held.length > 0) {
      // Keep wire order: what was held goes out, as one corked write, before these bytes.
      s.cork()
      for (const p of held) if (!s.write(p)) this.#needDrain = true
      s.uncork()
    }
    for (const p of parts) if (!s.write(p)) this.#needDrain = true
  }

  // ---- errors and teardown ---------------------------------------------------------------------

  /** A transport-fatal error: C2HTermReq with FES/FEI and the offending header, then close (spec 1.5). */
  #fatal(err: unknown): void {
    if (this.#state === 'CLOSING' || this.#state === 'CLOSED') return
    if (err instanceof NvmeTcpProtocolError) {
      this.#logger.warn({ fes: err.fes, fei: err.fei, msg: err.message }, 'protocol error: sending C2HTermReq')
      this.#sendTermReq(err.fes, err.fei, err.header ?? Buffer.alloc(0))
    } else {
      this.#logger.error({ err }, 'connection failed')
    }
    this.close('protocol error')
  }

  #sendTermReq(fes: number, fei: number, header: Buffer): void {
    const data = header.subarray(0, 128)
    const parts = encodePduParts({ type: PduType.C2H_TERM_REQ, fes, fei, data })
    if (this.#t.tracePdu) this.#trace('tx', { type: PduType.C2H_TERM_REQ, fes, fei, data }, parts[0]!.length)
    this.#writeNow(parts)
  }

  #failTransfers(): void {
    for (const x of this.#transfers.values()) x.reject(new Error('connection closed'))
    this.#transfers.clear()
    this.#budget.failAll(new Error('connection closed'))
  }

  #destroy(): void {
    this.#state = 'CLOSING'
    this.#failTransfers()
    this.queue.disconnect('destroyed')
    this.#socket.destroy()
  }

  #onClose(): void {
    this.#clearTimers()
    this.#failTransfers()
    if (this.#state !== 'CLOSED') {
      this.#state = 'CLOSED'
      this.queue.disconnect('connection closed')
    }
    this.#resolveClosed()
  }

  #trace(dir: 'rx' | 'tx', pdu: Pdu, bytes: number): void {
    const info: Record<string, unknown> = { dir, type: pduTypeName(pdu.type), bytes }
    if ('cccid' in pdu) info.cccid = pdu.cccid
    if (pdu.type === PduType.CAPSULE_CMD) info.opc = pdu.sqe[0]
    if (pdu.type === PduType.C2H_TERM_REQ || pdu.type === PduType.H2C_TERM_REQ) Object.assign(info, { fes: pdu.fes, fei: pdu.fei })
    this.#logger.trace(info, 'pdu')
  }
}
