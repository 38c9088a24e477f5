/**
 * Host-to-controller data of one connection: R2T out, H2CData in (NVMe/TCP 1.0 sections 3.3.5,
 * 3.6.2.7/8), and the byte budget every command buffer is reserved against before it is allocated
 * (receive-budget.ts: limits.maxBufferedBytes, limits.maxR2T).
 *
 * A write's buffer is allocated when its R2T is issued (after the budget granted it), never before.
 * One R2T asks for the whole remaining length, as Linux and SPDK do; the host splits it by
 * MAXH2CDATA. The H2CData must name an outstanding R2T (TTAG + CCCID) and arrive in order.
 */
import { FES, NvmeTcpProtocolError } from '../../lib/errors.js'
import { NvmeStatus } from '../../lib/status.js'
import { PduType, type Pdu } from '../../lib/pdu/index.js'
import type { Request } from '../core/request.js'
import { ReceiveBudget } from './receive-budget.js'

interface PendingTransfer {
  req: Request
  ttag: number
  buffer: Buffer
  received: number
  /** End offset of the outstanding R2T. */
  r2tEnd: number
  digestError: boolean
  resolve: (v: Buffer | number) => void
  reject: (e: Error) => void
}

export interface DataTransferOptions {
  limit: number
  maxR2T: number
  /** Sends an R2T (through the connection's writer). */
  send: (pdu: Pdu) => void
  /** False once the connection is closing: no new R2T goes out. */
  live: () => boolean
  /**
   * A buffer for a write's data, uninitialised: it is handed on only once every byte has arrived.
   * The connection's buffer pool (read-buffer-pool.ts), which gets it back with the response.
   */
  alloc: (bytes: number) => Buffer
}

export class DataTransfers {
  readonly #o: DataTransferOptions
  readonly #budget: ReceiveBudget
  readonly #transfers = new Map<number, PendingTransfer>()
  #nextTtag = 0

  constructor(o: DataTransferOptions) {
    this.#o = o
    this.#budget = new ReceiveBudget({ limit: o.limit, maxR2T: o.maxR2T })
  }

  get budget(): ReceiveBudget {
    return this.#budget
  }
  /** R2Ts outstanding (the host owes us data). */
  get outstanding(): number {
    return this.#transfers.size
  }

  /** Brings in a write's data (QueueTransport.fetchData): reserve, R2T, gather the H2CData. */
  fetch(req: Request): Promise<Buffer | number> {
    return new Promise((resolve, reject) => {
      // Reserved before the buffer exists; the R2T goes out once the budget and an R2T slot allow.
      this.#budget.request({
        bytes: req.dataLength,
        r2t: true,
        grant: () => {
          req.reservedBytes += req.dataLength
          if (req.aborted) {
            // Ended while it waited (connection torn down): nothing to fetch.
            this.release(req)
            this.#budget.releaseR2T()
            reject(new Error('command ended'))
            return
          }
          this.#issueR2T({ req, ttag: -1, buffer: this.#o.alloc(req.dataLength), received: 0, r2tEnd: 0, digestError: false, resolve, reject })
        },
        fail: reject,
      })
    })
  }

  /** Room for a read's data (QueueTransport.reserveData): undefined when granted at once. */
  reserve(req: Request): Promise<void> | undefined {
    if (this.#budget.tryTake(req.dataLength)) {
      req.reservedBytes += req.dataLength
      return undefined
    }
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

  /** Gives back what `req` holds in the budget (its response is out, or it will never be sent). */
  release(req: Request): void {
    const bytes = req.reservedBytes
    req.reservedBytes = 0
    if (bytes > 0) this.#budget.release(bytes, false)
  }

  /** One H2CData PDU (a view valid during this call); true when it completed its R2T. */
  onH2CData(cccid: number, ttag: number, datao: number, data: Buffer, digestOk: boolean, raw: Buffer | undefined): boolean {
    const x = this.#transfers.get(ttag)
    // TTAG and CCCID must name an outstanding R2T (spec 1.10; SPDK: FES 0x02).
    if (x === undefined || x.req.cid !== cccid) throw new NvmeTcpProtocolError(FES.PDU_SEQUENCE_ERROR, 0, `H2CData for unknown TTAG ${ttag} / CCCID ${cccid}`, raw)
    if (datao !== x.received) throw new NvmeTcpProtocolError(FES.DATA_TRANSFER_OUT_OF_RANGE, 0, `H2CData DATAO ${datao}, expected ${x.received}`, raw)
    if (data.length === 0 || datao + data.length > x.r2tEnd) throw new NvmeTcpProtocolError(FES.DATA_TRANSFER_OUT_OF_RANGE, 0, `H2CData beyond the R2T (${datao}+${data.length} > ${x.r2tEnd})`, raw)
    data.copy(x.buffer, datao)
    x.received += data.length
    if (!digestOk) x.digestError = true
    if (x.received < x.r2tEnd) return false
    this.#transfers.delete(ttag)
    if (x.received < x.buffer.length) {
      // More requested than one R2T covered: ask for the rest (it keeps its R2T slot).
      this.#issueR2T(x)
    } else {
      // The data is in: the R2T slot is free; the bytes stay reserved until the command completes.
      this.#budget.releaseR2T()
      // A data digest error is not transport fatal: the command fails (Transient Transport Error).
      x.resolve(x.digestError ? NvmeStatus.TRANSIENT_TR_ERR : x.buffer)
    }
    return true
  }

  /** The connection is going away: every transfer and waiting reservation fails. */
  failAll(): void {
    for (const x of this.#transfers.values()) x.reject(new Error('connection closed'))
    this.#transfers.clear()
    this.#budget.failAll(new Error('connection closed'))
  }

  #issueR2T(x: PendingTransfer): void {
    if (!this.#o.live()) {
      x.reject(new Error('connection closed'))
      return
    }
    let ttag = this.#nextTtag
    for (let i = 0; i < 0xffff && this.#transfers.has(ttag); i++) ttag = (ttag + 1) % 0xffff
    this.#nextTtag = (ttag + 1) % 0xffff
    x.ttag = ttag
    const r2tl = x.buffer.length - x.received
    x.r2tEnd = x.received + r2tl
    this.#transfers.set(ttag, x)
    this.#o.send({ type: PduType.R2T, cccid: x.req.cid, ttag, r2to: x.received, r2tl })
  }
}
