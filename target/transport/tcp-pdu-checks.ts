/**
 * Checks of received PDUs that need no connection state beyond a few numbers: the ICReq fields,
 * a command capsule's SGL and in-capsule data, and the framing of `mutate` replacement bytes.
 * Transport-fatal violations throw `NvmeTcpProtocolError` (FES + FEI, the connection sends a
 * C2HTermReq); a command the target refuses comes back as a status for the queue to complete.
 */
import { FES, NvmeTcpProtocolError } from '../../lib/errors.js'
import { PduFramer } from '../../lib/framer.js'
import { SQE_DPTR, type Sqe } from '../../lib/nvme/sqe.js'
import { isInCapsuleDataBlock, isTransportDataBlock } from '../../lib/nvme/sgl.js'
import { FABRICS_OPCODE } from '../../lib/nvme/opcodes.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { CH_PLEN } from '../../lib/pdu/common.js'
import type { Pdu } from '../../lib/pdu/index.js'

/** SGL1 ADDRESS at SQE byte 24 and the identifier byte at 39, as PDU offsets (CapsuleCmd SQE at 8). */
const FEI_SGL_ADDRESS = 8 + SQE_DPTR
const FEI_SGL_IDENTIFIER = 8 + SQE_DPTR + 15
/** In-capsule data the Linux host may send on the admin queue and with Connect (NVME_TCP_ADMIN_CCSZ). */
export const ADMIN_IN_CAPSULE = 8192
/** ICReq PFV and HPDA offsets (FEI values of spec 1.5). */
const ICREQ_PFV = 8
const ICREQ_HPDA = 10

/** ICReq (spec 3.6.2.2): PFV 0; HPDA at most 31. */
export function checkIcReq(pdu: Extract<Pdu, { type: 0 }>, raw: Buffer | undefined): void {
  if (pdu.pfv !== 0) throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, ICREQ_PFV, `ICReq PFV ${pdu.pfv} unsupported`, raw)
  if (pdu.hpda > 31) throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, ICREQ_HPDA, `ICReq HPDA ${pdu.hpda} > 31`, raw)
}

/** A command refused before parsing: the status and the SQE byte it names (Error log). */
export interface CapsuleRefusal {
  status: number
  errorLocation: number
}

/**
 * The SGL and in-capsule data of a command capsule. Returns a refusal for the queue to complete,
 * undefined when the command goes on; throws when the capsule is transport fatal.
 */
export function checkCapsule(
  sqe: Sqe,
  data: Buffer | undefined,
  digestOk: boolean,
  raw: Buffer | undefined,
  o: { qid: number; inlineDataSize: number },
): CapsuleRefusal | undefined {
  if (data !== undefined) {
    // In-capsule data: SGL1 must be a Data Block / Offset descriptor at offset 0 (spec 1.9).
    if (!isInCapsuleDataBlock(sqe.sgl)) throw new NvmeTcpProtocolError(FES.UNSUPPORTED_PARAMETER, FEI_SGL_IDENTIFIER, 'in-capsule data with a non-offset SGL', raw)
    if (sqe.sgl.address !== 0n) throw new NvmeTcpProtocolError(FES.UNSUPPORTED_PARAMETER, FEI_SGL_ADDRESS, 'in-capsule SGL offset is not 0', raw)
    if (sqe.sgl.length !== data.length) throw new NvmeTcpProtocolError(FES.DATA_TRANSFER_LIMIT_EXCEEDED, 0, `in-capsule SGL length ${sqe.sgl.length} != ${data.length} data bytes`, raw)
    // Capsule size: 8 KiB on the admin queue and for fabrics commands; IOCCSZ on I/O queues.
    const limit = o.qid <= 0 || sqe.opc === FABRICS_OPCODE ? Math.max(ADMIN_IN_CAPSULE, o.inlineDataSize) : o.inlineDataSize
    if (data.length > limit) return { status: NvmeStatus.SGL_INVALID_OFFSET | STATUS_DNR, errorLocation: SQE_DPTR }
    // A data digest error is not transport fatal: fail the command (SPDK: Transient Transport Error).
    if (!digestOk) return { status: NvmeStatus.TRANSIENT_TR_ERR, errorLocation: SQE_DPTR }
  } else if (sqe.sgl.length > 0 && !isTransportDataBlock(sqe.sgl)) {
    return { status: (isInCapsuleDataBlock(sqe.sgl) ? NvmeStatus.SGL_INVALID_DATA : NvmeStatus.SGL_INVALID_TYPE) | STATUS_DNR, errorLocation: SQE_DPTR }
  }
  return undefined
}

/**
 * rx `mutate`: the replacement bytes are checked exactly as socket bytes are — a framer with the
 * connection's role, limits and digests validates each common header (FES 01h) — and come back as
 * whole PDUs (copies) for the connection to decode (header digest, FES 03h) and handle. Bytes that
 * end inside a PDU are a PLEN error: a stream cannot end inside a PDU.
 */
export function frameReplacement(parts: Buffer[], like: PduFramer): Buffer[] {
  const pdus: Buffer[] = []
  const check = new PduFramer({ role: 'target', ...like.limits, ...like.digests, onPdu: (raw) => void pdus.push(Buffer.from(raw)) })
  for (const p of parts) check.push(p)
  if (!check.atPduBoundary) throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, CH_PLEN, `replacement bytes end inside a PDU (${check.bufferedBytes} bytes of it)`)
  return pdus
}
