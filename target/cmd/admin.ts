/**
 * Admin commands of an NVM controller (NVMe Base 2.0 section 5; wire spec 4): Identify (every CNS
 * the Linux 6.x host sends: 00h, 01h, 02h, 03h, 05h, 06h, 07h, 08h), Get Log Page (Error, SMART,
 * Firmware Slot, Changed Namespace List, Commands Supported and Effects, ANA; any dword-aligned
 * offset and length), Set/Get Features (Number of Queues, Async Event Configuration, Keep Alive
 * Timer, plus the ones a host may set), Asynchronous Event Request, Keep Alive, Abort.
 * This file parses and dispatches; the command groups live in admin-identify.ts, admin-log-pages.ts
 * and admin-features.ts (re-exported here for the discovery controller).
 */
import { ABORT_DW0_NOT_ABORTED } from '../../lib/nvme/commands.js'
import { AdminOpcode, dataDirection } from '../../lib/nvme/opcodes.js'
import { SQE_OPC } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import type { Controller } from '../core/controller.js'
import type { Request } from '../core/request.js'
import type { Subsystem } from '../core/subsystem.js'
import type { TargetCore } from '../core/target-core.js'
import { executeIdentify } from './admin-identify.js'
import { logPage, parseGetLogPage } from './admin-log-pages.js'
import { executeGetFeatures, executeSetFeatures } from './admin-features.js'

export { ANATT, ANAGRPMAX, MAX_NSID, KAS, identifyControllerData } from './admin-identify.js'
export { parseGetLogPage } from './admin-log-pages.js'
export { executeGetFeatures, executeSetFeatures } from './admin-features.js'
export { fit } from './fit-to-length.js'

const DNR = STATUS_DNR

export function parseAdmin(req: Request, core: TargetCore, ctrl: Controller, subsys: Subsystem): number {
  req.kind = 'admin'
  req.direction = dataDirection(req.opc)
  switch (req.opc) {
    case AdminOpcode.IDENTIFY:
      req.execute = (r) => executeIdentify(r, core, ctrl, subsys)
      return 0
    case AdminOpcode.GET_LOG_PAGE:
      return parseGetLogPage(req, (r, lid, rae, rgo) => logPage(r, core, ctrl, subsys, lid, rae, rgo))
    case AdminOpcode.SET_FEATURES:
      req.execute = (r) => executeSetFeatures(r, ctrl)
      return 0
    case AdminOpcode.GET_FEATURES:
      req.execute = (r) => executeGetFeatures(r, core, ctrl)
      return 0
    case AdminOpcode.ASYNC_EVENT_REQUEST:
      req.execute = (r) => ctrl.postAer(r)
      return 0
    case AdminOpcode.KEEP_ALIVE:
      req.execute = (r) => executeKeepAlive(r, ctrl)
      return 0
    case AdminOpcode.ABORT:
      // The Linux TCP host never sends Abort; like nvmet, report "not aborted" (DW0 bit 0).
      req.execute = (r) => {
        r.dw0 = ABORT_DW0_NOT_ABORTED
        return 0
      }
      return 0
    default:
      return req.fail(NvmeStatus.INVALID_OPCODE | DNR, SQE_OPC)
  }
}

function executeKeepAlive(req: Request, ctrl: Controller): number {
  // nvmet: Keep Alive with keep-alive disabled (KATO 0) is Keep Alive Timeout Invalid.
  if (ctrl.kato === 0) return req.fail(NvmeStatus.KA_TIMEOUT_INVALID | DNR, SQE_OPC)
  ctrl.keepAlive()
  return 0
}
