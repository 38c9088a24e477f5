/**
 * NVM I/O commands (NVM Command Set 1.0 section 3; wire spec 7): Read, Write, Flush, Write Zeroes,
 * Dataset Management (deallocate). Parse takes the namespace reference (lookup and reference in one
 * step), then checks namespace state, ANA state of this port, LBA range and transfer length.
 */
import { dataDirection, IoOpcode } from '../../lib/nvme/opcodes.js'
import { rwFields, SQE_CDW10, SQE_CDW12, SQE_DPTR, SQE_NSID, SQE_OPC } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import type { Request } from '../core/request.js'
import type { TargetCore } from '../core/target-core.js'
import { anaIoStatus, type Subsystem } from '../core/subsystem.js'
import { MemoryStore } from '../core/namespace-store.js'
import type { TargetNamespace } from '../core/namespace.js'

const DNR = STATUS_DNR
/** Dataset Management range: 16 bytes (context attributes, length in LBAs, starting LBA). */
const DSM_RANGE_SIZE = 16

export function parseIo(req: Request, core: TargetCore, subsys: Subsystem): number {
  const opc = req.opc
  req.kind = 'io'
  req.direction = dataDirection(opc)
  switch (opc) {
    case IoOpcode.READ:
    case IoOpcode.WRITE:
    case IoOpcode.FLUSH:
    case IoOpcode.WRITE_ZEROES:
    case IoOpcode.DATASET_MANAGEMENT:
      break
    default:
      return req.fail(NvmeStatus.INVALID_OPCODE | DNR, SQE_OPC)
  }
  // The request holds the reference from here on; completing it (whatever the status) releases it.
  req.ns = subsys.acquire(req.nsid)
  if (req.ns === undefined) {
    // Unknown NSID (or being deleted): Invalid Namespace or Format + DNR (nvmet).
    return req.fail(NvmeStatus.INVALID_NS | DNR, SQE_NSID)
  }
  const ns = req.ns.entry
  if (!ns.enabled) {
    // Configured but disabled: Internal Path Error, so a multipath host fails over (nvmet since 6.9).
    return req.fail(NvmeStatus.INTERNAL_PATH_ERROR, SQE_NSID)
  }
  const ana = anaIoStatus(subsys.anaState(req.queue.transport.portId, ns.anagrpid))
  if (ana !== 0) return req.fail(ana, SQE_NSID)
  switch (opc) {
    case IoOpcode.READ:
    case IoOpcode.WRITE:
      return parseReadWrite(req, ns, core)
    case IoOpcode.WRITE_ZEROES: {
      const rw = rwFields(req.sqe)
      req.slba = rw.slba
      req.nlb = rw.nlb
      if (rw.slba + BigInt(rw.nlb) + 1n > ns.blocks) return req.fail(NvmeStatus.LBA_RANGE | DNR, SQE_CDW10)
      req.execute = executeWriteZeroes
      return 0
    }
    case IoOpcode.FLUSH:
      req.execute = executeFlush
      return 0
    default: {
      const nr = (req.sqe.cdw10 & 0xff) + 1
      if (req.dataLength < nr * DSM_RANGE_SIZE) return req.fail(NvmeStatus.SGL_INVALID_DATA | DNR, SQE_DPTR)
      req.execute = executeDsm
      return 0
    }
  }
}

function parseReadWrite(req: Request, ns: TargetNamespace, core: TargetCore): number {
  const rw = rwFields(req.sqe)
  req.slba = rw.slba
  req.nlb = rw.nlb
  const blocks = BigInt(rw.nlb) + 1n
  if (rw.slba + blocks > ns.blocks) return req.fail(NvmeStatus.LBA_RANGE | DNR, SQE_CDW10)
  const len = Number(blocks) * ns.blockSize
  // The transfer length must match the SGL length (nvmet_check_transfer_len).
  if (len !== req.dataLength) return req.fail(NvmeStatus.SGL_INVALID_DATA | DNR, SQE_DPTR)
  if (len > core.maxTransferBytes) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW12)
  if (req.opc === IoOpcode.READ) req.execute = executeRead
  else {
    req.execute = executeWrite
    // writeSync copies the data into the store before executeWrite returns.
    req.consumesDataInline = ns.store instanceof MemoryStore
  }
  return 0
}

function count(req: Request, bytes: number, write: boolean): void {
  const c = req.queue.controller
  if (c === undefined) return
  if (write) {
    c.smart.hostWriteCommands++
    c.smart.bytesWritten += bytes
  } else {
    c.smart.hostReadCommands++
    c.smart.bytesRead += bytes
  }
}

function executeRead(req: Request): number | Promise<number> {
  const ns = req.ns!.entry
  const off = Number(req.slba!) * ns.blockSize
  const store = ns.store
  count(req, req.dataLength, false)
  if (store instanceof MemoryStore) {
    // A view where possible: the store copies a lent chunk before changing it.
    req.c2hData = store.readView(off, req.dataLength, req.queue.transport.readBuffer)
    return 0
  }
  return store.read(off, req.dataLength).then((b) => {
    req.c2hData = b
    return 0
  })
}

function executeWrite(req: Request): number | Promise<number> {
  const ns = req.ns!.entry
  const data = req.data
  if (data === undefined || data.length !== req.dataLength) return NvmeStatus.DATA_XFER_ERROR
  const off = Number(req.slba!) * ns.blockSize
  count(req, data.length, true)
  const store = ns.store
  if (store instanceof MemoryStore) {
    store.writeSync(off, data)
    return 0
  }
  // FUA (CDW12 bit 30): the data is on the medium before the command completes (Base 2.0 6.15).
  if (rwFields(req.sqe).fua) return store.write(off, data).then(() => store.flush()).then(() => 0)
  return store.write(off, data).then(() => 0)
}

async function executeWriteZeroes(req: Request): Promise<number> {
  const ns = req.ns!.entry
  await ns.store.writeZeroes(Number(req.slba!) * ns.blockSize, (req.nlb! + 1) * ns.blockSize)
  // FUA applies to Write Zeroes too (CDW12 bit 30).
  if (rwFields(req.sqe).fua) await ns.store.flush()
  return 0
}

async function executeFlush(req: Request): Promise<number> {
  await req.ns!.entry.store.flush()
  return 0
}

async function executeDsm(req: Request): Promise<number> {
  const ns = req.ns!.entry
  const data = req.data
  if (data === undefined) return NvmeStatus.DATA_XFER_ERROR
  // CDW11 bit 2: Attribute – Deallocate. Without it DSM is only a hint.
  if ((req.sqe.cdw11 & 0x4) === 0) return 0
  const nr = (req.sqe.cdw10 & 0xff) + 1
  const ranges: [bigint, number][] = []
  for (let i = 0; i < nr; i++) {
    const o = i * DSM_RANGE_SIZE
    const nlb = data.readUInt32LE(o + 4)
    const slba = data.readBigUInt64LE(o + 8)
    if (slba + BigInt(nlb) > ns.blocks) {
      req.slba = slba
      return NvmeStatus.LBA_RANGE | DNR
    }
    ranges.push([slba, nlb])
  }
  for (const [slba, nlb] of ranges) if (nlb > 0) await ns.store.deallocate(Number(slba) * ns.blockSize, nlb * ns.blockSize)
  return 0
}
