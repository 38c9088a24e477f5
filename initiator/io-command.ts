/**
 * The NVMe I/O command for one host I/O (wire reference 7): Read, Write, Write Zeroes, Flush, or a
 * one-range Dataset Management deallocate for a discard.
 */
import { IoOpcode } from '../lib/nvme/opcodes.js'
import { DSM_AD, encodeDsmRanges } from '../lib/nvme/commands.js'
import { makeSqe, rwDwords, type Sqe } from '../lib/nvme/sqe.js'
import type { HostIo } from './host-io.js'
import type { QueueCommand } from './transport/queue-pair.js'

/** A Read/Write-family SQE; the dwords are set on the made SQE, not spread into a second literal (per I/O). */
function rwSqe(opc: number, nsid: number, io: HostIo): Sqe {
  const d = rwDwords({ slba: io.slba, nlb: io.nlb - 1 })
  const sqe = makeSqe({ opc, nsid })
  sqe.cdw10 = d.cdw10
  sqe.cdw11 = d.cdw11
  sqe.cdw12 = d.cdw12
  sqe.cdw13 = d.cdw13
  return sqe
}

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
