/**
 * Set Features and Get Features (NVMe Base 2.0 5.27, 5.15): Number of Queues, Async Event
 * Configuration, Keep Alive Timer, Host Identifier, and the features a host may set and read back
 * (stored per controller). Shared with the discovery controller. One of the admin command groups of
 * target/cmd/admin.ts.
 */
import { encodeNumQueues } from '../../lib/nvme/features.js'
import { FeatureId } from '../../lib/nvme/opcodes.js'
import { SQE_CDW10, SQE_CDW11 } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { SUPPORTED_AEC, AEN, type Controller } from '../core/controller.js'
import type { Request } from '../core/request.js'
import type { TargetCore } from '../core/target-core.js'
import { fit } from './fit-to-length.js'

const DNR = STATUS_DNR

/** The features this target stores and returns (beyond those with semantics). */
const STORED_FEATURES = new Set<number>([
  FeatureId.POWER_MGMT,
  FeatureId.TEMP_THRESH,
  FeatureId.ERR_RECOVERY,
  FeatureId.VOLATILE_WC,
  FeatureId.IRQ_COALESCE,
  FeatureId.WRITE_ATOMIC,
  FeatureId.AUTO_PST,
  FeatureId.TIMESTAMP,
  FeatureId.HOST_BEHAVIOR,
])

/** Set Features (Base 2.0 5.27): the queue count, AEC, KATO, and the features a host may set. */
export function executeSetFeatures(req: Request, ctrl: Controller): number {
  const discovery = ctrl.discovery
  const fid = req.sqe.cdw10 & 0xff
  const save = (req.sqe.cdw10 >>> 31) === 1
  if (save) return req.fail(NvmeStatus.FEATURE_NOT_SAVEABLE | DNR, SQE_CDW10)
  const v = req.sqe.cdw11 >>> 0
  switch (fid) {
    case FeatureId.NUM_QUEUES: {
      if (discovery) break
      const nsqr = v & 0xffff
      const ncqr = v >>> 16
      if (nsqr === 0xffff || ncqr === 0xffff) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW11)
      const granted = Math.max(1, Math.min(Math.max(nsqr, ncqr) + 1, ctrl.maxIoQueues))
      ctrl.ioQueues = granted
      req.dw0 = encodeNumQueues({ nsq: granted, ncq: granted })
      return 0
    }
    case FeatureId.ASYNC_EVENT: {
      const supported = discovery ? AEN.DISC_CHANGE.aecBit >>> 0 : (AEN.NS_CHANGED.aecBit | AEN.ANA_CHANGE.aecBit) >>> 0
      // nvmet rejects bits it cannot report.
      if ((v & ~supported & SUPPORTED_AEC) !== 0 || (v & ~SUPPORTED_AEC & 0xffffff00) !== 0) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW11)
      ctrl.aec = v & supported
      return 0
    }
    case FeatureId.KATO:
      ctrl.setKato(v)
      return 0
    default:
      break
  }
  if (discovery || !STORED_FEATURES.has(fid)) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW10)
  if (fid === FeatureId.TIMESTAMP || fid === FeatureId.HOST_BEHAVIOR || fid === FeatureId.AUTO_PST) {
    // Features with a data buffer: keep it (Timestamp 8 bytes, Host Behavior 512, APST 256).
    if (req.data !== undefined) ctrl.featureData.set(fid, Buffer.from(req.data))
    if (fid === FeatureId.TIMESTAMP) ctrl.features.set(fid, req.queue.env.clock.now())
    return 0
  }
  ctrl.features.set(fid, v)
  return 0
}

export function executeGetFeatures(req: Request, core: TargetCore, ctrl: Controller): number {
  const fid = req.sqe.cdw10 & 0xff
  const sel = (req.sqe.cdw10 >>> 8) & 0x7
  if (sel === 3) {
    // Supported capabilities: changeable (bit 2) for the features this target stores.
    req.dw0 = 0x4
    return 0
  }
  switch (fid) {
    case FeatureId.NUM_QUEUES:
      if (ctrl.discovery) break
      req.dw0 = encodeNumQueues({ nsq: ctrl.ioQueues, ncq: ctrl.ioQueues })
      return 0
    case FeatureId.ASYNC_EVENT:
      req.dw0 = ctrl.aec >>> 0
      return 0
    case FeatureId.KATO:
      req.dw0 = ctrl.kato >>> 0
      return 0
    case FeatureId.HOST_ID:
      // 128-bit host identifier only (EXHID, CDW11 bit 0), as nvmet.
      if ((req.sqe.cdw11 & 1) === 0) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW11)
      req.c2hData = fit(ctrl.hostid, req.dataLength)
      return 0
    case FeatureId.VOLATILE_WC:
      if (ctrl.discovery) break
      req.dw0 = ctrl.features.get(fid) ?? 1
      return 0
    case FeatureId.TIMESTAMP: {
      if (ctrl.discovery) break
      const b = Buffer.alloc(8)
      const stored = ctrl.featureData.get(fid)
      const base = stored !== undefined ? Number(stored.readBigUInt64LE(0) & 0xffffffffffffn) : 0
      const setAt = ctrl.features.get(fid) ?? core.clock.now()
      b.writeUIntLE(Math.max(0, base + Math.floor(core.clock.now() - setAt)), 0, 6)
      // Byte 6: timestamp origin 01b (set by a host) when one was set.
      b[6] = stored !== undefined ? 0x02 : 0
      req.c2hData = fit(b, req.dataLength)
      return 0
    }
    case FeatureId.HOST_BEHAVIOR:
    case FeatureId.AUTO_PST:
      if (ctrl.discovery) break
      req.c2hData = fit(ctrl.featureData.get(fid) ?? Buffer.alloc(fid === FeatureId.AUTO_PST ? 256 : 512), req.dataLength)
      return 0
    default:
      if (!ctrl.discovery && STORED_FEATURES.has(fid)) {
        req.dw0 = ctrl.features.get(fid) ?? 0
        return 0
      }
  }
  return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW10)
}
