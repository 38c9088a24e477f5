/**
 * A scriptable fake NVMe/TCP target on a real socket, for hostile-target tests and for fuzzing the
 * initiator's receive path. By default it behaves: ICResp, then the bring-up commands a host sends
 * (Connect, Property Get/Set of CAP/CC/CSTS, Identify, Set Features Number of Queues, Keep Alive)
 * and Read/Write against a small memory namespace, with R2T for writes that are not in-capsule
 * (wire reference 9.1, 10). AERs are held, never answered.
 *
 * `onCommand` decides per command: return undefined for the default answer, or a {@link FakeReply}:
 * a chosen status/DW0/data, no answer at all (`drop`), raw bytes, or a close. `onIcReq` can replace
 * the ICResp the same way. Every received PDU and every H2CTermReq is recorded, so a test can check
 * what the host sent before it went away.
 */
import net from 'node:net'
import { PduFramer } from '../lib/framer.js'
import { decodePdu, encodePduParts, PduType, type IcResp, type Pdu } from '../lib/pdu/index.js'
import { decodeSqe, type Sqe } from '../lib/nvme/sqe.js'
import { encodeCqe } from '../lib/nvme/cqe.js'
import { FabricsType, AdminOpcode, IoOpcode, Cns, FeatureId, FABRICS_OPCODE } from '../lib/nvme/opcodes.js'
import { encodeCap, encodeCsts, makeConnectResponseDw0, Property, propertyGetFields, propertySetFields } from '../lib/nvme/fabrics.js'
import { encodeIdentifyController } from '../lib/nvme/identify-controller.js'
import { encodeIdentifyNamespace } from '../lib/nvme/identify-namespace.js'
import { encodeActiveNsList, encodeNsIdDescriptors } from '../lib/nvme/identify-lists.js'
import { identifyFields } from '../lib/nvme/commands.js'
import { NvmeStatus } from '../lib/status.js'

/** Block size of the memory namespaces (512 B, LBADS 9). */
export const FAKE_BLOCK_SIZE = 512

export interface FakeCommand {
  conn: FakeConnection
  /** Queue id learnt from this connection's Connect (0 before it). */
  qid: number
  sqe: Sqe
  /** In-capsule data, or the H2C data of a write once all of it arrived. */
  data: Buffer | undefined
  /** Fabrics command type when `sqe.opc` is 0x7F. */
  fctype: number | undefined
}

export type FakeReply =
  | { kind: 'complete'; status?: number; dw0?: number; dw1?: number; data?: Buffer }
  | { kind: 'drop' }
  | { kind: 'raw'; bytes: Buffer }
  | { kind: 'close' }

export interface FakeTargetOptions {
  host?: string
  /** Number of namespaces (NSIDs 1..n), each `nsBlocks` blocks of 512 B (default 1 × 2048). */
  namespaces?: number
  nsBlocks?: number
  /** Identify Controller NN (default: `namespaces`). */
  nn?: number
  onCommand?: (cmd: FakeCommand) => FakeReply | undefined
  /** Replace the ICResp: undefined = default, or raw bytes / drop / close. */
  onIcReq?: (conn: FakeConnection) => Exclude<FakeReply, { kind: 'complete' }> | undefined
  /** Every chunk received / sent on any connection (session recording for the fuzzer). */
  onRx?: (conn: FakeConnection, b: Buffer) => void
  onTx?: (conn: FakeConnection, b: Buffer) => void
}

/** Controller state shared by the connections of one fake target (one controller, cntlid 1). */
interface CtrlState {
  cc: number
}

export class FakeConnection {
  readonly socket: net.Socket
  readonly received: Pdu[] = []
  readonly termReqs: { fes: number; fei: number }[] = []
  readonly closed: Promise<void>
  qid = 0
  #target: FakeTarget
  #framer: PduFramer
  #digests = { hdgst: false, ddgst: false }
  /** Writes waiting for H2CData, by CID. */
  #writes = new Map<number, { cmd: FakeCommand; buf: Buffer; got: number }>()

  constructor(target: FakeTarget, socket: net.Socket) {
    this.#target = target
    this.socket = socket
    this.#framer = new PduFramer({ role: 'target', onPdu: (raw) => this.#onPdu(raw) })
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.on('data', (chunk: Buffer) => {
      target.options.onRx?.(this, chunk)
      try {
        this.#framer.push(chunk)
      } catch {
        socket.destroy()
      }
    })
    socket.on('error', () => undefined)
  }

  send(pdu: Pdu): void {
    this.sendRaw(Buffer.concat(encodePduParts(pdu, pdu.type === PduType.IC_RESP ? {} : this.#digests)))
  }
  sendRaw(b: Buffer): void {
    if (this.socket.destroyed) return
    this.#target.options.onTx?.(this, b)
    this.socket.write(b)
  }
  /** Complete a command: C2HData for `data` (then a CapsuleResp), or a CapsuleResp alone. */
  complete(cid: number, r: { status?: number; dw0?: number; dw1?: number; data?: Buffer } = {}): void {
    for (const b of this.encodeCompletion(cid, r)) this.sendRaw(b)
  }
  /** The ICResp this target sends (echoing the digests asked for, MAXH2CDATA 128 KiB). */
  encodeIcResp(dg: { hdgst: boolean; ddgst: boolean }): Buffer {
    const resp: IcResp = { type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: dg.hdgst, ddgst: dg.ddgst, maxh2cdata: 128 * 1024 }
    return Buffer.concat(encodePduParts(resp))
  }
  /** Digests in effect from now on (after an ICResp sent by hand). */
  adoptDigests(dg: { hdgst: boolean; ddgst: boolean }): void {
    this.#digests = { ...dg }
    this.#framer.setDigests(this.#digests)
  }
  /** The PDUs of a completion, encoded with this connection's digests (one Buffer per PDU). */
  encodeCompletion(cid: number, r: { status?: number; dw0?: number; dw1?: number; data?: Buffer }): Buffer[] {
    const out: Buffer[] = []
    const enc = (pdu: Pdu): number => out.push(Buffer.concat(encodePduParts(pdu, this.#digests)))
    if (r.data !== undefined && r.data.length > 0) enc({ type: PduType.C2H_DATA, cccid: cid, datao: 0, last: true, success: false, data: r.data })
    enc({ type: PduType.CAPSULE_RESP, cqe: encodeCqe({ dw0: r.dw0 ?? 0, dw1: r.dw1 ?? 0, sqhd: 0, sqid: this.qid, cid, status: r.status ?? 0 }) })
    return out
  }

  #onPdu(view: Buffer): void {
    let pdu: Pdu
    try {
      pdu = decodePdu(Buffer.from(view), this.#digests)
    } catch {
      this.socket.destroy()
      return
    }
    this.received.push(pdu)
    switch (pdu.type) {
      case PduType.IC_REQ: {
        const custom = this.#target.options.onIcReq?.(this)
        if (custom !== undefined) return this.#apply(custom, 0)
        const dg = { hdgst: pdu.hdgst, ddgst: pdu.ddgst }
        this.sendRaw(this.encodeIcResp(dg))
        this.adoptDigests(dg)
        return
      }
      case PduType.H2C_TERM_REQ:
        this.termReqs.push({ fes: pdu.fes, fei: pdu.fei })
        return
      case PduType.CAPSULE_CMD: {
        const sqe = decodeSqe(pdu.sqe)
        const cmd: FakeCommand = { conn: this, qid: this.qid, sqe, data: pdu.data, fctype: sqe.opc === FABRICS_OPCODE ? sqe.nsid & 0xff : undefined }
        // A write whose data is not in the capsule: ask for all of it with one R2T (10.1).
        const want = sqe.sgl.length
        const isWrite = (this.qid > 0 && sqe.opc === IoOpcode.WRITE) || cmd.fctype === FabricsType.CONNECT
        if (isWrite && (pdu.data === undefined || pdu.data.length === 0) && want > 0 && want <= 16 << 20) {
          this.#writes.set(sqe.cid, { cmd, buf: Buffer.alloc(want), got: 0 })
          this.send({ type: PduType.R2T, cccid: sqe.cid, ttag: sqe.cid & 0xffff, r2to: 0, r2tl: want })
          return
        }
        return this.#command(cmd)
      }
      case PduType.H2C_DATA: {
        const w = this.#writes.get(pdu.cccid)
        if (w === undefined || pdu.datao + pdu.data.length > w.buf.length) {
          this.socket.destroy()
          return
        }
        pdu.data.copy(w.buf, pdu.datao)
        w.got += pdu.data.length
        if (w.got >= w.buf.length) {
          this.#writes.delete(pdu.cccid)
          this.#command({ ...w.cmd, data: w.buf })
        }
        return
      }
      default:
        this.socket.destroy()
    }
  }

  #command(cmd: FakeCommand): void {
    if (cmd.fctype === FabricsType.CONNECT) this.qid = cmd.sqe.cdw10 >>> 16
    cmd.qid = this.qid
    const reply = this.#target.options.onCommand?.(cmd) ?? this.#target.defaultReply(cmd)
    this.#apply(reply, cmd.sqe.cid)
  }

  #apply(r: FakeReply, cid: number): void {
    switch (r.kind) {
      case 'complete':
        return this.complete(cid, r)
      case 'drop':
        return
      case 'raw':
        return this.sendRaw(r.bytes)
      case 'close':
        this.socket.destroy()
    }
  }
}

export class FakeTarget {
  readonly options: FakeTargetOptions
  readonly connections: FakeConnection[] = []
  readonly #server: net.Server
  readonly #ctrl: CtrlState = { cc: 0 }
  readonly #media: Buffer[]
  #port = 0

  private constructor(o: FakeTargetOptions) {
    this.options = o
    const n = o.namespaces ?? 1
    this.#media = Array.from({ length: n }, () => Buffer.alloc((o.nsBlocks ?? 2048) * FAKE_BLOCK_SIZE))
    this.#server = net.createServer((s) => {
      s.setNoDelay(true)
      this.connections.push(new FakeConnection(this, s))
    })
  }

  static async listen(o: FakeTargetOptions = {}): Promise<FakeTarget> {
    const t = new FakeTarget(o)
    await new Promise<void>((resolve, reject) => {
      t.#server.once('error', reject)
      t.#server.listen(0, o.host ?? '127.0.0.1', () => resolve())
    })
    t.#port = (t.#server.address() as net.AddressInfo).port
    return t
  }

  get port(): number {
    return this.#port
  }
  /** Connections whose socket is still open. */
  get openConnections(): number {
    return this.connections.filter((c) => !c.socket.destroyed && !c.socket.closed).length
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /** The answer of a well-behaved controller. */
  defaultReply(cmd: FakeCommand): FakeReply {
    const { sqe } = cmd
    const ok = (dw0 = 0, data?: Buffer): FakeReply => ({ kind: 'complete', dw0, ...(data !== undefined ? { data } : {}) })
    const n = this.#media.length
    if (cmd.fctype !== undefined) {
      switch (cmd.fctype) {
        case FabricsType.CONNECT:
          return ok(makeConnectResponseDw0({ cntlid: 1 }))
        case FabricsType.PROPERTY_GET: {
          const f = propertyGetFields(sqe)
          const v = f.ofst === Property.CAP ? encodeCap({ mqes: 127, to: 1 }) : f.ofst === Property.CC ? BigInt(this.#ctrl.cc) : f.ofst === Property.CSTS ? BigInt(this.#cstsNow()) : 0n
          return { kind: 'complete', dw0: Number(v & 0xffffffffn), dw1: Number(v >> 32n) }
        }
        case FabricsType.PROPERTY_SET: {
          const f = propertySetFields(sqe)
          if (f.ofst === Property.CC) this.#ctrl.cc = Number(f.value & 0xffffffffn)
          return ok()
        }
        default:
          return { kind: 'complete', status: NvmeStatus.INVALID_OPCODE }
      }
    }
    if (cmd.qid === 0) {
      switch (sqe.opc) {
        case AdminOpcode.IDENTIFY: {
          const f = identifyFields(sqe)
          if (f.cns === Cns.CONTROLLER) return ok(0, encodeIdentifyController({ nn: this.options.nn ?? n, mdts: 5, maxcmd: 128, ioccsz: 4, iorcsz: 1, sqes: 0x66, cqes: 0x44, ver: 0x10400 }))
          if (f.cns === Cns.ACTIVE_NS_LIST) return ok(0, encodeActiveNsList(Array.from({ length: n }, (_, i) => i + 1), sqe.nsid))
          if (f.cns === Cns.NAMESPACE && sqe.nsid >= 1 && sqe.nsid <= n) {
            const blocks = BigInt((this.#media[sqe.nsid - 1] as Buffer).length / FAKE_BLOCK_SIZE)
            return ok(0, encodeIdentifyNamespace({ nsze: blocks, ncap: blocks, nuse: blocks, flbas: 0, lbaf: [{ ms: 0, lbads: 9, rp: 0 }] }))
          }
          if (f.cns === Cns.NS_ID_DESC_LIST) return ok(0, encodeNsIdDescriptors([]))
          return { kind: 'complete', status: NvmeStatus.INVALID_FIELD }
        }
        case AdminOpcode.SET_FEATURES:
          return sqe.cdw10 === FeatureId.NUM_QUEUES ? ok(sqe.cdw11) : ok()
        case AdminOpcode.KEEP_ALIVE:
          return ok()
        case AdminOpcode.ASYNC_EVENT_REQUEST:
          return { kind: 'drop' }
        default:
          return { kind: 'complete', status: NvmeStatus.INVALID_OPCODE }
      }
    }
    const media = this.#media[sqe.nsid - 1]
    if (media === undefined) return { kind: 'complete', status: NvmeStatus.INVALID_NS }
    const slba = Number((BigInt(sqe.cdw11 >>> 0) << 32n) | BigInt(sqe.cdw10 >>> 0))
    const off = slba * FAKE_BLOCK_SIZE
    const len = ((sqe.cdw12 & 0xffff) + 1) * FAKE_BLOCK_SIZE
    if (sqe.opc !== IoOpcode.FLUSH && off + len > media.length) return { kind: 'complete', status: NvmeStatus.LBA_OUT_OF_RANGE }
    switch (sqe.opc) {
      case IoOpcode.READ:
        return ok(0, Buffer.from(media.subarray(off, off + len)))
      case IoOpcode.WRITE:
        if (cmd.data === undefined || cmd.data.length !== len) return { kind: 'complete', status: NvmeStatus.INVALID_FIELD }
        cmd.data.copy(media, off)
        return ok()
      case IoOpcode.FLUSH:
        return ok()
      default:
        return { kind: 'complete', status: NvmeStatus.INVALID_OPCODE }
    }
  }

  #cstsNow(): number {
    const en = (this.#ctrl.cc & 1) !== 0
    const shn = (this.#ctrl.cc >>> 14) & 3
    return encodeCsts({ rdy: en, shst: shn !== 0 ? 2 : 0 })
  }
}
