/**
 * The NVMe I/O command for one host I/O (wire reference 7): Read, Write, Write Zeroes, Flush, or a
 * one-range Dataset Management deallocate for a discard.
 */
import { IoOpcode } from '../lib/nvme/opcodes.js'
import { DSM_AD, encodeDsmRanges } from '../lib/nvme/commands.js'
import { makeSqe, rwDwords, type Sqe } from '../lib/nvme/sqe.js'
import type { HostIo } from './host-io.js'
import type { QueueCommand } from './transport/queue-pair.js'

export function ioCommand(nsid: number, io: HostIo, timeoutMs: number): QueueCommand {
  let sqe: Sqe
  let data: Buffer | undefined
  let readLength: number | undefined
  switch (io.op) {
    case 'read':
      sqe = makeSqe({ opc: IoOpcode.READ, nsid, ...rwDwords({ slba: io.slba, nlb: io.nlb - 1 }) })
      readLength = io.length
      break
    case 'write':
      sqe = makeSqe({ opc: IoOpcode.WRITE, nsid, ...rwDwords({ slba: io.slba, nlb: io.nlb - 1 }) })
      data = io.data
      break
    case 'write-zeroes':
      sqe = makeSqe({ opc: IoOpcode.WRITE_ZEROES, nsid, ...rwDwords({ slba: io.slba, nlb: io.nlb - 1 }) })
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
