/**
 * The host's view of the log pages it acts on: the ANA log (wire reference 5.4) and the discovery
 * log (5.5). Thin adapters over the lib/nvme codecs, reduced to what the initiator uses.
 */
import { decodeAnaLog, type AnaLog } from '../lib/nvme/log-ana.js'
import {
  decodeDiscoveryLogEntry,
  decodeDiscoveryLogHeader,
  DISCOVERY_LOG_ENTRY_SIZE,
  DISCOVERY_LOG_HEADER_SIZE,
  type DiscoveryLogEntry,
  type DiscoveryLogHeader,
} from '../lib/nvme/log-discovery.js'

export type AnaLogView = AnaLog

/** Decode and validate an ANA log page (lib/nvme/log-ana.ts applies the Linux host's checks). */
export function parseAnaLogPage(buf: Buffer, anagrpmax?: number): AnaLogView {
  return decodeAnaLog(buf, anagrpmax !== undefined && anagrpmax > 0 ? { anagrpmax } : {})
}

export type DiscoveryEntryView = Omit<DiscoveryLogEntry, 'tsas'>
export interface DiscoveryLogView {
  genctr: bigint
  numrec: bigint
  recfmt: number
  entries: DiscoveryEntryView[]
}

export const DISCOVERY_HEADER_SIZE = DISCOVERY_LOG_HEADER_SIZE
export const DISCOVERY_ENTRY_SIZE = DISCOVERY_LOG_ENTRY_SIZE

export function parseDiscoveryHeader(buf: Buffer): Pick<DiscoveryLogHeader, 'genctr' | 'numrec' | 'recfmt'> {
  const h = decodeDiscoveryLogHeader(buf)
  return { genctr: h.genctr, numrec: h.numrec, recfmt: h.recfmt }
}

export function parseDiscoveryEntry(buf: Buffer, off = 0): DiscoveryEntryView {
  const { tsas: _tsas, ...rest } = decodeDiscoveryLogEntry(buf, off)
  return rest
}
