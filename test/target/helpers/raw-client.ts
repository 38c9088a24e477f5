/**
 * Test helper (not the initiator): a minimal NVMe/TCP host that speaks PDUs with the lib codecs, so
 * target tests can drive one queue precisely — ICReq, Connect, Property Get/Set, CC.EN and CSTS
 * polling, admin and I/O commands, R2T/H2CData writes and C2HData reads — and also send bytes the
 * target must reject. Every received and sent byte can be recorded (pcap capture).
 */
import { connect, type Socket } from 'node:net'
import { PduFramer } from '../../../lib/framer.js'
import { decodePdu, encodePduParts, PduType, type Pdu } from '../../../lib/pdu/index.js'
import { encodeSqe, makeSqe, type Sqe } from '../../../lib/nvme/sqe.js'
import { decodeCqe, type Cqe } from '../../../lib/nvme/cqe.js'
import { sglInCapsule, sglTransportDataBlock } from '../../../lib/nvme/sgl.js'
import { encodeConnectData, makeConnectSqe, makePropertyGetSqe, makePropertySetSqe, Property } from '../../../lib/nvme/fabrics.js'
import { makeGetLogPageSqe, makeIdentifySqe } from '../../../lib/nvme/commands.js'
import { rwDwords } from '../../../lib/nvme/sqe.js'
import { IoOpcode } from '../../../lib/nvme/opcodes.js'

export const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:6a2c0a5e-3c0f-4b8e-9a4d-1f2e3d4c5b6a'
export const HOSTID = Buffer.from('6a2c0a5e3c0f4b8e9a4d1f2e3d4c5b6a', 'hex')

export interface RawClientOptions {
  port: number
  host?: string
  hdgst?: boolean
  ddgst?: boolean
  hpda?: number
  /** Called with every byte chunk sent / received (for pcap capture). */
  onTx?: (b: Buffer) => void
  onRx?: (b: Buffer) => void
  /** Skip ICReq (tests of a silent client). */
  noIcReq?: boolean
}

export interface Completion {
  cqe: Cqe
  /** C2H data received for the command. */
  data: Buffer
  /** The command completed by C2HData SUCCESS (no CapsuleResp). */
  elided: boolean
}

interface Pending {
  resolve: (c: Completion) => void
  reject: (e: Error) => void
  chunks: Buffer[]
  writeData: Buffer | undefined
}

export class RawClient {
  readonly socket: Socket
  readonly framer: PduFramer
  readonly received: Pdu[] = []
  readonly termReqs: { fes: number; fei: number; data: Buffer }[] = []
  maxh2cdata = 0
  #digests = { hdgst: false, ddgst: false }
  #hpda = 0
  #pending = new Map<number, Pending>()
  #cid = 0
  #icResp: Promise<void>
  #resolveIc!: () => void
  #onTx: ((b: Buffer) => void) | undefined
  readonly closed: Promise<void>
  /** Corrupt the data digest of the next H2CData PDU (test of DDGST errors). */
  corruptNextH2CDigest = false

  private constructor(socket: Socket, o: RawClientOptions) {
    this.socket = socket
    this.#onTx = o.onTx
    this.#hpda = o.hpda ?? 0
    this.#icResp = new Promise((r) => (this.#resolveIc = r))
    this.framer = new PduFramer({ role: 'host', maxC2HData: 16 << 20, onPdu: (raw) => this.#onPdu(raw) })
    socket.on('data', (chunk: Buffer) => {
      o.onRx?.(chunk)
      try {
        this.framer.push(chunk)
      } catch (err) {
        socket.destroy(err as Error)
      }
    })
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        for (const p of this.#pending.values()) p.reject(new Error('connection closed'))
        this.#pending.clear()
        resolve()
      }),
    )
    socket.on('error', () => undefined)
  }

  static async connect(o: RawClientOptions): Promise<RawClient> {
    const socket = connect({ host: o.host ?? '127.0.0.1', port: o.port, noDelay: true })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const c = new RawClient(socket, o)
    if (o.noIcReq !== true) await c.icReq({ hdgst: o.hdgst === true, ddgst: o.ddgst === true, hpda: o.hpda ?? 0 })
    return c
  }

  async icReq(o: { hdgst: boolean; ddgst: boolean; hpda: number }): Promise<void> {
    this.sendPdu({ type: PduType.IC_REQ, pfv: 0, hpda: o.hpda, hdgst: o.hdgst, ddgst: o.ddgst, maxr2t: 0 })
    await withTimeout(this.#icResp, 5000, 'ICResp')
  }

  #onPdu(raw: Buffer): void {
    const pdu = decodePdu(raw, this.#digests)
    const copy = decodePdu(Buffer.from(raw), this.#digests)
    this.received.push(copy)
    switch (pdu.type) {
      case PduType.IC_RESP:
        this.maxh2cdata = pdu.maxh2cdata
        this.#digests = { hdgst: pdu.hdgst, ddgst: pdu.ddgst }
        this.framer.setDigests(this.#digests)
        this.#resolveIc()
        return
      case PduType.C2H_TERM_REQ:
        this.termReqs.push({ fes: pdu.fes, fei: pdu.fei, data: Buffer.from(pdu.data) })
        return
      case PduType.C2H_DATA: {
        const p = this.#pending.get(pdu.cccid)
        if (p === undefined) throw new Error(`C2HData for unknown cid ${pdu.cccid}`)
        if (pdu.dataDigestOk === false) throw new Error('bad C2H data digest')
        p.chunks.push(Buffer.from(pdu.data))
        if (pdu.success) {
          this.#pending.delete(pdu.cccid)
          p.resolve({ cqe: { dw0: 0, dw1: 0, sqhd: 0, sqid: 0, cid: pdu.cccid, status: 0 }, data: Buffer.concat(p.chunks), elided: true })
        }
        return
      }
      case PduType.R2T: {
        const p = this.#pending.get(pdu.cccid)
        if (p === undefined || p.writeData === undefined) throw new Error(`R2T for unknown cid ${pdu.cccid}`)
        const end = pdu.r2to + pdu.r2tl
        for (let off = pdu.r2to; off < end; off += this.maxh2cdata) {
          const len = Math.min(this.maxh2cdata, end - off)
          const parts = encodePduParts(
            { type: PduType.H2C_DATA, cccid: pdu.cccid, ttag: pdu.ttag, datao: off, last: off + len === end, data: p.writeData.subarray(off, off + len) },
            this.#digests,
          )
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
        const cqe = decodeCqe(pdu.cqe)
        const p = this.#pending.get(cqe.cid)
        if (p === undefined) throw new Error(`CapsuleResp for unknown cid ${cqe.cid}`)
        this.#pending.delete(cqe.cid)
        p.resolve({ cqe, data: Buffer.concat(p.chunks), elided: false })
        return
      }
      default:
        throw new Error(`unexpected PDU ${pdu.type}`)
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

  nextCid(): number {
    this.#cid = (this.#cid + 1) & 0xffff
    if (this.#cid === 0) this.#cid = 1
    return this.#cid
  }

  /**
   * Submit a command. `data` goes in-capsule when `inCapsule` (SGL 0x01), else by R2T (SGL 0x5A);
   * `readLength` asks for that many bytes of C2H data.
   */
  command(sqe: Sqe, o: { data?: Buffer; inCapsule?: boolean; readLength?: number; timeoutMs?: number } = {}): Promise<Completion> {
    if (o.data !== undefined) sqe.sgl = o.inCapsule === true ? sglInCapsule(o.data.length) : sglTransportDataBlock(o.data.length)
    else if (o.readLength !== undefined) sqe.sgl = sglTransportDataBlock(o.readLength)
    const capsule: Pdu = { type: PduType.CAPSULE_CMD, sqe: encodeSqe(sqe) }
    const p = new Promise<Completion>((resolve, reject) => {
      this.#pending.set(sqe.cid, { resolve, reject, chunks: [], writeData: o.inCapsule === true ? undefined : o.data })
    })
    p.catch(() => undefined)
    if (o.inCapsule === true && o.data !== undefined) capsule.data = o.data
    this.sendPdu(capsule)
    return withTimeout(p, o.timeoutMs ?? 5000, `command cid ${sqe.cid} opc 0x${sqe.opc.toString(16)}`)
  }

  /** Send a command and don't wait (returns the CID). */
  post(sqe: Sqe): void {
    this.#pending.set(sqe.cid, { resolve: () => undefined, reject: () => undefined, chunks: [], writeData: undefined })
    this.sendPdu({ type: PduType.CAPSULE_CMD, sqe: encodeSqe(sqe) })
  }

  /** A pending command's completion (for commands posted with `post`). */
  wait(cid: number, timeoutMs = 5000): Promise<Completion> {
    const existing = this.#pending.get(cid)
    const p = new Promise<Completion>((resolve, reject) => {
      this.#pending.set(cid, { resolve, reject, chunks: existing?.chunks ?? [], writeData: existing?.writeData })
    })
    return withTimeout(p, timeoutMs, `wait cid ${cid}`)
  }

  connectCmd(o: { qid: number; subnqn: string; hostnqn?: string; cntlid?: number; sqsize?: number; kato?: number; recfmt?: number; cattr?: number }): Promise<Completion> {
    const sqe = makeConnectSqe({ cid: this.nextCid(), qid: o.qid, sqsize: o.sqsize ?? (o.qid === 0 ? 31 : 127), kato: o.kato ?? 0, recfmt: o.recfmt ?? 0, cattr: o.cattr ?? 0 })
    const data = encodeConnectData({ hostid: HOSTID, cntlid: o.cntlid ?? 0xffff, subnqn: o.subnqn, hostnqn: o.hostnqn ?? HOSTNQN })
    return this.command(sqe, { data, inCapsule: true })
  }

  async propertyGet(ofst: number, size: 4 | 8 = 4): Promise<bigint> {
    const c = await this.command(makePropertyGetSqe({ cid: this.nextCid(), ofst, size }))
    if (c.cqe.status !== 0) throw new Error(`Property Get 0x${ofst.toString(16)} status 0x${c.cqe.status.toString(16)}`)
    return BigInt(c.cqe.dw0 >>> 0) | (BigInt(c.cqe.dw1 >>> 0) << 32n)
  }
  propertySet(ofst: number, value: number): Promise<Completion> {
    return this.command(makePropertySetSqe({ cid: this.nextCid(), ofst, size: 4, value: BigInt(value >>> 0) }))
  }

  /** CC.EN = 1 (IOSQES 6, IOCQES 4) and poll CSTS.RDY, as the Linux host does. */
  async enable(): Promise<void> {
    await this.propertySet(Property.CC, 0x00460001)
    for (let i = 0; i < 200; i++) {
      const csts = await this.propertyGet(Property.CSTS)
      if ((csts & 1n) === 1n) return
      await new Promise((r) => setTimeout(r, 5))
    }
    throw new Error('CSTS.RDY never set')
  }

  /** Admin queue: ICReq done; Connect, enable; returns the CNTLID. */
  async connectAdmin(o: { subnqn: string; hostnqn?: string; kato?: number; enable?: boolean }): Promise<number> {
    const c = await this.connectCmd({ qid: 0, subnqn: o.subnqn, hostnqn: o.hostnqn ?? HOSTNQN, kato: o.kato ?? 0 })
    if (c.cqe.status !== 0) throw new Error(`admin Connect failed: status 0x${c.cqe.status.toString(16)}`)
    if (o.enable !== false) await this.enable()
    return c.cqe.dw0 & 0xffff
  }

  identify(cns: number, nsid = 0, extra: { csi?: number; length?: number } = {}): Promise<Completion> {
    const sqe = makeIdentifySqe({ cid: this.nextCid(), cns, nsid, csi: extra.csi ?? 0 })
    return this.command(sqe, { readLength: extra.length ?? 4096 })
  }

  getLogPage(lid: number, length: number, o: { offset?: number; nsid?: number; lsp?: number; rae?: boolean } = {}): Promise<Completion> {
    const args: Parameters<typeof makeGetLogPageSqe>[0] = { cid: this.nextCid(), lid, length, nsid: o.nsid ?? 0xffffffff, offset: o.offset ?? 0 }
    if (o.lsp !== undefined) args.lsp = o.lsp
    if (o.rae !== undefined) args.rae = o.rae
    return this.command(makeGetLogPageSqe(args), { readLength: length })
  }

  admin(opc: number, f: Partial<Sqe> = {}, o: { data?: Buffer; inCapsule?: boolean; readLength?: number } = {}): Promise<Completion> {
    return this.command(makeSqe({ ...f, opc, cid: this.nextCid() }), o)
  }

  read(nsid: number, slba: bigint, blocks: number, blockSize = 512): Promise<Completion> {
    const sqe = makeSqe({ opc: IoOpcode.READ, cid: this.nextCid(), nsid, ...rwDwords({ slba, nlb: blocks - 1 }) })
    return this.command(sqe, { readLength: blocks * blockSize })
  }
  write(nsid: number, slba: bigint, data: Buffer, o: { inCapsule?: boolean; blockSize?: number } = {}): Promise<Completion> {
    const blocks = data.length / (o.blockSize ?? 512)
    const sqe = makeSqe({ opc: IoOpcode.WRITE, cid: this.nextCid(), nsid, ...rwDwords({ slba, nlb: blocks - 1 }) })
    return this.command(sqe, { data, inCapsule: o.inCapsule === true })
  }

  get pending(): number {
    return this.#pending.size
  }

  close(): Promise<void> {
    this.socket.end()
    return this.closed
  }
  destroy(): void {
    this.socket.destroy()
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`timeout waiting for ${what}`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(t))
}

/** Wait until `cond()` holds (polling, bounded). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
