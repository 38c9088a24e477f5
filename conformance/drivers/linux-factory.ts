/**
 * `--initiator linux:KERNELSPEC`: the Linux kernel host (linux-qemu.ts) as a driver factory for the
 * conformance runner. The guest image for the spec is built (or found in the cache) once, before
 * the first run. By default one guest serves every scenario of the run (linux-session.ts: start()
 * connects the scenario's paths, stop() disconnects them, close() powers the guest off);
 * `session: false` boots a fresh guest per scenario (LinuxQemuDriver), slower but independent.
 *
 * The shape is the runner's DriverFactory (conformance/driver-factory.ts: `info` and
 * `create(entry, seed)`), plus `close()` for the end of the run.
 */
import { parseKernelSpec } from '../../kernel/kernel-spec.js'
import { ensureVmImage, type VmImage } from '../../kernel/vm-image.js'
import type { CatalogueEntry } from '../catalogue-types.js'
import type { InitiatorDriver } from '../driver-types.js'
import type { InitiatorInfo } from '../report-types.js'
import { LinuxQemuDriver, type LinuxQemuDriverOptions } from './linux-qemu.js'
import { LinuxQemuSession, type LinuxSessionOptions } from './linux-session.js'

export interface LinuxDriverFactory {
  readonly info: InitiatorInfo
  create(entry: CatalogueEntry, seed: number): InitiatorDriver
  /** End of the run: nothing stays running after it. Idempotent. */
  close(): Promise<void>
}

export interface LinuxDriverFactoryOptions extends Omit<LinuxQemuDriverOptions, 'kernel' | 'image'>, Pick<LinuxSessionOptions, 'sessionSec' | 'idleSec'> {
  /** A guest image already built (tests); otherwise ensureVmImage for the spec. */
  image?: VmImage
  /** One guest for every scenario (default true), or one per scenario. */
  session?: boolean
}

const DEFAULT_CONNECT = { ctrlLossTmoSec: 60, reconnectDelaySec: 1 }

/**
 * `nvme connect` options for an entry's hostOptions (the ones nvme-cli takes per connect; times
 * rounded up to whole seconds, its unit). maxRetries (nvme_core.max_retries, a module parameter),
 * persistentDiscovery and delayedRemovalMs are not per connect: those stay the kernel's defaults,
 * and `ignored` names them.
 */
export function connectOptionsFor(entry: CatalogueEntry | undefined, base?: string): { options: string; ignored: string[] } {
  const h = entry?.hostOptions ?? {}
  const sec = (msv: number): number => Math.max(1, Math.ceil(msv / 1000))
  const opts: string[] = [base ?? `--ctrl-loss-tmo=${h.ctrlLossTmoMs !== undefined ? sec(h.ctrlLossTmoMs) : DEFAULT_CONNECT.ctrlLossTmoSec} --reconnect-delay=${h.reconnectDelayMs !== undefined ? sec(h.reconnectDelayMs) : DEFAULT_CONNECT.reconnectDelaySec}`]
  if (h.kato !== undefined && h.kato > 0) opts.push(`--keep-alive-tmo=${sec(h.kato)}`)
  if (h.hdgst === true) opts.push('--hdr-digest')
  if (h.ddgst === true) opts.push('--data-digest')
  const ignored = (['maxRetries', 'persistentDiscovery', 'delayedRemovalMs'] as const).filter((k) => h[k] !== undefined)
  return { options: opts.join(' '), ignored }
}

/** Resolve `spec` (the text after `linux:`) to its guest image and return the factory. */
export async function createLinuxDriverFactory(spec: string, o: LinuxDriverFactoryOptions = {}): Promise<LinuxDriverFactory> {
  const image = o.image ?? (await ensureVmImage({ kernel: parseKernelSpec(spec === '' ? 'default' : spec), ...(o.log !== undefined ? { log: o.log } : {}) }))
  const opts = { ...o, image }
  if (o.session !== false) {
    const session = new LinuxQemuSession(opts)
    return {
      info: session.info,
      create: (entry) => {
        const c = connectOptionsFor(entry, o.connectOptions)
        if (c.ignored.length > 0) o.log?.(`${entry.info.id}: host options ${c.ignored.join(', ')} do not apply to the Linux host (kernel defaults)`)
        return session.driver(c.options)
      },
      close: () => session.close(),
    }
  }
  const info = new LinuxQemuDriver(opts).info
  const live = new Set<LinuxQemuDriver>()
  return {
    info,
    create: (entry) => {
      const d = new LinuxQemuDriver({ ...opts, connectOptions: connectOptionsFor(entry, o.connectOptions).options })
      live.add(d)
      return d
    },
    close: async () => {
      await Promise.all([...live].map((d) => d.stop().catch(() => undefined)))
      live.clear()
    },
  }
}
