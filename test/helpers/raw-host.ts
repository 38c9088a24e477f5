/**
 * Test helper (not the initiator): one minimal NVMe/TCP host for the target and fault tests. It
 * speaks PDUs with the lib codecs so a test can drive one queue precisely — ICReq, Connect, Property
 * Get/Set, CC.EN and CSTS polling, admin and I/O commands, R2T/H2CData writes, C2HData reads, AERs —
 * send bytes the target must reject, and observe C2HTermReqs, closes (FIN or RST) and how the bytes
 * arrived (`chunkSizes`). Every received PDU is kept as raw bytes plus its decoded form.
 *
 * Two receive modes:
 * - strict (default): PDUs go through the lib `PduFramer` and `decodePdu`, so a malformed PDU or a bad
 *   header/data digest from the target kills the connection (a target bug must not pass silently);
 * - `acceptBadDigests: true` (fault tests): frames by the common header's PLEN only, keeps PDUs whose
 *   digests are wrong (check them with {@link hdgstOk}/{@link ddgstOk}) and still completes commands
 *   from them, so that a corrupting fault can be seen on the wire rather than rejected.
 *
 * Commands resolve with a {@link Completion} and reject on timeout or when the connection closes;
 * {@link orUndefined} turns that into `undefined` for tests whose point is "no completion".
 *
 * The commands sent by name (Connect, Property Get/Set, Identify, Read...) are in the base class,
 * raw-host-commands.ts, the bounded waits in bounded-waits.ts; what tests import from here still is.
 */
import { connect, type Socket } from 'node:net'
import { crc32c } from '../../lib/crc32c.js'
import { PduFramer } from '../../lib/framer.js'
import { decodePdu, encodePduParts, PduType, type Pdu } from '../../lib/pdu/index.js'
import { PduFlags } from '../../lib/pdu/common.js'
import { encodeSqe, type Sqe } from '../../lib/nvme/sqe.js'
import { decodeCqe, type Cqe } from '../../lib/nvme/cqe.js'
import { sglInCapsule, sglTransportDataBlock } from '../../lib/nvme/sgl.js'
import { POSITIVE_WAIT_MS, withTimeout } from './bounded-waits.js'
import { RawHostCommands } from './raw-host-commands.js'

// Re-exported: tests import these from here, where they were declared.
export { POSITIVE_WAIT_MS, withTimeout, orUndefined, waitFor } from './bounded-waits.js'
export { HOSTNQN, HOSTID } from './raw-host-commands.js'

export interface RawHostOptions {
  port: number
  host?: string
  hdgst?: boolean
  ddgst?: boolean
  hpda?: number
  /** Called with every byte chunk sent / received (for pcap capture). */
  onTx?: (b: Buffer) => void
  onRx?: (b: Buffer) => void
  /** Skip ICReq (tests of a silent client, or of ICReq itself). */
  noIcReq?: boolean
  /** Keep PDUs with wrong digests instead of dropping the connection (fault tests). */
  acceptBadDigests?: boolean
}

/** One received PDU: its common header fields, a private copy of its bytes, and its decoded form. */
export interface RawPdu {
  type: number
  flags: number
  hlen: number
  pdo: number
  plen: number
  raw: Buffer
  /** Undefined when the bytes do not decode (e.g. a corrupted header digest in lenient mode). */
  pdu: Pdu | undefined
}

export interface Completion {
  cqe: Cqe
  /** C2H data received for the command. */
  data: Buffer
  /** The command completed by C2HData SUCCESS (no CapsuleResp). */
  elided: boolean
  /** The PDUs that belonged to this command (C2HData, R2T, CapsuleResp), in arrival order. */
  pdus: RawPdu[]
}

export type CloseInfo = { how: 'fin' | 'reset' | 'error'; code?: string }

interface Pending {
  resolve: (c: Completion) => void
  reject: (e: Error) => void
  chunks: Buffer[]
  pdus: RawPdu[]
  writeData: Buffer | undefined
}

export class RawHost extends RawHostCommands {
  readonly socket: Socket
  readonly received: RawPdu[] = []
  readonly termReqs: { fes: number; fei: number; data: Buffer }[] = []
  /**
   * PDUs for a CID this host is not tracking (a command hand-rolled with `sendPdu`/`sendCapsule`, or
   * a late answer): kept here, never fatal, so a test driving PDUs by hand keeps its connection.
   */
  readonly stray: RawPdu[] = []
  /** Bytes received per 'data' event (segmentation/coalescing tests). */
  readonly chunkSizes: number[] = []
  readonly closed: Promise<CloseInfo>
  maxh2cdata = 0
  /** Corrupt the data digest of the next H2CData PDU (test of DDGST errors). */
  corruptNextH2CDigest = false
  readonly #framer: PduFramer | undefined
  readonly #lenient: boolean
  #buf: Buffer = Buffer.alloc(0)
  #digests = { hdgst: false, ddgst: false }
  #pending = new Map<number, Pending>()
  #cid = 0
  #isClosed = false
  #waiters: Array<() => void> = []
  #onTx: ((b: Buffer) => void) | undefined

  private constructor(socket: Socket, o: RawHostOptions) {
    super()
    this.socket = socket
    this.#onTx = o.onTx
    this.#lenient = o.acceptBadDigests === true
    this.#framer = this.#lenient ? undefined : new PduFramer({ role: 'host', maxC2HData: 16 << 20, onPdu: (raw) => this.#onPdu(raw) })
    let resolveClosed!: (c: CloseInfo) => void
    this.closed = new Promise((r) => (resolveClosed = r))
    let err: NodeJS.ErrnoException | undefined
    socket.on('data', (chunk: Buffer) => {
      this.chunkSizes.push(chunk.length)
      o.onRx?.(chunk)
      try {
        if (this.#framer !== undefined) this.#framer.push(chunk)
        else this.#frameByPlen(chunk)
      } catch (e) {
        socket.destroy(e as Error)
      }
      this.#wake()
    })
    socket.on('error', (e: NodeJS.ErrnoException) => (err = e))
    socket.on('close', () => {
      this.#isClosed = true
      for (const p of this.#pending.values()) p.reject(new Error('connection closed'))
      this.#pending.clear()
      resolveClosed(err === undefined ? { how: 'fin' } : { how: err.code === 'ECONNRESET' ? 'reset' : 'error', ...(err.code !== undefined ? { code: err.code } : {}) })
      this.#wake()
    })
  }

  static async connect(o: RawHostOptions): Promise<RawHost> {
    const socket = connect({ host: o.host ?? '127.0.0.1', port: o.port, noDelay: true })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const h = new RawHost(socket, o)
    if (o.noIcReq !== true) await h.icReq({ hdgst: o.hdgst === true, ddgst: o.ddgst === true, hpda: o.hpda ?? 0 })
    return h
  }

  /**
   * An enabled controller's admin queue and its I/O queue 1 (`sqsize`), each on its own connection;
   * `teardown` gets each connection's destroy (tap's `t.teardown`). Throws unless both Connects succeed.
   */
  static async ioPair(o: { port: number; subnqn: string; sqsize: number; teardown: (fn: () => void) => void }): Promise<{ admin: RawHost; io: RawHost; cntlid: number }> {
    const admin = await RawHost.connect({ port: o.port })
    o.teardown(() => admin.destroy())
    const cntlid = await admin.connectAdmin({ subnqn: o.subnqn })
    const io = await RawHost.connect({ port: o.port })
    o.teardown(() => io.destroy())
    await io.connectIo({ subnqn: o.subnqn, cntlid, sqsize: o.sqsize })
    return { admin, io, cntlid }
  }

  get isClosed(): boolean {
    return this.#isClosed
  }
  /** Digests negotiated by ICResp. */
  get hdgst(): boolean {
    return this.#digests.hdgst
  }
  get ddgst(): boolean {
    return this.#digests.ddgst
  }
  /** Commands submitted and not yet completed. */
  get pending(): number {
    return this.#pending.size
  }

  async icReq(o: { hdgst?: boolean; ddgst?: boolean; hpda?: number } = {}): Promise<RawPdu> {
    const from = this.received.length
    this.sendPdu({ type: PduType.IC_REQ, pfv: 0, hpda: o.hpda ?? 0, hdgst: o.hdgst === true, ddgst: o.ddgst === true, maxr2t: 0 })
    const r = await this.waitForPdu((p) => p.type === PduType.IC_RESP, POSITIVE_WAIT_MS, from)
    if (r === undefined) throw new Error('timeout waiting for ICResp')
    return r
  }

  /** Lenient framing: split by PLEN only, so PDUs with broken digests are still delivered. */
  #frameByPlen(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    while (this.#buf.length >= 8) {
      const plen = this.#buf.readUInt32LE(4)
      if (plen < 8) throw new Error(`PDU with PLEN ${plen}`)
      if (this.#buf.length < plen) break
      const raw = this.#buf.subarray(0, plen)
      this.#buf = this.#buf.subarray(plen)
      this.#onPdu(raw)
    }
  }

  #onPdu(view: Buffer): void {
    const raw = Buffer.from(view)
    let pdu: Pdu | undefined
    try {
      pdu = decodePdu(raw, this.#digests)
    } catch (e) {
      if (!this.#lenient) throw e
    }
    const rp: RawPdu = { type: raw[0]!, flags: raw[1]!, hlen: raw[2]!, pdo: raw[3]!, plen: raw.length, raw, pdu }
    this.received.push(rp)
    switch (rp.type) {
      case PduType.IC_RESP:
        if (pdu?.type !== PduType.IC_RESP) throw new Error('undecodable ICResp')
        this.maxh2cdata = pdu.maxh2cdata
        this.#digests = { hdgst: pdu.hdgst, ddgst: pdu.ddgst }
        this.#framer?.setDigests(this.#digests)
        return
      case PduType.C2H_TERM_REQ:
        if (pdu?.type !== PduType.C2H_TERM_REQ) throw new Error('undecodable C2HTermReq')
        this.termReqs.push({ fes: pdu.fes, fei: pdu.fei, data: Buffer.from(pdu.data) })
        return
      case PduType.C2H_DATA: {
        // Fields read at their wire offsets (spec 1.4: CCCID at 8) so a PDU with a bad digest still counts.
        const p = this.#own(rp, raw.readUInt16LE(8))
        if (p === undefined) return
        if (!this.#lenient && !ddgstOk(rp)) throw new Error('bad C2H data digest')
        p.chunks.push(raw.subarray(rp.pdo, rp.plen - ((rp.flags & PduFlags.DDGSTF) !== 0 ? 4 : 0)))
        if ((rp.flags & PduFlags.SUCCESS) !== 0) {
          const cid = raw.readUInt16LE(8)
          this.#pending.delete(cid)
          p.resolve({ cqe: { dw0: 0, dw1: 0, sqhd: 0, sqid: 0, cid, status: 0 }, data: Buffer.concat(p.chunks), elided: true, pdus: p.pdus })
        }
        return
      }
      case PduType.R2T: {
        const cccid = raw.readUInt16LE(8)
        const p = this.#own(rp, cccid)
        if (p === undefined) return
        if (p.writeData === undefined) throw new Error(`R2T for cid ${cccid}, which has no data to write`)
        const ttag = raw.readUInt16LE(10)
        const r2to = raw.readUInt32LE(12)
        const end = r2to + raw.readUInt32LE(16)
        const chunk = this.maxh2cdata > 0 ? this.maxh2cdata : end - r2to
        for (let off = r2to; off < end; off += chunk) {
          const len = Math.min(chunk, end - off)
          const parts = encodePduParts({ type: PduType.H2C_DATA, cccid, ttag, datao: off, last: off + len === end, data: p.writeData.subarray(off, off + len) }, this.#digests)
          if (this.corruptNextH2CDigest && this.#digests.ddgst) {
            this.corruptNextH2CDigest = false
            const d = Buffer.from(parts[parts.length - 1]!)
            d[0] = d[0]! ^ 0xff
            parts[parts.length - 1] = d
          }
          this.sendRaw(Buffer.concat(parts))
        }
        return
      }
      case PduType.CAPSULE_RESP: {
        const cqe = decodeCqe(raw.subarray(8, 24))
        const p = this.#own(rp, cqe.cid)
        if (p === undefined) return
        this.#pending.delete(cqe.cid)
        p.resolve({ cqe, data: Buffer.concat(p.chunks), elided: false, pdus: p.pdus })
        return
      }
      default:
        throw new Error(`unexpected PDU type ${rp.type}`)
    }
  }

  /** The pending command a PDU belongs to; a PDU for an untracked CID goes to `stray`. */
  #own(rp: RawPdu, cid: number): Pending | undefined {
    const p = this.#pending.get(cid)
    if (p === undefined) {
      this.stray.push(rp)
      return undefined
    }
    p.pdus.push(rp)
    return p
  }

  #wake(): void {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }

  /** Wait until a received PDU (from index `from`) satisfies `pred`; undefined on close or timeout. */
  async waitForPdu(pred: (p: RawPdu) => boolean, timeoutMs = POSITIVE_WAIT_MS, from = 0): Promise<RawPdu | undefined> {
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

  sendPdu(pdu: Pdu): void {
    const opts = pdu.type === PduType.IC_REQ ? {} : this.#digests
    this.sendRaw(Buffer.concat(encodePduParts(pdu, opts)))
  }
  sendRaw(b: Buffer): void {
    this.#onTx?.(b)
    this.socket.write(b)
  }
  /** Send a command capsule without tracking it (with optional in-capsule data). */
  sendCapsule(sqe: Sqe, data?: Buffer): void {
    this.sendPdu({ type: PduType.CAPSULE_CMD, sqe: encodeSqe(sqe), ...(data !== undefined ? { data } : {}) })
  }

  override nextCid(): number {
    this.#cid = (this.#cid + 1) & 0xffff
    if (this.#cid === 0) this.#cid = 1
    return this.#cid
  }

  #track(cid: number, writeData: Buffer | undefined): Promise<Completion> {
    const p = new Promise<Completion>((resolve, reject) => {
      this.#pending.set(cid, { resolve, reject, chunks: [], pdus: [], writeData })
    })
    p.catch(() => undefined)
    return p
  }

  /**
   * Submit a command. `data` goes in-capsule when `inCapsule` (SGL 0x01), else by R2T (SGL 0x5A);
   * `readLength` asks for that many bytes of C2H data. Rejects on timeout or connection close.
   */
  override command(sqe: Sqe, o: { data?: Buffer; inCapsule?: boolean; readLength?: number; timeoutMs?: number } = {}): Promise<Completion> {
    if (o.data !== undefined) sqe.sgl = o.inCapsule === true ? sglInCapsule(o.data.length) : sglTransportDataBlock(o.data.length)
    else if (o.readLength !== undefined) sqe.sgl = sglTransportDataBlock(o.readLength)
    if (this.#isClosed) return Promise.reject(new Error('connection closed'))
    const p = this.#track(sqe.cid, o.inCapsule === true ? undefined : o.data)
    this.sendCapsule(sqe, o.inCapsule === true ? o.data : undefined)
    return withTimeout(p, o.timeoutMs ?? POSITIVE_WAIT_MS, `command cid ${sqe.cid} opc 0x${sqe.opc.toString(16)}`)
  }

  /** Send a command and don't wait (collect it later with `wait`). */
  post(sqe: Sqe): void {
    this.#pending.set(sqe.cid, { resolve: () => undefined, reject: () => undefined, chunks: [], pdus: [], writeData: undefined })
    this.sendCapsule(sqe)
  }

  /** A pending command's completion (for commands posted with `post`). */
  wait(cid: number, timeoutMs = POSITIVE_WAIT_MS): Promise<Completion> {
    const existing = this.#pending.get(cid)
    const p = new Promise<Completion>((resolve, reject) => {
      this.#pending.set(cid, { resolve, reject, chunks: existing?.chunks ?? [], pdus: existing?.pdus ?? [], writeData: existing?.writeData })
    })
    return withTimeout(p, timeoutMs, `wait cid ${cid}`)
  }

  /** Half-close (FIN) and wait for the connection to end. */
  close(): Promise<CloseInfo> {
    this.socket.end()
    return this.closed
  }
  destroy(): void {
    this.socket.destroy()
  }
}

/** Header digest check of a raw PDU (true when HDGST is absent, or present and correct). */
export function hdgstOk(p: RawPdu): boolean {
  if ((p.flags & PduFlags.HDGSTF) === 0) return true
  return p.raw.readUInt32LE(p.hlen) === crc32c(p.raw.subarray(0, p.hlen)) >>> 0
}

/** Data digest check of a raw PDU (true when DDGST is absent, or present and correct). */
export function ddgstOk(p: RawPdu): boolean {
  if ((p.flags & PduFlags.DDGSTF) === 0) return true
  const end = p.plen - 4
  return p.raw.readUInt32LE(end) === crc32c(p.raw.subarray(p.pdo, end)) >>> 0
}
