/**
 * Get Log Page (NVMe Base 2.0 5.16): the length and dword-aligned offset checks shared with the
 * discovery controller, and the pages of an NVM controller (Error, SMART, Firmware Slot, Changed
 * Namespace List, Commands Supported and Effects, ANA). One of the admin command groups of
 * target/cmd/admin.ts.
 */
import { getLogPageFields, getLogPageLength, sliceLogPage } from '../../lib/nvme/commands.js'
import { encodeErrorLog } from '../../lib/nvme/log-error.js'
import { encodeSmartLog } from '../../lib/nvme/log-smart.js'
import { encodeChangedNsList } from '../../lib/nvme/log-changed-ns.js'
import { encodeEffectsLog, Effects } from '../../lib/nvme/log-effects.js'
import { AdminOpcode, IoOpcode, LogPageId } from '../../lib/nvme/opcodes.js'
import { SQE_DPTR } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR, statusToCqeField } from '../../lib/status.js'
import { AEN, type Controller } from '../core/controller.js'
import { ERROR_LOG_ENTRIES } from '../core/error-log.js'
import type { Request } from '../core/request.js'
import type { Subsystem } from '../core/subsystem.js'
import type { TargetCore } from '../core/target-core.js'

const DNR = STATUS_DNR

type LogBuilder = (req: Request, lid: number, rae: boolean, rgo: boolean) => Buffer | number

/** Common Get Log Page handling: length and offset checks, then the dword window of the page. */
export function parseGetLogPage(req: Request, build: LogBuilder): number {
  const f = getLogPageFields(req.sqe)
  const length = getLogPageLength(f)
  if (length !== req.dataLength) return req.fail(NvmeStatus.SGL_INVALID_DATA | DNR, SQE_DPTR)
  // The offset must be dword aligned (Base 2.0 5.16; nvmet rejects otherwise).
  if (f.lpo % 4n !== 0n) return req.fail(NvmeStatus.INVALID_FIELD | DNR, 48)
  req.execute = (r) => {
    const page = build(r, f.lid, f.rae, (f.lsp & 0x1) !== 0)
    if (typeof page === 'number') return page
    r.c2hData = sliceLogPage(page, f.lpo, length)
    return 0
  }
  return 0
}

export function logPage(req: Request, core: TargetCore, ctrl: Controller, subsys: Subsystem, lid: number, rae: boolean, rgo: boolean): Buffer | number {
  switch (lid) {
    case LogPageId.ERROR:
      return encodeErrorLog(
        ctrl.errorLog.entries().map((e) => ({
          errorCount: e.errorCount,
          sqid: e.sqid,
          cid: e.cid,
          statusField: statusToCqeField(e.status),
          parameterErrorLocation: e.parameterErrorLocation,
          lba: e.lba,
          nsid: e.nsid,
        })),
        ERROR_LOG_ENTRIES,
      )
    case LogPageId.SMART: {
      // Data units are thousands of 512-byte units, rounded up (Base 2.0 Figure 207).
      const units = (bytes: bigint): bigint => (bytes + 511_999n) / 512_000n
      return encodeSmartLog({
        availableSpare: 100,
        availableSpareThreshold: 10,
        dataUnitsRead: units(BigInt(ctrl.smart.bytesRead)),
        dataUnitsWritten: units(BigInt(ctrl.smart.bytesWritten)),
        hostReadCommands: BigInt(ctrl.smart.hostReadCommands),
        hostWriteCommands: BigInt(ctrl.smart.hostWriteCommands),
        powerOnHours: BigInt(Math.floor((core.clock.now() - ctrl.createdAt) / 3_600_000)),
        numErrorLogEntries: ctrl.errorLog.errorCount,
      })
    }
    case LogPageId.FW_SLOT: {
      // Firmware Slot Information: AFI = slot 1 active, FRS1 = firmware revision.
      const b = Buffer.alloc(512)
      b[0] = 0x01
      b.write(subsys.firmware.padEnd(8, ' ').slice(0, 8), 8, 'latin1')
      return b
    }
    case LogPageId.CHANGED_NS: {
      const list = subsys.changedNsList(ctrl, !rae)
      if (!rae) ctrl.clearAen(AEN.NS_CHANGED.lid)
      return encodeChangedNsList(list)
    }
    case LogPageId.CMD_EFFECTS: {
      const csupp = Effects.CSUPP
      const acs: Record<number, number> = {}
      for (const opc of [
        AdminOpcode.GET_LOG_PAGE,
        AdminOpcode.IDENTIFY,
        AdminOpcode.ABORT,
        AdminOpcode.SET_FEATURES,
        AdminOpcode.GET_FEATURES,
        AdminOpcode.ASYNC_EVENT_REQUEST,
        AdminOpcode.KEEP_ALIVE,
      ])
        acs[opc] = csupp
      const iocs: Record<number, number> = {
        [IoOpcode.READ]: csupp,
        [IoOpcode.WRITE]: csupp | Effects.LBCC,
        [IoOpcode.FLUSH]: csupp | Effects.LBCC,
        [IoOpcode.WRITE_ZEROES]: csupp | Effects.LBCC,
        [IoOpcode.DATASET_MANAGEMENT]: csupp | Effects.LBCC,
      }
      return encodeEffectsLog({ acs, iocs })
    }
    case LogPageId.ANA: {
      const byGroup = subsys.nsidsByAnaGroup()
      if (!rae) ctrl.clearAen(AEN.ANA_CHANGE.lid)
      return subsys.ana.buildLog(ctrl.portId, byGroup, { rgo })
    }
    default:
      return NvmeStatus.INVALID_LOG_PAGE | DNR
  }
}
