/**
 * One NVMe/TCP queue pair on the host side: a TCP connection, ICReq/ICResp, and command submission
 * with in-capsule data, R2T → H2CData for larger writes, and C2HData for reads (wire reference 1, 10).
 * With queue-socket.ts (the connect itself), the only initiator module opening connections with `node:net`.
 *
 * Error kinds: a completion with a non-zero status resolves normally (status is data); a transport
 * failure (protocol error, C2HTermReq, socket error, close) kills the queue and rejects every pending
 * command with {@link ConnectionError}; a command timeout does *not* settle the command: it calls
 * `onTimeout` and the owner escalates (Abort, then controller reset, which closes the queue).
 *
 * State (the project's one state machine, lib/state-machine.ts): connecting → live → closed.
 *
 * Write backpressure (pdu-writer.ts): once `socket.write()` returns false, later PDUs wait, in
 * order, until the socket's 'drain' (never more than `maxQueuedWrites` of them). A command submitted while that
 * queue is full is refused with {@link WriteQueueFullError} (the queue stays up); H2CData that an
 * R2T asks for when it is full ends the queue with that error (a controller that sends R2Ts but does
 * not read cannot be served).
 */
import type net from 'node:net'
import { ConnectionError, NvmeTcpProtocolError, TimeoutError, FES, WriteQueueFullError } from '../../lib/errors.js'
import { PduFramer } from '../../lib/framer.js'
import { StateMachine } from '../../lib/state-machine.js'
import { PduWriter } from './pdu-writer.js'
import { CommandSlots } from './command-slots.js'
import { connectQueueSocket } from './queue-socket.js'
import { CommandDeadlines } from './command-deadlines.js'
import { checkIcResp, h2cDataFor } from './host-pdu-checks.js'
import { QUEUE_PAIR_TRANSITIONS, QueuePairState, validateQueuePairOptions, type QueuePairOptions, type QueuePairStateValue } from './queue-pair-options.js'
import { completionOf, encodeCapsule, pendingFor, takeC2HData, type CommandDone, type Pending, type QueueCommand, type QueueCompletion } from './queue-command.js'
import { decodeCqe, type Cqe } from '../../lib/nvme/cqe.js'
import { CAPSULE_RESP_CQE, isCapsuleRespWithHdgst, isPlainCapsuleResp } from '../../lib/pdu/capsule-resp.js'
import { C2H_DATA_CCCID, C2H_DATA_DATAO, c2hDataWithDigests, isPlainC2HData } from '../../lib/pdu/c2h-data.js'
import { CH_FLAGS, CH_PDO, DIGEST_SIZE, PduFlags, type PduEncodeOptions } from '../../lib/pdu/common.js'
import {
  PduType,
  decodePdu,
  encodeIcReqParts,
  encodeTermReqParts,
  type Pdu,
  type R2T,
} from '../../lib/pdu/index.js'

export type { CommandDone, QueueCommand, QueueCompletion } from './queue-command.js'
export { QueuePairState, type QueuePairOptions, type QueuePairStateValue } from './queue-pair-options.js'

/** Tag in bits 11:0, a 4-bit generation in 15:12 (as the Linux host), so a reused tag gets a new CID. */
const TAG_BITS = 12
/** How long a closing queue waits for its TermReq to drain before it destroys the socket. */
const TERM_REQ_LINGER_MS = 1000

export class QueuePair {
  readonly qid: number
  readonly depth: number
  readonly #o: QueuePairOptions
  readonly #socket: net.Socket
  readonly #framer: PduFramer
  readonly #pending: CommandSlots<Pending>
  /** Commands waiting for a free slot. */
  readonly #backlog: { cmd: QueueCommand; done: CommandDone }[] = []
  #maxh2cdata = 0
  /** Digests and CPDA for the PDUs this queue sends (CPDA known after ICResp). */
  #pduOptions: PduEncodeOptions
  readonly #sm = new StateMachine<QueuePairStateValue>({ name: 'queue pair', initial: QueuePairState.CONNECTING, table: QUEUE_PAIR_TRANSITIONS })
  #closeError: Error | undefined
  #icresp: ((err?: Error) => void) | undefined
  #inCapsuleMax: number
  readonly #writer: PduWriter
  readonly #deadlines: CommandDeadlines<Pending>
  /** No digest asked for: the fast receive path of {@link #onPdu} applies. */
  readonly #plain: boolean
  /** Completions since the last command was sent (whether a new command may go out at once). */
  #settledSinceSend = 0

  private constructor(o: QueuePairOptions, socket: net.Socket) {
    this.#o = o
    this.qid = o.qid
    this.depth = o.depth
    this.#inCapsuleMax = o.inCapsuleMax
    this.#pduOptions = { hdgst: o.hdgst, ddgst: o.ddgst, pda: 0 }
    this.#plain = !o.hdgst && !o.ddgst
    this.#pending = new CommandSlots<Pending>({ depth: o.depth, tagMask: (1 << TAG_BITS) - 1 })
    this.#deadlines = new CommandDeadlines<Pending>({
      clock: o.clock,
      pending: () => this.#pending.values(),
      onExpired: (p) => {
        if (!this.#sm.is(QueuePairState.CLOSED) && this.#pending.get(p.cid) === p) o.onTimeout?.({ qid: this.qid, cid: p.cid, opc: p.opc })
      },
    })
    this.#socket = socket
    this.#framer = new PduFramer({ role: 'host', maxC2HData: o.maxC2HData, onPdu: (raw) => this.#onPdu(raw) })
    socket.setNoDelay(true)
    this.#writer = new PduWriter(socket, o.maxQueuedWrites ?? 2 * o.depth + 16)
    socket.on('error', (err) => this.#die(new ConnectionError(`queue ${this.qid}: ${err.message}`, { cause: err })))
    socket.on('close', () => this.#die(new ConnectionError(`queue ${this.qid}: connection closed by the controller`)))
  }

  /** A chunk read from the socket (a view of the receive slab). */
  #onChunk(chunk: Buffer): void {
    // After a fatal error the queue is only flushing its TermReq: the rest of the stream is noise.
    if (this.#sm.is(QueuePairState.CLOSED)) return
    try {
      this.#framer.push(chunk)
    } catch (err) {
      this.#fatal(err as Error)
    }
  }

  /** Open the TCP connection and run ICReq/ICResp. */
  static connect(o: QueuePairOptions): Promise<QueuePair> {
    validateQueuePairOptions(o)
    return new Promise<QueuePair>((resolve, reject) => {
      let onChunk = (_chunk: Buffer): void => undefined
      // Reads go straight into a receive slab, not through the Readable stream's 'data' (queue-socket.ts).
      const socket = connectQueueSocket(o, (chunk) => onChunk(chunk))
      const qp = new QueuePair(o, socket)
      onChunk = (chunk) => qp.#onChunk(chunk)
      const timer = o.clock.setTimeout(() => {
        qp.#icresp?.(new TimeoutError(`queue ${o.qid}: no ICResp from ${o.host}:${o.port} within ${o.connectTimeoutMs} ms`))
      }, o.connectTimeoutMs)
      timer.unref?.()
      qp.#icresp = (err?: Error) => {
        qp.#icresp = undefined
        o.clock.clearTimeout(timer)
        if (err !== undefined) {
          qp.close()
          reject(err)
        } else resolve(qp)
      }
      socket.once('connect', () => {
        // MAXR2T 0: one outstanding R2T per command; HPDA 0 (wire reference 9.1 step 2).
        qp.#write(encodeIcReqParts({ type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: o.hdgst, ddgst: o.ddgst, maxr2t: 0 }))
      })
    })
  }

  get state(): QueuePairStateValue {
    return this.#sm.state
  }
  get closed(): boolean {
    return this.#sm.is(QueuePairState.CLOSED)
  }
  get outstanding(): number {
    return this.#pending.size
  }
  get maxh2cdata(): number {
    return this.#maxh2cdata
  }
  /** PDUs waiting for the socket's 'drain'. */
  get queuedWrites(): number {
    return this.#writer.queued
  }
  get localPort(): number | undefined {
    return this.#socket.localPort
  }
  set inCapsuleMax(v: number) {
    this.#inCapsuleMax = v
  }

  /**
   * Submit one command. Rejects with ConnectionError if the queue is (or goes) down. When every
   * command slot is busy the command waits for one (SQ flow control: never more than SQSIZE+1
   * outstanding).
   */
  submit(cmd: QueueCommand): Promise<QueueCompletion> {
    return new Promise<QueueCompletion>((resolve, reject) => {
      this.send(cmd, (r) => (r instanceof Error ? reject(r) : resolve(r)))
    })
  }

  /**
   * {@link submit} without a promise: `done` gets the completion or the error (see
   * {@link CommandDone}). What the host's I/O path uses.
   */
  send(cmd: QueueCommand, done: CommandDone): void {
    if (this.#sm.is(QueuePairState.CLOSED)) return done(this.#closeError ?? new ConnectionError(`queue ${this.qid} is closed`))
    if (this.#writer.full) return done(new WriteQueueFullError(this.qid, this.#writer.limit))
    const cid = this.#pending.nextCid()
    if (cid === undefined) {
      this.#backlog.push({ cmd, done })
      return
    }
    const readLength = cmd.readLength !== undefined && cmd.readLength > 0 ? cmd.readLength : 0
    let capsule: { parts: Buffer[]; inCapsule: number }
    try {
      capsule = encodeCapsule(cmd, cid, readLength, this.#inCapsuleMax, this.#pduOptions)
    } catch (err) {
      // A field the SQE encoding refused (InvalidArgumentError): the slot was never used.
      this.#pending.release(cid)
      throw err
    }
    const p = pendingFor(cmd, cid, readLength, capsule.inCapsule, done)
    this.#pending.add(p)
    // The only command outstanding, submitted after at most one completion: nothing is likely to
    // join it in this turn (QD1), so it is written now rather than batched to the end of the turn.
    // After several completions more submissions usually follow (QD > 1): those are batched.
    const alone = this.#pending.size === 1 && this.#settledSinceSend <= 1
    this.#settledSinceSend = 0
    if (alone) this.#writer.writeAlone(capsule.parts)
    else this.#writer.write(capsule.parts)
    // The deadline after the write: its clock read is not on the command's way out, and no
    // completion can be handled before this returns (docs/performance.md, round 4).
    p.deadline = this.#deadlines.deadlineFor(cmd.timeoutMs)
  }

  /** Close the connection; pending commands are rejected with `reason`. No callbacks to `onClose`. */
  close(reason?: Error): void {
    if (this.#sm.is(QueuePairState.CLOSED)) return
    this.#sm.transition(QueuePairState.CLOSED)
    this.#closeError = reason ?? new ConnectionError(`queue ${this.qid} closed by the host`)
    this.#socket.destroy()
    this.#rejectAll(this.#closeError)
  }

  #write(parts: Buffer[]): void {
    if (!this.#sm.is(QueuePairState.CLOSED)) this.#writer.write(parts)
  }

  #rejectAll(err: Error): void {
    this.#writer.stop()
    this.#deadlines.stop()
    for (const b of this.#backlog.splice(0)) b.done(err)
    const all = this.#pending.clear()
    for (const p of all) p.done(err)
  }

  /** The queue is dead. `last` (an H2CTermReq) is flushed before the close; destroy() would drop it. */
  #die(err: Error, last?: Buffer[]): void {
    if (this.#sm.is(QueuePairState.CLOSED)) return
    this.#sm.transition(QueuePairState.CLOSED)
    this.#closeError = err
    if (last !== undefined && !this.#socket.destroyed) {
      // end() uncorks, writes, then sends FIN; a peer that never reads gets a bounded linger.
      this.#socket.end(Buffer.concat(last))
      const t = this.#o.clock.setTimeout(() => this.#socket.destroy(), TERM_REQ_LINGER_MS)
      t.unref?.()
      this.#socket.once('close', () => this.#o.clock.clearTimeout(t))
    } else this.#socket.destroy()
    this.#rejectAll(err)
    if (this.#icresp !== undefined) this.#icresp(err)
    else this.#o.onClose?.(err)
  }

  /** A transport-fatal error detected here: send an H2CTermReq when it is a protocol error, then die. */
  #fatal(err: Error): void {
    if (!(err instanceof NvmeTcpProtocolError)) return this.#die(err)
    // The side that detects the error sends a TermReq with FES and FEI, then closes (NVMe/TCP 1.0
    // section 3.6.2.10, 7.4.7).
    const termReq = encodeTermReqParts({ type: PduType.H2C_TERM_REQ, fes: err.fes, fei: err.fei, data: err.header ?? Buffer.alloc(0) })
    this.#die(new ConnectionError(`queue ${this.qid}: ${err.message}`, { cause: err }), termReq)
  }

  #onPdu(raw: Buffer): void {
    if (this.#sm.is(QueuePairState.CLOSED)) return
    // The two PDUs a read receives are checked and read in place, with no PDU, layout or header
    // objects (docs/performance.md, round 4; with digests on, HDGST/DDGST are computed there);
    // anything else, or a PDU failing a check (a digest mismatch included), goes through decodePdu,
    // which names the bad field or reports the digest error.
    const { hdgst, ddgst } = this.#o
    try {
      const pdo = this.#plain ? (isPlainC2HData(raw) ? raw[CH_PDO]! : -1) : c2hDataWithDigests(raw, hdgst, ddgst)
      if (pdo >= 0) {
        this.#requireLive()
        const success = (raw[CH_FLAGS]! & PduFlags.SUCCESS) !== 0
        this.#onC2HData(raw.readUInt16LE(C2H_DATA_CCCID), raw.readUInt32LE(C2H_DATA_DATAO), raw.subarray(pdo, raw.length - (ddgst ? DIGEST_SIZE : 0)), success, true)
        return
      }
      if (hdgst ? isCapsuleRespWithHdgst(raw) : isPlainCapsuleResp(raw)) {
        this.#requireLive()
        this.#onCqe(decodeCqe(raw, CAPSULE_RESP_CQE))
        return
      }
    } catch (err) {
      this.#fatal(err as Error)
      return
    }
    let pdu: Pdu
    try {
      pdu = decodePdu(raw, { hdgst, ddgst })
    } catch (err) {
      this.#fatal(err as Error)
      return
    }
    try {
      this.#handle(pdu)
    } catch (err) {
      this.#fatal(err as Error)
    }
  }

  #handle(pdu: Pdu): void {
    switch (pdu.type) {
      case PduType.IC_RESP: {
        if (this.#icresp === undefined) throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 0, 'ICResp after initialization')
        checkIcResp(pdu, this.#o)
        this.#maxh2cdata = pdu.maxh2cdata
        this.#pduOptions = { hdgst: this.#o.hdgst, ddgst: this.#o.ddgst, pda: pdu.cpda }
        this.#framer.setDigests({ hdgst: pdu.hdgst, ddgst: pdu.ddgst })
        this.#sm.transition(QueuePairState.LIVE)
        this.#icresp()
        return
      }
      case PduType.C2H_TERM_REQ:
        this.#die(new ConnectionError(`queue ${this.qid}: controller terminated the connection (C2HTermReq FES 0x${pdu.fes.toString(16)} FEI ${pdu.fei})`))
        return
      case PduType.CAPSULE_RESP:
        this.#requireLive()
        this.#onCqe(decodeCqe(pdu.cqe))
        return
      case PduType.C2H_DATA:
        this.#requireLive()
        this.#onC2HData(pdu.cccid, pdu.datao, pdu.data, pdu.success, pdu.dataDigestOk !== false)
        return
      case PduType.R2T:
        this.#requireLive()
        this.#onR2T(pdu)
        return
      default:
        throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, 0, `unexpected PDU type ${pdu.type} on the host`)
    }
  }

  #requireLive(): void {
    if (this.#sm.is(QueuePairState.CONNECTING)) throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 0, 'PDU before ICResp')
  }

  #onCqe(cqe: Cqe): void {
    const p = this.#pending.get(cqe.cid)
    if (p === undefined) {
      this.#o.onStrayCompletion?.(cqe)
      return
    }
    if (p.readLength > 0 && cqe.status === 0 && p.received !== p.readLength) {
      throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 0, `cid 0x${cqe.cid.toString(16)}: success with ${p.received} of ${p.readLength} bytes`)
    }
    this.#settle(p, cqe)
  }

  #settle(p: Pending, cqe: Cqe): void {
    this.#settledSinceSend++
    this.#pending.delete(p)
    const c = completionOf(p, cqe)
    const next = this.#backlog.shift()
    if (next !== undefined) this.send(next.cmd, next.done)
    try {
      p.done(c)
    } catch (err) {
      // The owner's completion handler failed: its bug, not the controller's, so not a transport
      // error (which would kill the queue); rethrown outside the receive path as before.
      queueMicrotask(() => {
        throw err
      })
    }
  }

  /** One C2HData's fields (decoded, or read in place by the fast path of {@link #onPdu}). */
  #onC2HData(cccid: number, datao: number, data: Buffer, success: boolean, dataDigestOk: boolean): void {
    const p = this.#pending.get(cccid)
    if (p === undefined || p.readLength === 0) throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 8, `C2HData for unknown or non-read cid 0x${cccid.toString(16)}`)
    if (!dataDigestOk) p.dataDigestError = true
    const all = takeC2HData(p, datao, data)
    if (success) {
      if (!all) throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 1, 'C2HData SUCCESS before all data')
      // Response elision: the command succeeded with DW0 = DW1 = 0 (wire reference 10.2).
      this.#settle(p, { dw0: 0, dw1: 0, sqhd: 0, sqid: this.qid, cid: p.cid, status: 0 })
    }
  }

  #onR2T(r2t: R2T): void {
    const p = this.#pending.get(r2t.cccid)
    if (p === undefined || p.data === undefined) throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 8, `R2T for unknown or non-write cid 0x${r2t.cccid.toString(16)}`)
    const parts = h2cDataFor(r2t, p.cid, p.data, p.sent, this.#maxh2cdata, this.#pduOptions)
    p.sent = r2t.r2to + r2t.r2tl
    if (this.#writer.full) {
      this.#die(new WriteQueueFullError(this.qid, this.#writer.limit))
      return
    }
    this.#write(parts)
  }
}
