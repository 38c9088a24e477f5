/**
 * Discovery with referrals: read the discovery log of one discovery controller (one-shot, KATO 0),
 * follow its referral entries up to `maxReferralDepth` (default 4), each address once, and return
 * the entries deduplicated.
 */
import type { Logger } from 'pino'
import { InvalidArgumentError } from '../lib/errors.js'
import { DiscoverySubtype, TransportType } from '../lib/nvme/log-discovery.js'
import type { HostController } from './controller.js'
import { readDiscoveryLog, type DiscoveredEntry, type DiscoveryLogView, type ReadDiscoveryLogOptions } from './discovery.js'

export interface DiscoverOptions extends ReadDiscoveryLogOptions {
  traddr: string
  trsvcid?: number
  maxReferralDepth?: number
  hdgst?: boolean
  ddgst?: boolean
  /** Sees each discovery log as read, with its generation counter (what `discover -o json` prints). */
  onLog?: (source: string, log: DiscoveryLogView) => void
}

/** `open(traddr, trsvcid)` makes the (not yet started) discovery controller for one address. */
export async function walkDiscovery(options: DiscoverOptions, open: (traddr: string, trsvcid: number) => HostController, log: Logger | undefined): Promise<DiscoveredEntry[]> {
  const depth = options.maxReferralDepth ?? 4
  if (!Number.isInteger(depth) || depth < 0 || depth > 16) throw new InvalidArgumentError('maxReferralDepth', 'must be an integer in [0, 16]')
  const seen = new Set<string>()
  const out: DiscoveredEntry[] = []
  const keys = new Set<string>()
  const visit = async (traddr: string, trsvcid: number, level: number): Promise<void> => {
    const src = `${traddr}:${trsvcid}`
    if (seen.has(src)) return
    seen.add(src)
    const ctrl = open(traddr, trsvcid)
    await ctrl.start()
    let entries
    try {
      const page = await readDiscoveryLog(ctrl, options)
      options.onLog?.(src, page)
      entries = page.entries
    } finally {
      await ctrl.disconnect().catch(() => undefined)
    }
    for (const e of entries) {
      const key = `${e.subtype}|${e.traddr}|${e.trsvcid}|${e.subnqn}`
      if (!keys.has(key)) {
        keys.add(key)
        out.push({ ...e, source: src })
      }
      if (e.subtype === DiscoverySubtype.REFERRAL && e.trtype === TransportType.TCP && level < depth) {
        const port = Number.parseInt(e.trsvcid, 10)
        if (Number.isInteger(port) && port > 0 && port < 65536) await visit(e.traddr, port, level + 1).catch((err: unknown) => log?.warn({ err, referral: e }, 'referral failed'))
      }
    }
  }
  await visit(options.traddr, options.trsvcid ?? 8009, 0)
  return out
}
