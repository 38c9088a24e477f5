/**
 * A discovery log in nvme-cli's `nvme discover -o json` shape, so that scripts written for nvme-cli
 * read ours unchanged: `{ genctr, records: [{ trtype, adrfam, subtype, treq, portid, trsvcid,
 * subnqn, traddr, eflags, sectype }] }`. The value spellings are libnvme's (`libnvmf_*_str` in
 * libnvme/src/nvme/fabrics.c): a code with no name prints as "unrecognized", as there. `sectype`
 * is present for TCP entries only; nvme-cli prints RDMA's TSAS fields instead, which we do not
 * decode. genctr is a JSON number (nvme-cli prints it as a u64); above 2^53 - 1 it stays a decimal
 * string so that no digit is lost.
 */
import { AddressFamily, DiscoverySubtype, EFLAGS_DUPRETINFO, EFLAGS_EPCSD, TcpSecType, TransportType, Treq } from '../lib/nvme/log-discovery.js'
import type { DiscoveryEntryView, DiscoveryLogView } from './discovery.js'

export interface NvmeCliDiscoveryRecord {
  trtype: string
  adrfam: string
  subtype: string
  treq: string
  portid: number
  trsvcid: string
  subnqn: string
  traddr: string
  eflags: string
  sectype?: string
}

export interface NvmeCliDiscoveryLog {
  genctr: number | string
  records: NvmeCliDiscoveryRecord[]
}

/** EFLAGS bit 2, No CDC Connectivity (NVMe Base 2.0 figure 262); not used by the target, named by libnvme. */
const EFLAGS_NCC = 0x4

const UNRECOGNIZED = 'unrecognized'

const TRTYPE_NAMES: Readonly<Record<number, string>> = { [TransportType.RDMA]: 'rdma', [TransportType.FC]: 'fc', [TransportType.TCP]: 'tcp', [TransportType.LOOP]: 'loop' }
/** ADRFAM; libnvme names no "intra host" (254) family. */
const ADRFAM_NAMES: Readonly<Record<number, string>> = { 0: 'pci', [AddressFamily.IPV4]: 'ipv4', [AddressFamily.IPV6]: 'ipv6', [AddressFamily.IB]: 'infiniband', [AddressFamily.FC]: 'fibre-channel' }
const SUBTYPE_NAMES: Readonly<Record<number, string>> = {
  [DiscoverySubtype.REFERRAL]: 'discovery subsystem referral',
  [DiscoverySubtype.NVME]: 'nvme subsystem',
  [DiscoverySubtype.CURRENT_DISCOVERY]: 'current discovery subsystem',
}
const SECTYPE_NAMES: Readonly<Record<number, string>> = { [TcpSecType.NONE]: 'none', [TcpSecType.TLS12]: 'tls', [TcpSecType.TLS13]: 'tls13' }

/** TREQ: bits 1:0 the secure channel requirement, bit 2 "SQ flow control disable supported". */
export function treqName(treq: number): string {
  if (treq > 7) return UNRECOGNIZED
  const req = treq & 0x3
  const base = req === Treq.NOT_SPECIFIED ? 'not specified' : req === Treq.REQUIRED ? 'required' : req === Treq.NOT_REQUIRED ? 'not required' : undefined
  if (base === undefined) return UNRECOGNIZED
  return (treq & Treq.DISABLE_SQFLOW) !== 0 ? `${base}, sq flow control disable supported` : base
}

/** EFLAGS: "none", or the set bits' names joined with ", " in libnvme's order (EPCSD, DUPRETINFO, NCC). */
export function eflagsName(eflags: number): string {
  if (eflags > 7) return UNRECOGNIZED
  if (eflags === 0) return 'none'
  const parts: string[] = []
  if ((eflags & EFLAGS_EPCSD) !== 0) parts.push('explicit discovery connections')
  if ((eflags & EFLAGS_DUPRETINFO) !== 0) parts.push('duplicate discovery information')
  if ((eflags & EFLAGS_NCC) !== 0) parts.push('no cdc connectivity')
  return parts.join(', ')
}

export function nvmeCliDiscoveryRecord(e: DiscoveryEntryView): NvmeCliDiscoveryRecord {
  const r: NvmeCliDiscoveryRecord = {
    trtype: TRTYPE_NAMES[e.trtype] ?? UNRECOGNIZED,
    adrfam: ADRFAM_NAMES[e.adrfam] ?? UNRECOGNIZED,
    subtype: SUBTYPE_NAMES[e.subtype] ?? UNRECOGNIZED,
    treq: treqName(e.treq),
    portid: e.portid,
    trsvcid: e.trsvcid,
    subnqn: e.subnqn,
    traddr: e.traddr,
    eflags: eflagsName(e.eflags),
  }
  if (e.trtype === TransportType.TCP) r.sectype = SECTYPE_NAMES[e.sectype ?? 0] ?? UNRECOGNIZED
  return r
}

export function nvmeCliDiscoveryLog(log: Pick<DiscoveryLogView, 'genctr' | 'entries'>): NvmeCliDiscoveryLog {
  const genctr = log.genctr <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(log.genctr) : log.genctr.toString()
  return { genctr, records: log.entries.map(nvmeCliDiscoveryRecord) }
}
