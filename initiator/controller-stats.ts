/**
 * The report `HostController.stats()` gives (the host's `stats()`, `nvmf-fault connect` JSON): what
 * the controller is connected to, its queues, fast-fail, the ANA states last read and its counters.
 * Built from the controller's public getters; only the ANA entries are passed in, as the controller
 * does not expose them.
 */
import type { HostController } from './controller.js'

export function controllerStats(c: HostController, ana: readonly (readonly [number, number])[]): Record<string, unknown> {
  return {
    id: c.id,
    state: c.state,
    cntlid: c.cntlid,
    traddr: c.options.traddr,
    trsvcid: c.options.trsvcid,
    subnqn: c.options.subnqn,
    ioQueues: c.ioQueueCount,
    activeRequests: c.activeRequests,
    failfastExpired: c.failfastExpired,
    ana: ana.map(([grpid, state]) => ({ grpid, state })),
    ...c.counters,
  }
}
