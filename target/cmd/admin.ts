/**
 * Admin commands of an NVM controller (NVMe Base 2.0 section 5; wire spec 4): Identify (every CNS
 * the Linux 6.x host sends: 00h, 01h, 02h, 03h, 05h, 06h, 07h, 08h), Get Log Page (Error, SMART,
 * Firmware Slot, Changed Namespace List, Commands Supported and Effects, ANA; any dword-aligned
 * offset and length), Set/Get Features (Number of Queues, Async Event Configuration, Keep Alive
 * Timer, plus the ones a host may set), Asynchronous Event Request, Keep Alive, Abort.
 */
import {
  encodeIdentifyController,
  emptyPowerState,
  CMIC_ANA,
  CMIC_MULTI_CTRL,
  CMIC_MULTI_PORT,
  ControllerType,
  CTRATT_HOST_ID_128,
  CTRATT_TBKAS,
  IDENTIFY_DATA_SIZE,
  OAES_ANA_CHANGE,
  OAES_DISC_CHANGE,
  OAES_NS_ATTR,
  ONCS_DSM,
  ONCS_WRITE_ZEROES,
  SGLS_OFFSET,
  SGLS_SUPPORTED_BYTE_ALIGNED,
  type IdentifyController,
} from '../../lib/nvme/identify-controller.js'
import { encodeIdentifyNamespace, lbadsOf, NMIC_SHARED } from '../../lib/nvme/identify-namespace.js'
import {
  encodeActiveNsList,
  encodeIdentifyControllerNvm,
  encodeIdentifyNamespaceIndependent,
  encodeNsIdDescriptors,
  nsIdDescriptorsFor,
  NSID_ALL,
  NSTAT_READY,
} from '../../lib/nvme/identify-lists.js'
import { getLogPageFields, getLogPageLength, identifyFields, sliceLogPage, ABORT_DW0_NOT_ABORTED } from '../../lib/nvme/commands.js'
import { encodeNumQueues } from '../../lib/nvme/features.js'
import { encodeErrorLog } from '../../lib/nvme/log-error.js'
import { encodeSmartLog } from '../../lib/nvme/log-smart.js'
import { encodeChangedNsList } from '../../lib/nvme/log-changed-ns.js'
import { encodeEffectsLog, Effects } from '../../lib/nvme/log-effects.js'
import { AdminOpcode, Cns, dataDirection, FeatureId, IoOpcode, LogPageId } from '../../lib/nvme/opcodes.js'
import { SQE_CDW10, SQE_CDW11, SQE_DPTR, SQE_NSID, SQE_OPC } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR, statusToCqeField } from '../../lib/status.js'
import { AERL, SUPPORTED_AEC, AEN, type Controller } from '../core/controller.js'
import { ERROR_LOG_ENTRIES } from '../core/error-log.js'
import type { Request } from '../core/request.js'
import type { Subsystem } from '../core/subsystem.js'
import { anaIoStatus } from '../core/subsystem.js'
import type { TargetCore } from '../core/target-core.js'

const DNR = STATUS_DNR
/** ANA values advertised in Identify Controller (nvmet: ANATT 10 s, 128 groups, all states). */
export const ANATT = 10
export const ANAGRPMAX = 128
/** Highest NSID (NN) and MNAN: the host requires 0 < MNAN <= NN with ANA reporting. */
export const MAX_NSID = 1024
/** Keep Alive granularity, 100 ms units (must be non-zero for the Linux host). */
export const KAS = 10

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

/** The Identify Controller data of an I/O or discovery controller (wire spec 4.3). */
export function identifyControllerData(core: TargetCore, ctrl: Controller, subsys: Subsystem | undefined): Buffer {
  const cfg = core.config
  const common: Partial<IdentifyController> = {
    sn: subsys?.serial ?? 'nvmf-fault-discovery',
    mn: subsys?.model ?? 'nvmf-fault',
    fr: subsys?.firmware ?? '0.1',
    mdts: cfg.mdts,
    cntlid: ctrl.cntlid,
    ver: ctrl.vs,
    lpa: 0x07,
    elpe: ERROR_LOG_ENTRIES - 1,
    aerl: AERL,
    kas: KAS,
    maxcmd: cfg.maxQueueSize,
    sgls: (SGLS_SUPPORTED_BYTE_ALIGNED | SGLS_OFFSET) >>> 0,
    subnqn: ctrl.subnqn,
    // Capsule size in 16-byte units: SQE + in-capsule data (IOCCSZ >= 4; ICDOFF must be 0 for Linux).
    ioccsz: (64 + cfg.inlineDataSize) / 16,
    iorcsz: 1,
    icdoff: 0,
    msdbd: 1,
    sqes: 0x66,
    cqes: 0x44,
    ctratt: (CTRATT_HOST_ID_128 | CTRATT_TBKAS) >>> 0,
  }
  if (subsys === undefined) {
    return encodeIdentifyController({ ...common, cntrltype: ControllerType.DISCOVERY, oaes: OAES_DISC_CHANGE >>> 0 })
  }
  return encodeIdentifyController({
    ...common,
    rab: 6,
    // Multi-port, multi-controller, ANA reporting: what native multipath needs (spec 4.3).
    cmic: CMIC_MULTI_PORT | CMIC_MULTI_CTRL | CMIC_ANA,
    oaes: (OAES_NS_ATTR | OAES_ANA_CHANGE) >>> 0,
    cntrltype: ControllerType.IO,
    acl: 3,
    frmw: 0x03,
    npss: 0,
    anatt: ANATT,
    anacap: 0x1f,
    anagrpmax: ANAGRPMAX,
    nanagrpid: ANAGRPMAX,
    nn: MAX_NSID,
    mnan: MAX_NSID,
    oncs: ONCS_DSM | ONCS_WRITE_ZEROES,
    vwc: 0x01,
    nwpc: 0,
    psd: [{ ...emptyPowerState(), mp: 0x9c4, enlat: 0x10, exlat: 0x4 }],
  })
}

/** The page zero-padded or truncated to the command's data length. */
export function fit(page: Buffer, length: number): Buffer {
  if (page.length === length) return page
  const out = Buffer.alloc(length)
  page.copy(out, 0, 0, Math.min(length, page.length))
  return out
}

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

function executeIdentify(req: Request, core: TargetCore, ctrl: Controller, subsys: Subsystem): number {
  const f = identifyFields(req.sqe)
  let page: Buffer
  switch (f.cns) {
    case Cns.CONTROLLER:
      page = identifyControllerData(core, ctrl, subsys)
      break
    case Cns.NAMESPACE: {
      // NSID 0 / broadcast are not namespaces (nvmet: Invalid Namespace + DNR).
      if (f.nsid === 0 || f.nsid === NSID_ALL) return req.fail(NvmeStatus.INVALID_NS | DNR, SQE_NSID)
      const ns = subsys.get(f.nsid)
      if (ns === undefined || !ns.enabled) {
        // Inactive NSID: all zeros with success; the host sees NCAP 0 (wire spec 4.4).
        page = Buffer.alloc(IDENTIFY_DATA_SIZE)
        break
      }
      const reachable = anaIoStatus(subsys.anaState(ctrl.portId, ns.anagrpid)) === 0
      page = encodeIdentifyNamespace({
        nsze: ns.blocks,
        ncap: ns.blocks,
        // NUSE 0 when the group is not accessible on this port (nvmet).
        nuse: reachable ? ns.blocks : 0n,
        nlbaf: 0,
        flbas: 0,
        nmic: NMIC_SHARED,
        // Deallocated blocks read as zeroes and Write Zeroes supports DEAC (DLFEAT 001b + bit 3).
        dlfeat: 0x09,
        anagrpid: ns.anagrpid,
        nguid: ns.nguid,
        lbaf: [{ ms: 0, lbads: lbadsOf(ns.blockSize), rp: 0 }],
      })
      break
    }
    case Cns.ACTIVE_NS_LIST:
    case Cns.CSI_ACTIVE_NS_LIST:
      if (f.cns === Cns.CSI_ACTIVE_NS_LIST && f.csi !== 0) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW11)
      if (f.nsid >= 0xfffffffe) return req.fail(NvmeStatus.INVALID_NS | DNR, SQE_NSID)
      page = encodeActiveNsList(subsys.activeNsids(), f.nsid)
      break
    case Cns.NS_ID_DESC_LIST:
    case Cns.CS_INDEP_NAMESPACE:
    case Cns.CSI_NAMESPACE: {
      const ns = subsys.get(f.nsid)
      if (ns === undefined) return req.fail(NvmeStatus.INVALID_NS | DNR, SQE_NSID)
      // A configured but disabled namespace is a path error, as for I/O (nvmet_req_find_ns).
      if (!ns.enabled) return req.fail(NvmeStatus.INTERNAL_PATH_ERROR, SQE_NSID)
      if (f.cns === Cns.NS_ID_DESC_LIST) page = encodeNsIdDescriptors(nsIdDescriptorsFor({ nguid: ns.nguid, uuid: ns.uuid, csi: 0 }))
      else if (f.cns === Cns.CS_INDEP_NAMESPACE)
        // NSTAT bit 0: namespace ready — the Linux host ignores the namespace otherwise (VS >= 2.0).
        page = encodeIdentifyNamespaceIndependent({ nmic: NMIC_SHARED, anagrpid: ns.anagrpid, nstat: NSTAT_READY })
      else if (f.csi !== 0) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW11)
      else page = Buffer.alloc(IDENTIFY_DATA_SIZE)
      break
    }
    case Cns.CSI_CONTROLLER:
      // NVM command set Identify Controller: all-zero limits are valid ("no limits reported").
      if (f.csi !== 0) return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW11)
      page = encodeIdentifyControllerNvm({})
      break
    default:
      return req.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW10)
  }
  req.c2hData = fit(page, req.dataLength)
  return 0
}

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

function logPage(req: Request, core: TargetCore, ctrl: Controller, subsys: Subsystem, lid: number, rae: boolean, rgo: boolean): Buffer | number {
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
