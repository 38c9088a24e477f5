/**
 * One accepted TCP connection = one NVMe queue (NVMe/TCP 1.0 section 3.3). This file is the receive
 * side and the connection's life; the pieces it composes each have a file:
 *
 *   socket ─▶ PduFramer ─▶ PduReceiver (decode, onPduReceived seam) ─▶ #handle ─▶ ICReq, CapsuleCmd ─▶ Queue
 *                                                                           └─▶ H2CData ─▶ DataTransfers
 *   Queue ─▶ queueResponse ─▶ TcpWriter (onPduSend seam, send-side shapers, cork/uncork) ─▶ socket
 *
 * State: CONNECTING (until ICReq) → LIVE → CLOSING (FIN sent or connection failing) → CLOSED (the
 * socket closed), in the project's one state machine. Backpressure: a capsule beyond the queue
 * depth (SQSIZE+1) is a PDU sequence error; reading pauses at the queue depth (unless a command
 * waits for H2C data), while a fault stalls the queue, and whatever the R2T state while the socket's
 * write side needs a 'drain'. Any header violation sends a C2HTermReq with FES/FEI and closes.
 */
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import { FES, NvmeTcpProtocolError } from '../../lib/errors.js'
import { PduFramer } from '../../lib/framer.js'
import { decodeSqe } from '../../lib/nvme/sqe.js'
import { AdminOpcode } from '../../lib/nvme/opcodes.js'
import { PduType, pduTypeName, type Pdu } from '../../lib/pdu/index.js'
import type { DigestOptions } from '../../lib/pdu/common.js'
import { StateMachine, type TransitionTable } from '../../lib/state-machine.js'
import { SEAMS, type ConnectionDecision, type Decision } from '../seams/index.js'
import type { Queue } from '../core/queue.js'
import type { Request } from '../core/request.js'
import type { QueueTransport } from '../core/transport-ops.js'
import type { ConnectionStats, TcpPort, TcpTransport } from './tcp-listener.js'
import { DataTransfers } from './tcp-data-transfer.js'
import { ConnectionTimers, type TimedConnection } from './tcp-timers.js'
import { TcpWriter } from './tcp-writer.js'
import { ADMIN_IN_CAPSULE, checkCapsule, checkIcReq } from './tcp-pdu-checks.js'
import { PduReceiver } from './tcp-receive.js'
import { sendResponse, type ResponseSink } from './tcp-response.js'
import { ReadGate } from './tcp-read-gate.js'
import { ReadBufferPool } from './read-buffer-pool.js'

export type ConnectionState = 'CONNECTING' | 'LIVE' | 'CLOSING' | 'CLOSED'
const CONNECTION_TABLE: TransitionTable<ConnectionState> = {
  CONNECTING: ['LIVE', 'CLOSING', 'CLOSED'],
  LIVE: ['CLOSING', 'CLOSED'],
  CLOSING: ['CLOSED'],
  CLOSED: [],
}

export class TcpConnection implements QueueTransport, TimedConnection {
  readonly connectionId: number
  readonly portId: number
  readonly remoteAddress: string
  readonly remotePort: number
  readonly queue: Queue
  readonly closed: Promise<void>
  readonly #t: TcpTransport
  readonly #socket: Socket
  readonly #sm: StateMachine<ConnectionState>
  readonly #framer: PduFramer
  readonly #writer: TcpWriter
  readonly #data: DataTransfers
  readonly #timers: ConnectionTimers
  #logger: Logger
  readonly #gate: ReadGate
  readonly #receiver: PduReceiver
  readonly #readBuffers: ReadBufferPool
  readonly readBuffer: (bytes: number) => Buffer
  /** Where responses go (made once: nothing allocated per response for it). */
  readonly #sink: ResponseSink
  #digests: DigestOptions = { hdgst: false, ddgst: false }
  #resolveClosed!: () => void

  constructor(o: { transport: TcpTransport; port: TcpPort; socket: Socket; connectionId: number }) {
    this.#t = o.transport
    this.#socket = o.socket
    this.connectionId = o.connectionId
    this.portId = o.port.info.id
    this.remoteAddress = o.socket.remoteAddress ?? ''
    this.remotePort = o.socket.remotePort ?? 0
    this.#logger = o.port.logger.child({ conn: o.connectionId, remote: `${this.remoteAddress}:${this.remotePort}` })
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve))
    this.#sm = new StateMachine<ConnectionState>({ name: 'connection', initial: 'CONNECTING', table: CONNECTION_TABLE })
    const cfg = o.transport.core.config
    this.#framer = new PduFramer({ role: 'target', maxH2CData: cfg.maxH2CData, maxInCapsuleData: Math.max(cfg.inlineDataSize, ADMIN_IN_CAPSULE), onPdu: (raw) => this.#receiver.onPdu(raw), reuseAssembly: true })
    this.queue = o.transport.core.createQueue(this, this.#logger)
    this.#writer = new TcpWriter({
      socket: o.socket,
      clock: o.transport.clock,
      hooks: o.transport.hooks,
      context: () => this.queue.hookContext,
      logger: () => this.#logger,
      tracePdu: o.transport.tracePdu,
      onFault: (d) => this.applyFault(d),
      onDrainNeeded: (needed) => {
        if (!needed) this.#gate.maybeResume()
        else if (this.#sm.is('LIVE')) this.#gate.pause()
      },
    })
    // Free read buffers kept per connection: a quarter of its data budget, at most 1 MiB.
    this.#readBuffers = new ReadBufferPool({ maxFreeBytes: Math.min(1 << 20, cfg.limits.maxBufferedBytes >> 2) })
    this.#data = new DataTransfers({ limit: cfg.limits.maxBufferedBytes, maxR2T: cfg.limits.maxR2T, send: (pdu) => this.#send(pdu), live: () => this.#sm.is('LIVE'), alloc: this.#readBuffers.take })
    this.readBuffer = this.#readBuffers.take
    this.#sink = { queue: this.queue, send: (pdu, written) => this.#send(pdu, written), writer: this.#writer, release: (r) => this.#data.release(r), readBuffers: this.#readBuffers }
    this.#timers = new ConnectionTimers({ clock: o.transport.clock, limits: () => this.#t.core.config.limits, framer: this.#framer, conn: this })
    this.#gate = new ReadGate({
      socket: o.socket,
      framer: this.#framer,
      clock: o.transport.clock,
      blocked: () => this.#writer.needDrain || (this.#data.outstanding === 0 && this.queue.inflight.size >= this.queue.depth),
      open: () => this.#sm.is('LIVE', 'CONNECTING'),
      decisionPending: () => SEAMS.received.installed(this.#t.hooks),
      resumed: () => this.#timers.watchPartialPdu(),
      fatal: (err) => this.#fatal(err),
    })
    this.#receiver = new PduReceiver({
      hooks: o.transport.hooks,
      tracePdu: o.transport.tracePdu,
      framer: this.#framer,
      gate: this.#gate,
      logger: () => this.#logger,
      context: () => this.queue.hookContext,
      digests: () => this.#digests,
      closing: () => this.#sm.is('CLOSING', 'CLOSED'),
      handle: (pdu, raw) => this.#handle(pdu, raw),
      fatal: (err) => this.#fatal(err),
      connectionFault: (d) => this.#applyConnectionFault(d),
      sleep: (ms) => this.#writer.sleep(ms),
      delivered: () => this.#timers.watchPartialPdu(),
    })
  }

  // ---- TimedConnection -------------------------------------------------------------------------
  get logger(): Logger {
    return this.#logger
  }
  get connecting(): boolean {
    return this.#sm.is('CONNECTING')
  }
  get live(): boolean {
    return this.#sm.is('LIVE')
  }
  get state(): ConnectionState {
    return this.#sm.state
  }
  /** Commands in flight that will complete by themselves (not AERs, not dropped by a fault). */
  get busy(): boolean {
    for (const r of this.queue.inflight.values()) if (!r.dropped && !(r.kind === 'admin' && r.opc === AdminOpcode.ASYNC_EVENT_REQUEST)) return true
    return false
  }

  stats(): ConnectionStats {
    const b = this.#data.budget
    return {
      connectionId: this.connectionId,
      portId: this.portId,
      heldBytes: b.held,
      waiting: b.waiting,
      r2t: b.r2t,
      inflight: this.queue.inflight.size,
      paused: this.#gate.paused,
      framerBytes: this.#framer.bufferedBytes,
    }
  }

  start(): void {
    const s = this.#socket
    s.setNoDelay(true)
    s.on('error', (err) => this.#logger.debug({ err }, 'socket error'))
    s.on('close', () => this.#onClose())
    s.on('end', () => {
      this.#writer.flush()
      s.end()
    })
    this.#timers.armIcReq()
    if (SEAMS.connection.installed(this.#t.hooks)) s.pause()
    SEAMS.connection.run(this.#t.hooks, this.#logger, this.queue.hookContext, { remoteAddress: this.remoteAddress, remotePort: this.remotePort }, this.#afterConnectionSeam)
  }

  readonly #afterConnectionSeam = (d: ConnectionDecision): void => {
    if (d.action === 'delay') void this.#writer.sleep(d.ms).then(() => this.#beginReading())
    else if (d.action === 'drop') return // accepted but never served
    else if (!this.#applyConnectionFault(d)) this.#beginReading()
  }

  #beginReading(): void {
    if (this.#sm.is('CLOSED')) return
    this.#socket.on('data', (chunk: Buffer) => {
      this.#writer.batch(this.#onData, chunk)
      if (!this.#sm.is('CLOSING', 'CLOSED')) this.#timers.afterRead()
    })
    this.#socket.resume()
  }

  /** One socket read, handled as one write batch: its responses leave together when it returns. */
  readonly #onData = (chunk: Buffer): void => {
    if (this.#sm.is('CLOSING', 'CLOSED')) return
    try {
      this.#framer.push(chunk)
    } catch (err) {
      this.#fatal(err)
    }
    if (this.#framer.paused && !this.#gate.paused) this.#gate.pause()
  }

  // ---- receive (tcp-receive.ts decodes and runs the seam, then calls #handle) ----------------

  #handle(pdu: Pdu, raw: Buffer | undefined): void {
    if (this.#sm.is('CONNECTING')) {
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
        // An R2T completed frees room: reading may resume.
        if (this.#data.onH2CData(pdu.cccid, pdu.ttag, pdu.datao, pdu.data, pdu.dataDigestOk !== false, raw)) this.#gate.maybeResume()
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
    checkIcReq(pdu, raw)
    // Echo exactly the digests the host asked for (the Linux host requires equality); PFV 0, CPDA 0.
    this.#send({ type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: pdu.hdgst, ddgst: pdu.ddgst, maxh2cdata: this.#t.core.config.maxH2CData })
    this.#writer.setDigests({ hdgst: pdu.hdgst, ddgst: pdu.ddgst, hpda: pdu.hpda })
    this.#digests = { hdgst: pdu.hdgst, ddgst: pdu.ddgst }
    this.#framer.setDigests(this.#digests)
    this.#sm.transition('LIVE')
    this.queue.markLive()
    this.#timers.icReqDone()
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
    const refused = checkCapsule(sqe, data, digestOk, raw, { qid: this.queue.qid, inlineDataSize: this.#t.core.config.inlineDataSize })
    if (refused !== undefined) this.queue.reject(sqe, refused.status, refused.errorLocation)
    else this.queue.submit(sqe, data)
  }

  // ---- QueueTransport --------------------------------------------------------------------------

  fetchData(req: Request): Promise<Buffer | number> {
    return this.#data.fetch(req)
  }
  reserveData(req: Request): Promise<void> | undefined {
    return this.#data.reserve(req)
  }
  releaseData(req: Request): void {
    this.#data.release(req)
  }

  queueResponse(req: Request): void {
    if (!this.#sm.is('LIVE')) {
      req.reservedBytes = 0
      return
    }
    sendResponse(req, this.#sink)
    this.#gate.maybeResume()
  }

  close(reason: string): void {
    if (this.#sm.is('CLOSING', 'CLOSED')) return
    this.#logger.debug({ reason }, 'closing connection')
    this.#sm.transition('CLOSING')
    this.#data.failAll()
    this.queue.disconnect(reason)
    // FIN after what is queued has been written; destroy if the peer does not finish. Reading goes
    // on (what arrives is dropped, #onData) so the peer's FIN is seen even if reading was paused.
    this.#writer.flush()
    this.#socket.end()
    this.#socket.resume()
    this.#timers.armCloseLinger()
  }

  applyFault(d: Decision): void {
    this.#applyConnectionFault(d)
  }

  /** Carries out close, reset, termReq and stall; true when the connection is going away. */
  #applyConnectionFault(d: Decision): boolean {
    switch (d.action) {
      case 'close':
        this.close('fault: close')
        return true
      case 'reset':
        this.#sm.tryTransition('CLOSING')
        this.#data.failAll()
        this.queue.disconnect('fault: reset')
        this.#socket.resetAndDestroy()
        return true
      case 'termReq':
        this.#writer.sendTermReq(d.fes, d.fei ?? 0, Buffer.alloc(0))
        this.close('fault: termReq')
        return true
      case 'stall':
        this.#gate.stall(d.ms)
        return false
      default:
        return false
    }
  }

  // ---- errors and teardown ---------------------------------------------------------------------

  /** False when the PDU waits for an onPduSend decision (see TcpWriter.send). */
  #send(pdu: Pdu, written?: () => void): boolean {
    if (this.#sm.is('CLOSED')) {
      written?.()
      return true
    }
    return this.#writer.send(pdu, written)
  }

  /** A transport-fatal error: C2HTermReq with FES/FEI and the offending header, then close (spec 1.5). */
  #fatal(err: unknown): void {
    if (this.#sm.is('CLOSING', 'CLOSED')) return
    if (err instanceof NvmeTcpProtocolError) {
      this.#logger.warn({ fes: err.fes, fei: err.fei, msg: err.message }, 'protocol error: sending C2HTermReq')
      this.#writer.sendTermReq(err.fes, err.fei, err.header ?? Buffer.alloc(0))
    } else {
      this.#logger.error({ err }, 'connection failed')
    }
    this.close('protocol error')
  }

  destroy(): void {
    this.#sm.tryTransition('CLOSING')
    this.#data.failAll()
    this.queue.disconnect('destroyed')
    this.#socket.destroy()
  }

  #onClose(): void {
    this.#timers.clear()
    this.#data.failAll()
    if (!this.#sm.is('CLOSED')) {
      this.#sm.transition('CLOSED')
      this.queue.disconnect('connection closed')
    }
    this.#resolveClosed()
  }
}
