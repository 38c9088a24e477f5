/**
 * Namespace scan of one host controller (wire reference 9.3): walk the Active Namespace ID list,
 * then per NSID the Namespace Identification Descriptors and Identify Namespace.
 */
import type { Logger } from 'pino'
import type { IdentifyController } from '../lib/nvme/identify-controller.js'
import { decodeNsIdDescriptors, decodeNsidList, NSID_LIST_MAX, nsIdentifiersOf } from '../lib/nvme/identify-lists.js'
import { decodeIdentifyNamespace, namespaceBlockSize } from '../lib/nvme/identify-namespace.js'
import { makeIdentifySqe } from '../lib/nvme/commands.js'
import { Cns } from '../lib/nvme/opcodes.js'
import { NvmeStatus, STATUS_DNR } from '../lib/status.js'
import type { Sqe } from '../lib/nvme/sqe.js'
import type { AdminCommand } from './controller-admin.js'
import type { NsIds } from './ns-ids.js'
import type { QueueCompletion } from './transport/queue-pair.js'

/** What a namespace scan found on one controller. */
export interface ScannedNamespace {
  nsid: number
  ids: NsIds
  blockSize: number
  nsze: bigint
  anagrpid: number
  shared: boolean
}

/**
 * A scan's result: the active namespaces identified, and the active NSIDs whose Identify failed this
 * time. Their state is unknown, so what the host holds for them stays as it is — the Linux host's
 * nvme_scan_ns returns early when the Namespace Identification Descriptor list or Identify Namespace
 * fails, and removes only NSIDs the Active Namespace ID list no longer has (or with NCAP 0). A
 * transient failure (a data digest error, an injected status, a path error) must not remove a device.
 */
export interface NamespaceScan {
  namespaces: ScannedNamespace[]
  unidentified: number[]
}

/** Most namespaces one scan takes, whatever NN says (1 Mi NSIDs: 4 MiB of list, 2 Mi Identify commands). */
const MAX_SCANNED_NAMESPACES = 1 << 20

function hex(b: Uint8Array | undefined): string | undefined {
  if (b === undefined) return undefined
  if (b.every((x) => x === 0)) return undefined
  return Buffer.from(b).toString('hex')
}

export interface NamespaceScanOptions {
  identify: IdentifyController | undefined
  /** An admin command whose status is data. */
  submitAdmin: (sqe: Sqe, extra?: { readLength?: number }) => Promise<QueueCompletion>
  /** An admin command that must succeed. */
  adminCommand: AdminCommand
  logger?: Logger | undefined
}

/** The namespaces the controller reports active, identified; see {@link NamespaceScan}. */
export async function scanNamespaces(o: NamespaceScanOptions): Promise<NamespaceScan> {
  const nsids = await activeNsids(o)
  const namespaces: ScannedNamespace[] = []
  const unidentified: number[] = []
  const failed = (nsid: number, what: string, status: number): void => {
    o.logger?.warn({ nsid, status }, `${what} failed: namespace left as it is`)
    unidentified.push(nsid)
  }
  for (const nsid of nsids) {
    let ids: NsIds = {}
    const d = await o.submitAdmin(makeIdentifySqe({ cid: 0, cns: Cns.NS_ID_DESC_LIST, nsid }), { readLength: 4096 })
    if (d.cqe.status === 0) {
      const n = nsIdentifiersOf(decodeNsIdDescriptors(d.data as Buffer))
      const e = hex(n.eui64)
      const g = hex(n.nguid)
      const uh = hex(n.uuid)
      const u = uh === undefined ? undefined : `${uh.slice(0, 8)}-${uh.slice(8, 12)}-${uh.slice(12, 16)}-${uh.slice(16, 20)}-${uh.slice(20)}`
      ids = { ...(e !== undefined ? { eui64: e } : {}), ...(g !== undefined ? { nguid: g } : {}), ...(u !== undefined ? { uuid: u } : {}), ...(n.csi !== undefined ? { csi: n.csi } : {}) }
    } else if ((d.cqe.status & ~STATUS_DNR) !== NvmeStatus.INVALID_FIELD) {
      // Invalid Field: a controller without CNS 03h (before NVMe 1.3) — no descriptors. Any other
      // status says nothing about the namespace.
      failed(nsid, 'Identify Namespace Identification Descriptors', d.cqe.status)
      continue
    }
    const c = await o.submitAdmin(makeIdentifySqe({ cid: 0, cns: Cns.NAMESPACE, nsid }), { readLength: 4096 })
    if (c.cqe.status !== 0) {
      failed(nsid, 'Identify Namespace', c.cqe.status)
      continue
    }
    const ns = decodeIdentifyNamespace(c.data as Buffer)
    if (ns.ncap === 0n) continue
    const blockSize = namespaceBlockSize(ns)
    if (blockSize === undefined) continue
    namespaces.push({ nsid, ids, blockSize, nsze: ns.nsze, anagrpid: ns.anagrpid, shared: (ns.nmic & 1) !== 0 })
  }
  return { namespaces, unidentified }
}

/**
 * The Active Namespace ID list, page by page. A page lists NSIDs above the one in the command in
 * increasing order (NVMe Base 2.0, CNS 02h), and no valid NSID is above NN (Identify Controller),
 * so a page that goes backwards or past NN, or more NSIDs than max(NN, MNAN), ends the walk: a
 * target answering every page with a full one cannot make the host loop.
 */
async function activeNsids(o: NamespaceScanOptions): Promise<number[]> {
  const id = o.identify
  const nn = id?.nn ?? 0
  const limit = Math.min(Math.max(nn, id?.mnan ?? 0), MAX_SCANNED_NAMESPACES)
  const nsids: number[] = []
  let after = 0
  while (nsids.length < limit) {
    const c = await o.adminCommand(makeIdentifySqe({ cid: 0, cns: Cns.ACTIVE_NS_LIST, nsid: after }), { readLength: 4096 })
    const list = decodeNsidList(c.data as Buffer)
    for (const nsid of list) {
      if (nsid <= after || nsid > nn || nsids.length >= limit) {
        o.logger?.warn({ nsid, after, nn, limit }, 'Active Namespace ID list out of order or beyond NN: scan stops there')
        return nsids
      }
      nsids.push(nsid)
      after = nsid
    }
    if (list.length < NSID_LIST_MAX) break
  }
  return nsids
}
