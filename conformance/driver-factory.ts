/**
 * `--initiator` values to drivers: `nvmf-fault` (our initiator, in-process), `driver:CMD` (an
 * external command, docs/conformance-driver.md) and `linux:KERNELSPEC` (the Linux kernel host in a
 * QEMU guest, conformance/drivers/linux-qemu.ts). A factory makes a fresh driver per scenario run.
 */
import { InvalidArgumentError } from '../lib/errors.js'
import type { InitiatorDriver } from './driver-types.js'
import type { CatalogueEntry } from './catalogue-types.js'
import type { InitiatorInfo } from './report-types.js'
import { ExternalCommandDriver, splitCommand } from './drivers/external-command.js'
import { NvmfFaultDriver } from './drivers/nvmf-fault.js'

export interface DriverFactory {
  /** The initiator as the report names it (before any run). */
  readonly info: InitiatorInfo
  /** A fresh driver for one scenario run. */
  create(entry: CatalogueEntry, seed: number): InitiatorDriver
  /** After the initiator's last run (the Linux host powers its guest off). */
  close?(): Promise<void>
}

export interface DriverFactoryOptions {
  version?: string
  /** Progress lines of slow set-up (the Linux host's guest image). */
  log?: (line: string) => void
}

export async function createDriverFactory(spec: string, o: DriverFactoryOptions = {}): Promise<DriverFactory> {
  if (spec === 'nvmf-fault') {
    const probe = new NvmfFaultDriver({ ...(o.version !== undefined ? { version: o.version } : {}) })
    return {
      info: probe.info,
      create: (entry, seed) =>
        new NvmfFaultDriver({
          seed,
          ...(o.version !== undefined ? { version: o.version } : {}),
          ...(entry.hostOptions?.persistentDiscovery === true ? { persistentDiscovery: true } : {}),
          ...(entry.hostOptions?.delayedRemovalMs !== undefined ? { delayedRemovalMs: entry.hostOptions.delayedRemovalMs } : {}),
          controller: {
            ...(entry.hostOptions?.kato !== undefined ? { kato: entry.hostOptions.kato } : {}),
            ...(entry.hostOptions?.reconnectDelayMs !== undefined ? { reconnectDelayMs: entry.hostOptions.reconnectDelayMs } : {}),
            ...(entry.hostOptions?.ctrlLossTmoMs !== undefined ? { ctrlLossTmoMs: entry.hostOptions.ctrlLossTmoMs } : {}),
            ...(entry.hostOptions?.hdgst !== undefined ? { hdgst: entry.hostOptions.hdgst } : {}),
            ...(entry.hostOptions?.ddgst !== undefined ? { ddgst: entry.hostOptions.ddgst } : {}),
          },
        }),
    }
  }
  if (spec.startsWith('driver:')) {
    const command = splitCommand(spec.slice('driver:'.length))
    const probe = new ExternalCommandDriver({ command })
    return { info: probe.info, create: () => new ExternalCommandDriver({ command }) }
  }
  if (spec.startsWith('linux:')) {
    // Loaded only when asked for: it pulls in the QEMU and guest-image machinery (kernel/).
    const { createLinuxDriverFactory } = await import('./drivers/linux-factory.js')
    return createLinuxDriverFactory(spec.slice('linux:'.length), { ...(o.log !== undefined ? { log: o.log } : {}) })
  }
  throw new InvalidArgumentError('initiator', `must be nvmf-fault, driver:CMD or linux:KERNELSPEC, got '${spec}'`)
}
