/**
 * The PDUs that answer a command: one C2HData with its data when it succeeded and has any (like
 * nvmet and SPDK: DATAO 0, LAST_PDU set), then its CapsuleResp — unless the host disabled SQ flow
 * control and the completion carries nothing but success, when the C2HData's SUCCESS flag stands
 * in for the CapsuleResp (wire spec 10.2).
 */
import { encodeCqe, type Cqe } from '../../lib/nvme/cqe.js'
import { PduType, type Pdu } from '../../lib/pdu/index.js'
import type { PduEncodeOptions } from '../../lib/pdu/common.js'
import { c2hDataSize, capsuleRespSize, encodeC2HDataInto, encodeCapsuleRespInto } from '../../lib/pdu/response-into.js'
import type { Queue } from '../core/queue.js'
import type { Request } from '../core/request.js'
import type { ReadBufferPool } from './read-buffer-pool.js'
import type { TcpWriter } from './tcp-writer.js'

export interface ResponsePdus {
  c2hData: Pdu | undefined
  capsuleResp: Pdu | undefined
}

/** The data a C2HData carries for `req` (undefined when none: an error status, or no data). */
function c2hData(req: Request): Buffer | undefined {
  const data = req.status === 0 ? req.c2hData : undefined
  if (data === undefined || data.length === 0) return undefined
  return data.length <= req.dataLength ? data : data.subarray(0, req.dataLength)
}

/** SQ flow control off and nothing but success to report: C2HData SUCCESS replaces the CapsuleResp. */
function elides(req: Request, q: Queue): boolean {
  return q.sqFlowDisabled && req.dw0 === 0 && req.dw1 === 0
}

function cqeOf(req: Request, q: Queue): Cqe {
  return { dw0: req.dw0 >>> 0, dw1: req.dw1 >>> 0, sqhd: q.sqhd, sqid: q.qid < 0 ? 0 : q.qid, cid: req.cid, status: req.status }
}

export function responsePdus(req: Request, q: Queue): ResponsePdus {
  const data = c2hData(req)
  const elide = data !== undefined && elides(req, q)
  const c2h: Pdu | undefined = data === undefined ? undefined : { type: PduType.C2H_DATA, cccid: req.cid, datao: 0, last: true, success: elide, data }
  if (elide) return { c2hData: c2h, capsuleResp: undefined }
  return { c2hData: c2h, capsuleResp: { type: PduType.CAPSULE_RESP, cqe: encodeCqe(cqeOf(req, q)) } }
}

/** The bytes of `req`'s response PDUs (as `responsePdus` would give them). */
function responseSize(req: Request, opts: PduEncodeOptions): number {
  const data = c2hData(req)
  if (data === undefined) return capsuleRespSize(opts)
  return c2hDataSize(data.length, opts) + (elides(req, req.queue) ? 0 : capsuleRespSize(opts))
}

/** Encodes `req`'s response PDUs at `at` (the CQE straight into the CapsuleResp's header). */
function encodeResponse(buf: Buffer, at: number, req: Request, opts: PduEncodeOptions): void {
  const q = req.queue
  const data = c2hData(req)
  const elide = data !== undefined && elides(req, q)
  if (data !== undefined) at = encodeC2HDataInto(buf, at, req.cid, data, elide, opts)
  if (!elide) encodeCapsuleRespInto(buf, at, cqeOf(req, q), opts)
}

export interface ResponseSink {
  queue: Queue
  /** Writes one PDU; false when it waits for an onPduSend decision (TcpWriter.send). */
  send: (pdu: Pdu, written?: () => void) => boolean
  /** Small PDUs encoded in place, straight into the send arena (TcpWriter.sendEncoded). */
  writer: Pick<TcpWriter, 'sendEncoded' | 'encodeOptions'>
  /** Gives back the command's reserved bytes (the connection's byte budget). */
  release: (req: Request) => void
  readBuffers: ReadBufferPool
}

/**
 * Sends the response PDUs of `req`. Its reserved bytes are given back once the response has been
 * handed to the kernel: until then the data is still held here (a host that does not read keeps it
 * in the budget). So is a pooled read buffer, and only when its PDUs went straight to the socket
 * (read-buffer-pool.ts).
 */
export function sendResponse(req: Request, o: ResponseSink): void {
  // A write's data buffer from the pool: executed (in the store) once its response is sent; no PDU
  // refers to it.
  if (o.readBuffers.lent(req.data)) {
    o.readBuffers.giveBack(req.data)
    req.data = undefined
  }
  const buf = req.c2hData
  const pooled = o.readBuffers.lent(buf)
  const reserved = req.reservedBytes > 0
  let direct = true
  const written =
    reserved || pooled
      ? (): void => {
          if (reserved) o.release(req)
          if (pooled && direct) o.readBuffers.giveBack(buf)
        }
      : undefined
  // Nothing between us and the socket: the response is encoded straight into the send arena.
  if (o.writer.sendEncoded(responseSize(req, o.writer.encodeOptions), encodeResponse, req, written)) return
  const r = responsePdus(req, o.queue)
  if (r.c2hData !== undefined) direct = o.send(r.c2hData, r.capsuleResp === undefined ? written : undefined)
  if (r.capsuleResp !== undefined) direct = o.send(r.capsuleResp, written) && direct
}
