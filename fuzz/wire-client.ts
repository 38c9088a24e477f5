/**
 * A raw NVMe/TCP host connection for the target-side fuzzer: sends bytes exactly as given (chunk by
 * chunk, so split boundaries reach the target as separate writes) and frames what comes back by
 * PLEN only, without checking digests, so that anything the target sends is seen and classified:
 * C2HTermReq (FES, FEI), CapsuleResp status, C2HData, R2T, or the close.
 */
import net from 'node:net'
import { encodePduParts, PduType, type Pdu } from '../lib/pdu/index.js'
import { PduFlags } from '../lib/pdu/common.js'
import { encodeSqe, type Sqe } from '../lib/nvme/sqe.js'
import { sglInCapsule, sglTransportDataBlock } from '../lib/nvme/sgl.js'

export interface WirePdu {
  type: number
  raw: Buffer
}

export class WireClient {
  readonly socket: net.Socket
  readonly pdus: WirePdu[] = []
  readonly closed: Promise<void>
  digests = { hdgst: false, ddgst: false }
  #isClosed = false
  #buf: Buffer = Buffer.alloc(0)
  #waiters: (() => void)[] = []

  private constructor(socket: net.Socket) {
    this.socket = socket
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true
        this.#wake()
        resolve()
      }),
    )
    socket.on('error', () => undefined)
    socket.on('data', (chunk: Buffer) => {
      this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
      while (this.#buf.length >= 8) {
        const plen = this.#buf.readUInt32LE(4)
        // A target PDU with a PLEN under 8 or over 16 MiB: a target bug the fuzzer must report.
        if (plen < 8 || plen > 16 << 20) {
          this.pdus.push({ type: -1, raw: Buffer.from(this.#buf.subarray(0, 8)) })
          socket.destroy()
          break
        }
        if (this.#buf.length < plen) break
        const raw = Buffer.from(this.#buf.subarray(0, plen))
        this.#buf = this.#buf.subarray(plen)
        this.pdus.push({ type: raw[0]!, raw })
      }
      this.#wake()
    })
  }

  static connect(port: number, host = '127.0.0.1', timeoutMs = 5000): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, noDelay: true })
      const timer = setTimeout(() => {
        s.destroy()
        reject(new Error(`connect to ${host}:${port} timed out`))
      }, timeoutMs)
      s.once('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
      s.once('connect', () => {
        clearTimeout(timer)
        resolve(new WireClient(s))
      })
    })
  }

  get isClosed(): boolean {
    return this.#isClosed
  }

  #wake(): void {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }

  /** Write chunks one by one, yielding between them so each leaves as its own segment. */
  async send(chunks: readonly Buffer[]): Promise<void> {
    for (const c of chunks) {
      if (this.#isClosed) return
      this.socket.write(c)
      if (chunks.length > 1) await new Promise((r) => setImmediate(r))
    }
  }

  encode(pdu: Pdu): Buffer {
    return Buffer.concat(encodePduParts(pdu, pdu.type === PduType.IC_REQ ? {} : this.digests))
  }

  capsule(sqe: Sqe, data?: Buffer, readLength?: number): Buffer {
    const s: Sqe = { ...sqe, sgl: data !== undefined ? sglInCapsule(data.length) : sglTransportDataBlock(readLength ?? 0) }
    return this.encode({ type: PduType.CAPSULE_CMD, sqe: encodeSqe(s), ...(data !== undefined ? { data } : {}) })
  }

  /** Wait for a PDU (from index `from`) matching `pred`; undefined on close or after `timeoutMs`. */
  async waitFor(pred: (p: WirePdu) => boolean, timeoutMs: number, from = 0): Promise<WirePdu | undefined> {
    const end = Date.now() + timeoutMs
    for (;;) {
      const hit = this.pdus.slice(from).find(pred)
      if (hit !== undefined) return hit
      const left = end - Date.now()
      if (this.#isClosed || left <= 0) return undefined
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** ICReq, then ICResp; digests as asked. */
  async icReq(o: { hdgst?: boolean; ddgst?: boolean } = {}, timeoutMs = 5000): Promise<boolean> {
    const from = this.pdus.length
    this.socket.write(this.encode({ type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: o.hdgst === true, ddgst: o.ddgst === true, maxr2t: 0 }))
    const r = await this.waitFor((p) => p.type === PduType.IC_RESP, timeoutMs, from)
    if (r === undefined) return false
    this.digests = { hdgst: o.hdgst === true, ddgst: o.ddgst === true }
    return true
  }

  /** Send a command and wait for its CapsuleResp (C2HData SUCCESS counts as status 0). */
  async command(sqe: Sqe, o: { data?: Buffer; readLength?: number; timeoutMs?: number } = {}): Promise<{ status: number; dw0: number } | undefined> {
    const from = this.pdus.length
    this.socket.write(this.capsule(sqe, o.data, o.readLength))
    const r = await this.waitFor((p) => (p.type === PduType.CAPSULE_RESP && p.raw.readUInt16LE(20) === sqe.cid) || (p.type === PduType.C2H_DATA && p.raw.readUInt16LE(8) === sqe.cid && (p.raw[1]! & PduFlags.SUCCESS) !== 0), o.timeoutMs ?? 5000, from)
    if (r === undefined) return undefined
    if (r.type === PduType.C2H_DATA) return { status: 0, dw0: 0 }
    return { status: r.raw.readUInt16LE(22) >> 1, dw0: r.raw.readUInt32LE(8) }
  }

  close(): void {
    this.socket.destroy()
  }
}
