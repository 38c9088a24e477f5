/**
 * The PDUs that answer a command: one C2HData with its data when it succeeded and has any (like
 * nvmet and SPDK: DATAO 0, LAST_PDU set), then its CapsuleResp — unless the host disabled SQ flow
 * control and the completion carries nothing but success, when the C2HData's SUCCESS flag stands
 * in for the CapsuleResp (wire spec 10.2).
 */
import { encodeCqe } from '../../lib/nvme/cqe.js'
import { PduType, type Pdu } from '../../lib/pdu/index.js'
import type { Queue } from '../core/queue.js'
import type { Request } from '../core/request.js'
import type { ReadBufferPool } from './read-buffer-pool.js'

export interface ResponsePdus {
  c2hData: Pdu | undefined
  capsuleResp: Pdu | undefined
}

export function responsePdus(req: Request, q: Queue): ResponsePdus {
  const data = req.status === 0 ? req.c2hData : undefined
  const hasData = data !== undefined && data.length > 0
  const elide = hasData && q.sqFlowDisabled && req.dw0 === 0 && req.dw1 === 0
  let c2hData: Pdu | undefined
  if (hasData) {
    const len = Math.min(data.length, req.dataLength)
    c2hData = { type: PduType.C2H_DATA, cccid: req.cid, datao: 0, last: true, success: elide, data: len === data.length ? data : data.subarray(0, len) }
  }
  if (elide) return { c2hData, capsuleResp: undefined }
  const cqe = encodeCqe({ dw0: req.dw0 >>> 0, dw1: req.dw1 >>> 0, sqhd: q.sqhd, sqid: q.qid < 0 ? 0 : q.qid, cid: req.cid, status: req.status })
  return { c2hData, capsuleResp: { type: PduType.CAPSULE_RESP, cqe } }
}

export interface ResponseSink {
  queue: Queue
  /** Writes one PDU; false when it waits for an onPduSend decision (TcpWriter.send). */
  send: (pdu: Pdu, written?: () => void) => boolean
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
  const r = responsePdus(req, o.queue)
  if (r.c2hData !== undefined) direct = o.send(r.c2hData, r.capsuleResp === undefined ? written : undefined)
  if (r.capsuleResp !== undefined) direct = o.send(r.capsuleResp, written) && direct
}
