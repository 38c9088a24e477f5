/**
 * Admin commands of a discovery controller (NVMe Base 2.0 section 3.1.3.3; nvmet discovery.c):
 * Identify Controller only, Get Log Page Discovery (70h) at any dword-aligned offset/length,
 * Set/Get Features (KATO, AEC with the discovery-change bit), Asynchronous Event Request, Keep Alive.
 */
import { identifyFields } from '../../lib/nvme/commands.js'
import { AddressFamily, buildDiscoveryLog, DiscoverySubtype, TransportType, Treq, type DiscoveryLogEntry } from '../../lib/nvme/log-discovery.js'
import { AdminOpcode, Cns, dataDirection, LogPageId } from '../../lib/nvme/opcodes.js'
import { SQE_CDW10, SQE_OPC } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { AEN, type Controller } from '../core/controller.js'
import { isIPv6 } from '../core/address.js'
import type { Request } from '../core/request.js'
import type { TargetCore } from '../core/target-core.js'
import { executeGetFeatures, executeSetFeatures, fit, identifyControllerData, parseGetLogPage } from './admin.js'

const DNR = STATUS_DNR

export function parseDiscovery(req: Request, core: TargetCore, ctrl: Controller): number {
  req.kind = 'admin'
  req.direction = dataDirection(req.opc)
  switch (req.opc) {
    case AdminOpcode.IDENTIFY:
      req.execute = (r) => {
        if (identifyFields(r.sqe).cns !== Cns.CONTROLLER) return r.fail(NvmeStatus.INVALID_FIELD | DNR, SQE_CDW10)
        r.c2hData = fit(identifyControllerData(core, ctrl, undefined), r.dataLength)
        return 0
      }
      return 0
    case AdminOpcode.GET_LOG_PAGE:
      return parseGetLogPage(req, (r, lid, rae) => {
        if (lid !== LogPageId.DISCOVERY) return NvmeStatus.INVALID_LOG_PAGE | DNR
        // Reading the log with RAE = 0 re-arms the discovery-change event.
        if (!rae) ctrl.clearAen(AEN.DISC_CHANGE.lid)
        return discoveryLogPage(core, ctrl.portId, ctrl.hostnqn)
      })
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
      req.execute = () => {
        ctrl.keepAlive()
        return 0
      }
      return 0
    default:
      return req.fail(NvmeStatus.INVALID_OPCODE | DNR, SQE_OPC)
  }
}

/**
 * The discovery log as seen through `portId` by `hostnqn`: the current discovery subsystem first,
 * then one entry per port x subsystem the host may connect to (this port first), then referrals.
 */
export function discoveryLogEntries(core: TargetCore, portId: number, hostnqn: string): Partial<DiscoveryLogEntry>[] {
  const entries: Partial<DiscoveryLogEntry>[] = []
  const ports = [...core.ports.values()].sort((a, b) => (a.id === portId ? -1 : b.id === portId ? 1 : a.id - b.id))
  const entry = (p: (typeof ports)[number], subtype: number, subnqn: string): Partial<DiscoveryLogEntry> => {
    const traddr = p.advertise.address ?? p.address
    return {
      trtype: TransportType.TCP,
      adrfam: isIPv6(traddr) ? AddressFamily.IPV6 : AddressFamily.IPV4,
      subtype,
      // Secure channel not specified, SQ flow control disable supported (TREQ 4, as nvmet sends).
      treq: Treq.NOT_SPECIFIED | Treq.DISABLE_SQFLOW,
      portid: p.id,
      // Dynamic controller model.
      cntlid: 0xffff,
      asqsz: 32,
      eflags: 0,
      trsvcid: String(p.advertise.port ?? p.port),
      subnqn,
      traddr,
      tsas: Buffer.alloc(256),
    }
  }
  const here = core.port(portId)
  if (here !== undefined && here.discovery) entries.push(entry(here, DiscoverySubtype.CURRENT_DISCOVERY, core.discovery.nqn))
  for (const p of ports)
    for (const s of core.subsystems.values())
      if (core.exposed(p.id, s.nqn) && s.hostAllowed(hostnqn)) entries.push(entry(p, DiscoverySubtype.NVME, s.nqn))
  for (const r of core.discovery.referrals) {
    if (r.portId !== undefined && r.portId !== portId) continue
    entries.push({
      trtype: TransportType.TCP,
      adrfam: isIPv6(r.address) ? AddressFamily.IPV6 : AddressFamily.IPV4,
      subtype: DiscoverySubtype.REFERRAL,
      treq: Treq.NOT_SPECIFIED,
      portid: r.remotePortId,
      cntlid: 0xffff,
      asqsz: 32,
      trsvcid: String(r.port),
      subnqn: r.subnqn,
      traddr: r.address,
      tsas: Buffer.alloc(256),
    })
  }
  return entries
}

export function discoveryLogPage(core: TargetCore, portId: number, hostnqn: string): Buffer {
  return buildDiscoveryLog({ genctr: core.discovery.genctr, entries: discoveryLogEntries(core, portId, hostnqn) })
}
