/**
 * One command on a host queue pair: what is submitted, what ends it, its record while outstanding,
 * the CapsuleCmd that carries it (wire reference 7, 10.1) and the C2H data gathered for it (10.2).
 */
import { FES, NvmeTcpProtocolError } from '../../lib/errors.js'
import type { Cqe } from '../../lib/nvme/cqe.js'
import { encodeSgl, sglInCapsule, sglTransportDataBlock } from '../../lib/nvme/sgl.js'
import { encodeSqe, SQE_CID, SQE_DPTR, type Sqe } from '../../lib/nvme/sqe.js'
import { CAPSULE_CMD_HLEN, CAPSULE_CMD_SQE } from '../../lib/pdu/capsule-cmd.js'
import { PduType, type PduEncodeOptions } from '../../lib/pdu/common.js'
import { buildParts } from '../../lib/pdu/pdu-codec.js'
import { NvmeStatus } from '../../lib/status.js'

export interface QueueCommand {
  /** The SQE; its `cid` and `sgl` are filled in by the queue. */
  sqe: Sqe
  /** Host-to-controller data. */
  data?: Buffer
  /** Controller-to-host data length. */
  readLength?: number
  /** 0 = no timeout (AER). */
  timeoutMs: number
}

export interface QueueCompletion {
  cqe: Cqe
  data: Buffer | undefined
}

/**
 * How `QueuePair.send` reports a command's end: its completion, or the Error that ended the queue
 * under it (the same values `submit()` resolves and rejects with). Called once; a completion
 * synchronously from the receive path (no promise and no microtask per command: docs/performance.md
 * round 3), a failure possibly synchronously from `close()` or from inside `send()` itself.
 */
export type CommandDone = (result: QueueCompletion | Error) => void

/** An outstanding command. */
export interface Pending {
  cid: number
  opc: number
  data: Buffer | undefined
  /** C2H bytes expected (0: not a read). */
  readLength: number
  /**
   * The C2H data: a view of the received PDU when one C2HData carried all of it (no copy), else a
   * buffer the PDUs are gathered into (allocated at the first of several).
   */
  read: Buffer | undefined
  received: number
  /** A C2HData of this command failed its data digest: complete with Data Transfer Error. */
  dataDigestError: boolean
  /** H2C bytes sent so far (R2T sequencing: contiguous offsets, wire reference 10.1). */
  sent: number
  /** Clock time after which `onTimeout` is called (0: no timeout, or already reported; command-deadlines.ts). */
  deadline: number
  done: CommandDone
}

/** The record of `cmd` as command `cid` while outstanding; `sent`: the data bytes its capsule carries. */
export function pendingFor(cmd: QueueCommand, cid: number, readLength: number, sent: number, done: CommandDone): Pending {
  return {
    cid,
    opc: cmd.sqe.opc,
    data: cmd.data,
    readLength,
    read: undefined,
    received: 0,
    dataDigestError: false,
    sent,
    deadline: 0,
    done,
  }
}

/** What command `p` completes with, given the CQE that ended it. */
export function completionOf(p: Pending, cqe: Cqe): QueueCompletion {
  // A data digest error is not transport-fatal (NVMe/TCP 1.0 section 3.6.2.10; wire reference
  // 1.5): like the Linux host, complete the command with Data Transfer Error, which the
  // disposition then retries.
  if (p.dataDigestError && cqe.status === 0) cqe = { ...cqe, status: NvmeStatus.DATA_XFER_ERROR }
  // A read that failed before any data arrived still hands back a (zeroed) buffer of its length.
  return { cqe, data: p.readLength > 0 ? (p.read ?? Buffer.alloc(p.readLength)) : undefined }
}

/**
 * The CapsuleCmd parts of `cmd` as command `cid`: in-capsule data up to `inCapsuleMax` bytes, else
 * a Transport Data Block SGL for the data (R2T) or the read. The SQE is encoded straight into the
 * capsule header (no 64-byte SQE buffer and copy per command); the caller's SQE object is left as
 * it was, CID and SGL1 are the queue's. `inCapsule`: the data bytes the capsule carries (0: none).
 */
export function encodeCapsule(cmd: QueueCommand, cid: number, readLength: number, inCapsuleMax: number, opts: PduEncodeOptions): { parts: Buffer[]; inCapsule: number } {
  const sqe = cmd.sqe
  let sgl = sqe.sgl
  let inCapsule: Buffer | undefined
  if (cmd.data !== undefined && cmd.data.length > 0) {
    if (cmd.data.length <= inCapsuleMax) {
      sgl = sglInCapsule(cmd.data.length)
      inCapsule = cmd.data
    } else sgl = sglTransportDataBlock(cmd.data.length)
  } else if (readLength > 0) {
    sgl = sglTransportDataBlock(readLength)
  } else if (sgl.length === 0) {
    sgl = sglTransportDataBlock(0)
  }
  const parts = buildParts(PduType.CAPSULE_CMD, 0, CAPSULE_CMD_HLEN, inCapsule, opts, (h) => {
    encodeSqe(sqe, h, CAPSULE_CMD_SQE)
    h.writeUInt16LE(cid, CAPSULE_CMD_SQE + SQE_CID)
    encodeSgl(sgl, h, CAPSULE_CMD_SQE + SQE_DPTR)
  })
  return { parts, inCapsule: inCapsule?.length ?? 0 }
}

/**
 * One C2HData's data for read `p`: DATAO must continue where the last PDU ended and stay within
 * the read (wire reference 10.2; FES 0x05 otherwise). Returns whether all of the read's data is in.
 */
export function takeC2HData(p: Pending, datao: number, data: Buffer): boolean {
  if (datao !== p.received || datao + data.length > p.readLength) {
    throw new NvmeTcpProtocolError(FES.DATA_TRANSFER_OUT_OF_RANGE, 12, `C2HData datao ${datao} len ${data.length} outside ${p.received}/${p.readLength}`)
  }
  if (datao === 0 && data.length === p.readLength) {
    // One PDU carries all the data: hand its view on (the framer's PDUs are views of socket
    // chunks or of the receive slab, or of one buffer assembled for the PDU, never reused), no
    // allocation, no copy.
    p.read = data
  } else {
    // Several PDUs: gather into one buffer of the command's length.
    p.read ??= Buffer.allocUnsafe(p.readLength)
    data.copy(p.read, datao)
  }
  p.received += data.length
  return p.received === p.readLength
}
