/**
 * A minimal raw NVMe/TCP host for the fault tests: it speaks just enough (ICReq, Connect, Property
 * Set/Get, admin and I/O commands with C2HData/R2T/H2CData) to observe what a fault does on the
 * wire, and keeps every received PDU as raw bytes so that corrupted digests can be seen rather than
 * rejected. It frames by the common header's PLEN only (no validation beyond that on purpose).
 * (test/target/helpers may grow a fuller client; this one stays small and fault-oriented.)
 */
import net from 'node:net'
import { crc32c } from '../../../lib/crc32c.js'
import { FABRICS_OPCODE } from '../../../lib/nvme/opcodes.js'
import { decodeCqe, type Cqe } from '../../../lib/nvme/cqe.js'
import { encodeConnectData, makeConnectSqe, makePropertyGetSqe, makePropertySetSqe, Property } from '../../../lib/nvme/fabrics.js'
import { sglInCapsule, sglTransportDataBlock } from '../../../lib/nvme/sgl.js'
import { encodeSqe, makeSqe, rwDwords, type Sqe } from '../../../lib/nvme/sqe.js'
import { PduType } from '../../../lib/pdu/common.js'
import { encodeCapsuleCmd } from '../../../lib/pdu/capsule-cmd.js'
import { encodeH2CData } from '../../../lib/pdu/h2c-data.js'
import { encodeIcReq } from '../../../lib/pdu/ic-req.js'

export interface RawPdu {
  type: number
  flags: number
  hlen: number
  pdo: number
  plen: number
  raw: Buffer
}

export interface CommandResult {
  cqe: Cqe
  data: Buffer
  /** Raw PDUs that belonged to this command (C2HData, R2T, CapsuleResp). */
  pdus: RawPdu[]
}

export type CloseInfo = { how: 'fin' | 'reset' | 'error'; code?: string }

export const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:5b0a4b5a-6d7c-4f3e-9a2b-1c0d0e0f1a2b'
export const HOSTID = Buffer.from('5b0a4b5a6d7c4f3e9a2b1c0d0e0f1a2b', 'hex')

export class RawHost {
  readonly socket: net.Socket
  readonly received: RawPdu[] = []
  readonly closed: Promise<CloseInfo>
  hdgst = false
  ddgst = false
  #buf = Buffer.alloc(0)
  #waiters: Array<() => void> = []
  #cid = 1
  #isClosed = false
  /** Bytes received per 'data' event (segmentation tests). */
  readonly chunkSizes: number[] = []

  private constructor(socket: net.Socket) {
    this.socket = socket
    let resolveClosed!: (c: CloseInfo) => void
    this.closed = new Promise((r) => (resolveClosed = r))
    let err: NodeJS.ErrnoException | undefined
    socket.on('data', (chunk: Buffer) => {
      this.chunkSizes.push(chunk.length)
      this.#buf = Buffer.concat([this.#buf, chunk])
      for (;;) {
        if (this.#buf.length < 8) break
        const plen = this.#buf.readUInt32LE(4)
        if (plen < 8 || this.#buf.length < plen) break
        const raw = Buffer.from(this.#buf.subarray(0, plen))
        this.#buf = this.#buf.subarray(plen)
        this.received.push({ type: raw[0]!, flags: raw[1]!, hlen: raw[2]!, pdo: raw[3]!, plen, raw })
      }
      this.#wake()
    })
    socket.on('error', (e: NodeJS.ErrnoException) => (err = e))
    socket.on('close', () => {
      this.#isClosed = true
      resolveClosed(err === undefined ? { how: 'fin' } : { how: err.code === 'ECONNRESET' ? 'reset' : 'error', ...(err.code !== undefined ? { code: err.code } : {}) })
      this.#wake()
    })
  }

  #wake(): void {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }

  get isClosed(): boolean {
    return this.#isClosed
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawHost> {
    const socket = net.connect({ host, port })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.setNoDelay(true)
    return new RawHost(socket)
  }

  /** Wait until a received PDU satisfies `pred` (searching from `from`), the socket closes, or the timeout. */
  async waitFor(pred: (p: RawPdu) => boolean, timeoutMs = 3000, from = 0): Promise<RawPdu | undefined> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.received.slice(from).find(pred)
      if (found !== undefined) return found
      if (this.#isClosed) return undefined
      const left = deadline - Date.now()
      if (left <= 0) return undefined
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  send(buf: Buffer): void {
    this.socket.write(buf)
  }

  async icReq(opts: { hdgst?: boolean; ddgst?: boolean } = {}): Promise<RawPdu> {
    this.send(encodeIcReq({ type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: opts.hdgst === true, ddgst: opts.ddgst === true, maxr2t: 0 }))
    const r = await this.waitFor((p) => p.type === PduType.IC_RESP)
    if (r === undefined) throw new Error('no ICResp')
    this.hdgst = (r.raw[11]! & 1) !== 0
    this.ddgst = (r.raw[11]! & 2) !== 0
    return r
  }

  nextCid(): number {
    const c = this.#cid
    this.#cid = (this.#cid % 0xfff0) + 1
    return c
  }

  /** Send a command capsule (with optional in-capsule data). */
  sendCapsule(sqe: Sqe, data?: Buffer): void {
    const pdu = { type: PduType.CAPSULE_CMD, sqe: encodeSqe(sqe), ...(data !== undefined ? { data } : {}) } as const
    this.send(encodeCapsuleCmd(pdu, { hdgst: this.hdgst, ddgst: this.ddgst }))
  }

  /**
   * Run a command: send it, answer R2Ts from `writeData`, collect C2HData, return at the
   * CapsuleResp (or a C2HData with SUCCESS). Undefined on timeout or close.
   */
  async command(sqe: Sqe, opts: { inCapsule?: Buffer; writeData?: Buffer; timeoutMs?: number } = {}): Promise<CommandResult | undefined> {
    const from = this.received.length
    this.sendCapsule(sqe, opts.inCapsule)
    const chunks: Buffer[] = []
    const pdus: RawPdu[] = []
    let scan = from
    const deadline = Date.now() + (opts.timeoutMs ?? 3000)
    for (;;) {
      const p = await this.waitFor(() => true, Math.max(1, deadline - Date.now()), scan)
      if (p === undefined) return undefined
      scan = this.received.indexOf(p, scan) + 1
      const cccid = p.raw.readUInt16LE(8)
      if (p.type === PduType.C2H_DATA && cccid === sqe.cid) {
        pdus.push(p)
        const dataEnd = p.plen - ((p.flags & 2) !== 0 ? 4 : 0)
        chunks.push(p.raw.subarray(p.pdo, dataEnd))
        if ((p.flags & 0x08) !== 0) return { cqe: { cid: sqe.cid, status: 0, dw0: 0, dw1: 0, sqhd: 0, sqid: 0 }, data: Buffer.concat(chunks), pdus }
      } else if (p.type === PduType.R2T && cccid === sqe.cid) {
        pdus.push(p)
        const ttag = p.raw.readUInt16LE(10)
        const r2to = p.raw.readUInt32LE(12)
        const r2tl = p.raw.readUInt32LE(16)
        const data = (opts.writeData ?? Buffer.alloc(0)).subarray(r2to, r2to + r2tl)
        this.send(encodeH2CData({ type: PduType.H2C_DATA, cccid: sqe.cid, ttag, datao: r2to, last: true, data }, { hdgst: this.hdgst, ddgst: this.ddgst }))
      } else if (p.type === PduType.CAPSULE_RESP) {
        const cqe = decodeCqe(p.raw.subarray(8, 24))
        if (cqe.cid !== sqe.cid) continue
        pdus.push(p)
        return { cqe, data: Buffer.concat(chunks), pdus }
      }
    }
  }

  /** ICReq + admin Connect; returns the Connect completion (cntlid in dw0 on success). */
  async connectAdmin(subnqn: string, opts: { kato?: number; hostnqn?: string; hdgst?: boolean; ddgst?: boolean } = {}): Promise<CommandResult> {
    await this.icReq(opts)
    const cid = this.nextCid()
    const data = encodeConnectData({ hostid: HOSTID, cntlid: 0xffff, subnqn, hostnqn: opts.hostnqn ?? HOSTNQN })
    const r = await this.command(makeConnectSqe({ cid, qid: 0, sqsize: 31, kato: opts.kato ?? 0 }), { inCapsule: data })
    if (r === undefined) throw new Error('no Connect response')
    return r
  }

  async connectIo(subnqn: string, cntlid: number, qid: number, opts: { hdgst?: boolean; ddgst?: boolean } = {}): Promise<CommandResult> {
    await this.icReq(opts)
    const cid = this.nextCid()
    const data = encodeConnectData({ hostid: HOSTID, cntlid, subnqn, hostnqn: HOSTNQN })
    const r = await this.command(makeConnectSqe({ cid, qid, sqsize: 31 }), { inCapsule: data })
    if (r === undefined) throw new Error('no Connect response')
    return r
  }

  async propertySet(ofst: number, value: bigint): Promise<CommandResult | undefined> {
    return this.command(makePropertySetSqe({ cid: this.nextCid(), size: 4, ofst, value }))
  }

  async propertyGet(ofst: number, size: 4 | 8 = 4): Promise<CommandResult | undefined> {
    return this.command(makePropertyGetSqe({ cid: this.nextCid(), size, ofst }))
  }

  /** CC.EN = 1 (IOSQES 6, IOCQES 4) and wait for CSTS.RDY. */
  async enable(): Promise<void> {
    const cc = (1 | (6 << 16) | (4 << 20)) >>> 0
    const r = await this.propertySet(Property.CC, BigInt(cc))
    if (r === undefined || r.cqe.status !== 0) throw new Error(`CC.EN failed: ${JSON.stringify(r?.cqe)}`)
    for (let i = 0; i < 50; i++) {
      const s = await this.propertyGet(Property.CSTS)
      if (s !== undefined && (s.cqe.dw0 & 1) === 1) return
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error('CSTS.RDY never set')
  }

  /** Admin command reading `len` bytes (Identify, Get Log Page, ...). */
  async adminRead(opc: number, len: number, f: Partial<Sqe> = {}, timeoutMs?: number): Promise<CommandResult | undefined> {
    return this.command(makeSqe({ opc, cid: this.nextCid(), sgl: sglTransportDataBlock(len), ...f }), timeoutMs !== undefined ? { timeoutMs } : {})
  }

  /** Get Log Page (NUMDL from len). */
  async getLogPage(lid: number, len: number, opts: { nsid?: number; rae?: boolean; lpo?: number } = {}): Promise<CommandResult | undefined> {
    const numd = len / 4 - 1
    return this.adminRead(0x02, len, {
      nsid: opts.nsid ?? 0xffffffff,
      cdw10: (lid | (opts.rae === true ? 1 << 15 : 0) | ((numd & 0xffff) << 16)) >>> 0,
      cdw11: numd >>> 16,
      cdw12: opts.lpo ?? 0,
    })
  }

  /** Send an Asynchronous Event Request; resolves with its completion when an event fires. */
  aer(timeoutMs = 3000): Promise<CommandResult | undefined> {
    return this.command(makeSqe({ opc: 0x0c, cid: this.nextCid() }), { timeoutMs })
  }

  async read(nsid: number, slba: bigint, nlb: number, blockSize = 512, timeoutMs?: number): Promise<CommandResult | undefined> {
    const sqe = makeSqe({ opc: 0x02, cid: this.nextCid(), nsid, sgl: sglTransportDataBlock(nlb * blockSize), ...rwDwords({ slba, nlb: nlb - 1 }) })
    return this.command(sqe, timeoutMs !== undefined ? { timeoutMs } : {})
  }

  async write(nsid: number, slba: bigint, data: Buffer, blockSize = 512, opts: { inCapsule?: boolean; timeoutMs?: number } = {}): Promise<CommandResult | undefined> {
    const nlb = data.length / blockSize
    const inCap = opts.inCapsule === true
    const sqe = makeSqe({ opc: 0x01, cid: this.nextCid(), nsid, sgl: inCap ? sglInCapsule(data.length) : sglTransportDataBlock(data.length), ...rwDwords({ slba, nlb: nlb - 1 }) })
    return this.command(sqe, { ...(inCap ? { inCapsule: data } : { writeData: data }), ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) })
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Header digest check of a raw PDU (true when HDGST present and correct). */
export function hdgstOk(p: RawPdu): boolean {
  if ((p.flags & 1) === 0) return true
  return p.raw.readUInt32LE(p.hlen) === crc32c(p.raw.subarray(0, p.hlen)) >>> 0
}

/** Data digest check of a raw PDU. */
export function ddgstOk(p: RawPdu): boolean {
  if ((p.flags & 2) === 0) return true
  const end = p.plen - 4
  return p.raw.readUInt32LE(end) === crc32c(p.raw.subarray(p.pdo, end)) >>> 0
}

export { FABRICS_OPCODE }
