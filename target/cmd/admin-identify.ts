/**
 * Identify (NVMe Base 2.0 5.17; wire spec 4.3, 4.4): the Identify Controller data of I/O and
 * discovery controllers and every CNS the Linux 6.x host sends (00h, 01h, 02h, 03h, 05h, 06h, 07h,
 * 08h), with the ANA and NSID limits the controller advertises. One of the admin command groups of
 * target/cmd/admin.ts.
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
import { identifyFields } from '../../lib/nvme/commands.js'
import { Cns } from '../../lib/nvme/opcodes.js'
import { SQE_CDW10, SQE_CDW11, SQE_NSID } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { AERL, type Controller } from '../core/controller.js'
import { ERROR_LOG_ENTRIES } from '../core/error-log.js'
import type { Request } from '../core/request.js'
import type { Subsystem } from '../core/subsystem.js'
import { anaIoStatus } from '../core/subsystem.js'
import type { TargetCore } from '../core/target-core.js'
import { fit } from './fit-to-length.js'

const DNR = STATUS_DNR
/** ANA values advertised in Identify Controller (nvmet: ANATT 10 s, 128 groups, all states). */
export const ANATT = 10
export const ANAGRPMAX = 128
/** Highest NSID (NN) and MNAN: the host requires 0 < MNAN <= NN with ANA reporting. */
export const MAX_NSID = 1024
/** Keep Alive granularity, 100 ms units (must be non-zero for the Linux host). */
export const KAS = 10

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

export function executeIdentify(req: Request, core: TargetCore, ctrl: Controller, subsys: Subsystem): number {
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
