/**
 * Discovery (wire reference 5.5, 9.1): read the discovery log of a discovery controller in pages
 * (header, then the entries in windows), and re-read the header afterwards: if the generation
 * counter moved, the log changed under us and is read again (bounded), as libnvme does. Referrals
 * (SUBTYPE 1) are followed to other discovery services, depth- and loop-bounded.
 */
import { ConnectionError, InvalidArgumentError } from '../lib/errors.js'
import { LogPageId } from '../lib/nvme/opcodes.js'
import type { HostController } from './controller.js'
import {
  decodeDiscoveryLogEntry,
  decodeDiscoveryLogHeader,
  DISCOVERY_LOG_ENTRY_SIZE as DISCOVERY_ENTRY_SIZE,
  DISCOVERY_LOG_HEADER_SIZE as DISCOVERY_HEADER_SIZE,
  DiscoverySubtype,
  TransportType,
  type DiscoveryLogEntry,
  type DiscoveryLogHeader,
} from '../lib/nvme/log-discovery.js'

/**
 * A discovery log entry as the host reports it: the transport-specific TSAS block left out, except
 * for TCP its byte 0, SECTYPE (NVMe/TCP 1.0 figure 5), which `discover -o json` prints.
 */
export type DiscoveryEntryView = Omit<DiscoveryLogEntry, 'tsas'> & { sectype?: number }
export interface DiscoveryLogView extends Pick<DiscoveryLogHeader, 'genctr' | 'numrec' | 'recfmt'> {
  entries: DiscoveryEntryView[]
}

function parseDiscoveryHeader(buf: Buffer): Pick<DiscoveryLogHeader, 'genctr' | 'numrec' | 'recfmt'> {
  const { genctr, numrec, recfmt } = decodeDiscoveryLogHeader(buf)
  return { genctr, numrec, recfmt }
}

function parseDiscoveryEntry(buf: Buffer, off: number): DiscoveryEntryView {
  const { tsas, ...rest } = decodeDiscoveryLogEntry(buf, off)
  return rest.trtype === TransportType.TCP ? { ...rest, sectype: tsas[0] ?? 0 } : rest
}

export interface ReadDiscoveryLogOptions {
  /** Entries per Get Log Page window (default 64 = 64 KiB). */
  entriesPerRead?: number
  /** Re-reads allowed when the generation counter changes (default 10). */
  maxGenerationRetries?: number
}

export async function readDiscoveryLog(ctrl: HostController, options: ReadDiscoveryLogOptions = {}): Promise<DiscoveryLogView> {
  const per = options.entriesPerRead ?? 64
  const maxRetries = options.maxGenerationRetries ?? 10
  if (!Number.isInteger(per) || per < 1 || per > 1024) throw new InvalidArgumentError('entriesPerRead', 'must be an integer in [1, 1024]')
  if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 1000) throw new InvalidArgumentError('maxGenerationRetries', 'must be an integer in [0, 1000]')
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    const hdr = parseDiscoveryHeader(await ctrl.getLogPage(LogPageId.DISCOVERY, 0, DISCOVERY_HEADER_SIZE, 0))
    const numrec = Number(hdr.numrec > 4096n ? 4096n : hdr.numrec)
    const entries: DiscoveryEntryView[] = []
    for (let i = 0; i < numrec; i += per) {
      const n = Math.min(per, numrec - i)
      const buf = await ctrl.getLogPage(LogPageId.DISCOVERY, 0, n * DISCOVERY_ENTRY_SIZE, DISCOVERY_HEADER_SIZE + i * DISCOVERY_ENTRY_SIZE)
      for (let j = 0; j < n; j++) entries.push(parseDiscoveryEntry(buf, j * DISCOVERY_ENTRY_SIZE))
    }
    const again = parseDiscoveryHeader(await ctrl.getLogPage(LogPageId.DISCOVERY, 0, DISCOVERY_HEADER_SIZE, 0))
    if (again.genctr === hdr.genctr) return { ...hdr, entries }
  }
  throw new ConnectionError(`discovery log kept changing (generation moved ${maxRetries + 1} times)`)
}

export interface DiscoveredEntry extends DiscoveryEntryView {
  /** The discovery service this entry came from. */
  source: string
}

export function describeEntry(e: DiscoveryEntryView): string {
  const kind = e.subtype === DiscoverySubtype.REFERRAL ? 'referral' : e.subtype === DiscoverySubtype.CURRENT_DISCOVERY ? 'discovery' : 'nvme'
  return `${kind} trtype=${e.trtype} traddr=${e.traddr} trsvcid=${e.trsvcid} portid=${e.portid} subnqn=${e.subnqn}`
}
