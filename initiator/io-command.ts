/**
 * The NVMe I/O command for one host I/O (wire reference 7): Read, Write, Write Zeroes, Flush, or a
 * one-range Dataset Management deallocate for a discard.
 */
import { IoOpcode } from '../lib/nvme/opcodes.js'
import { DSM_AD, encodeDsmRanges } from '../lib/nvme/commands.js'
import { makeSqe, rwDwords, SQE_FLAGS_PSDT_SGL, type Sqe } from '../lib/nvme/sqe.js'
import { sglTransportDataBlock } from '../lib/nvme/sgl.js'
import type { HostIo } from './host-io.js'
import type { QueueCommand } from './transport/queue-pair.js'

/**
 * A Read/Write-family SQE: `makeSqe`'s fields as one literal, without its spread (per I/O: 100-200 ns
 * less, docs/performance.md round 3). SGL1 is left empty: the queue pair sets its own descriptor.
 */
function rwSqe(opc: number, nsid: number, io: HostIo): Sqe {
  const d = rwDwords({ slba: io.slba, nlb: io.nlb - 1 })
  return { opc, flags: SQE_FLAGS_PSDT_SGL, cid: 0, nsid, cdw2: 0, cdw3: 0, mptr: 0n, sgl: NO_DATA, cdw10: d.cdw10, cdw11: d.cdw11, cdw12: d.cdw12, cdw13: d.cdw13, cdw14: 0, cdw15: 0 }
}
/** Shared and frozen: the queue pair never writes an SQE's SGL1, it encodes its own over it. */
const NO_DATA = Object.freeze(sglTransportDataBlock(0))

export function ioCommand(nsid: number, io: HostIo, timeoutMs: number): QueueCommand {
  let sqe: Sqe
  let data: Buffer | undefined
  let readLength: number | undefined
  switch (io.op) {
    case 'read':
      sqe = rwSqe(IoOpcode.READ, nsid, io)
      readLength = io.length
      break
    case 'write':
      sqe = rwSqe(IoOpcode.WRITE, nsid, io)
      data = io.data
      break
    case 'write-zeroes':
      sqe = rwSqe(IoOpcode.WRITE_ZEROES, nsid, io)
      break
    case 'flush':
      sqe = makeSqe({ opc: IoOpcode.FLUSH, nsid })
      break
    case 'discard': {
      // Dataset Management, one range, AD (CDW11 bit 2): range = CATTR(4) NLB(4) SLBA(8).
      sqe = makeSqe({ opc: IoOpcode.DATASET_MANAGEMENT, nsid, cdw10: 0, cdw11: DSM_AD })
      data = encodeDsmRanges([{ cattr: 0, nlb: io.nlb, slba: io.slba }])
      break
    }
  }
  const cmd: QueueCommand = { sqe, timeoutMs }
  if (data !== undefined) cmd.data = data
  if (readLength !== undefined) cmd.readLength = readLength
  return cmd
}
