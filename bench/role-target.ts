/**
 * The target under measurement, in its own process: one subsystem of memory namespaces on N ports
 * of 127.0.0.1, with the operations the benches drive from outside (ANA changes, path-error
 * injection, a paced remap storm, memory figures). It runs with no fault hook installed, as users
 * run the engine; only `injectPathErrors` installs one (the failover section), and turning the
 * injection off removes it again.
 */
import { createTarget, type TargetHandle, type TargetHooks } from '../target/index.js'
import { seededRandom } from '../lib/clock.js'
import { randomUuid } from '../lib/nvme/uuid.js'
import { NvmeStatus } from '../lib/status.js'
import type { Handlers } from './rpc.js'
import type { AnaStateName } from '../lib/nvme/log-ana.js'

export const BENCH_NQN = 'nqn.2014-08.org.nvmf-fault:bench'

export interface TargetStart {
  ports: number
  namespaces: number
  nsBytes: number
  /** ANA state of group 1 per port (index = port - 1); default all optimized. */
  anaStates?: AnaStateName[]
  /** Per-port connection cap (the scale bench needs more than the default). */
  connectionsPerPort?: number
}

export interface RemapStorm {
  nsids: number[]
  /** Remaps per second to aim at. */
  rate: number
  durationMs: number
  seed: number
}

export function targetHandlers(): Handlers {
  let target: TargetHandle | undefined
  // Path-error injection: every `everyN`-th I/O command on `portId` completes with Controller Pathing Error.
  const inject = { portId: 0, everyN: 0, seen: 0, injected: 0 }
  const pathErrors: TargetHooks = {
    onCommand: (ctx, cmd) => {
      if (ctx.portId !== inject.portId || cmd.kind !== 'io') return { action: 'pass' }
      if (++inject.seen % inject.everyN !== 0) return { action: 'pass' }
      inject.injected++
      return { action: 'complete', status: NvmeStatus.CTRL_PATH_ERROR }
    },
  }
  const need = (): TargetHandle => {
    if (target === undefined) throw new Error('target not started')
    return target
  }
  return {
    start: async (o: TargetStart) => {
      const groupState = (i: number): Record<string, AnaStateName> | undefined => (o.anaStates?.[i] !== undefined ? { '1': o.anaStates[i] } : undefined)
      target = await createTarget({
        ports: Array.from({ length: o.ports }, (_, i) => ({ id: i + 1, address: '127.0.0.1', port: 0, ...(groupState(i) !== undefined ? { anaStates: groupState(i)! } : {}) })),
        subsystems: [
          {
            nqn: BENCH_NQN,
            allowAnyHost: true,
            anaGroups: [1],
            namespaces: Array.from({ length: o.namespaces }, (_, i) => ({ nsid: i + 1, size: o.nsBytes, anaGroup: 1 })),
          },
        ],
        // The scale run is one host with many controllers: lift the per-port, per-host and
        // per-subsystem caps that protect a shared target from one greedy host.
        ...(o.connectionsPerPort !== undefined ? { limits: { connectionsPerPort: o.connectionsPerPort, connectionsPerHost: o.connectionsPerPort, controllersPerSubsystem: 1024 } } : {}),
      })
      return { ports: target.ports.map((p) => p.port) }
    },
    /** `everyN` 0 turns the injection off and removes the hook (the seams' hook-free path again). */
    injectPathErrors: (o: { portId: number; everyN: number }) => {
      if (!Number.isInteger(o.everyN) || o.everyN < 0) throw new Error(`injectPathErrors: everyN must be an integer >= 0, got ${o.everyN}`)
      Object.assign(inject, { portId: o.portId, everyN: o.everyN, seen: 0, injected: 0 })
      need().setHooks(o.everyN > 0 ? pathErrors : undefined)
      return {}
    },
    injected: () => ({ injected: inject.injected }),
    /** Returns the absolute time (ms, performance.timeOrigin based) at which the change was made. */
    setAna: (o: { portId: number; state: AnaStateName }) => {
      const at = performance.timeOrigin + performance.now()
      need().setAnaState({ portId: o.portId, grpid: 1, state: o.state })
      return { at }
    },
    remapStorm: async (o: RemapStorm) => {
      const t = need()
      const random = seededRandom(o.seed)
      const start = performance.now()
      let remaps = 0
      let failures = 0
      let firstError: string | undefined
      // Paced in 10 ms ticks; each remap is the nvme/058 step: disable, new UUID, enable.
      for (let tick = 1; performance.now() - start < o.durationMs; tick++) {
        const due = Math.min(Math.floor((tick * 10 * o.rate) / 1000), Math.ceil((o.durationMs * o.rate) / 1000))
        while (remaps + failures < due) {
          const nsid = o.nsids[(remaps + failures) % o.nsids.length]!
          try {
            t.disableNamespace(BENCH_NQN, nsid)
            t.setNamespaceUuid(BENCH_NQN, nsid, randomUuid(random))
            t.enableNamespace(BENCH_NQN, nsid)
            remaps++
          } catch (e) {
            failures++
            firstError ??= (e as Error).message
          }
        }
        const wait = start + tick * 10 - performance.now()
        await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)))
      }
      return { remaps, failures, firstError, elapsedMs: performance.now() - start }
    },
    addNamespaces: async (o: { from: number; count: number; nsBytes: number }) => {
      const t = need()
      for (let i = 0; i < o.count; i++) await t.addNamespace(BENCH_NQN, { nsid: o.from + i, size: o.nsBytes, anaGroup: 1 })
      return {}
    },
    status: () => {
      const s = need().status()
      return { controllers: s.controllers.length, connections: need().connectionStats().length }
    },
    close: async () => {
      await target?.close()
      target = undefined
      return {}
    },
  }
}
