/**
 * `conformance-race`: a fault type (plug-in, registered by the runner on each run's engine) that
 * opens a lifecycle race deterministically. When a matching command arrives or completes (the
 * fault's seam), it runs target operations *before* the command goes on — so the host's very next
 * step sees the changed target: a namespace gone between the Active Namespace ID list and Identify
 * Namespace, new identifiers between two Identify commands, the ANA state changed right after the
 * ANA log was built, a controller deleted while its Connect response is on its way.
 */
import { ConfigError } from '../lib/errors.js'
import type { FaultEngine } from '../faults/engine.js'
import type { FaultEvent, FaultTypeDefinition } from '../faults/types.js'
import type { JsonObject } from '../faults/proto.js'

export interface RaceOp {
  ns?: { op: 'disable' | 'enable' | 'remove'; nsid: number }
  /** Disable, new UUID (from the fault's PRNG), enable: the same NSID with new identifiers. */
  remap?: number
  ana?: { port: number; group: number; state: string }
  /** Delete the controller of the matching command (for a Connect: the one its response names). */
  deleteController?: boolean
}

export interface RaceConfig {
  /** Only Identify commands with this CNS / Get Log Page with this LID (CDW10 bits 7:0). */
  cdw10Low?: number
  ops: RaceOp[]
}

function parseRace(json: JsonObject, path: string): RaceConfig {
  const ops = json.ops
  if (!Array.isArray(ops) || ops.length === 0) throw new ConfigError(`${path}.ops`, 'must be a non-empty list')
  const out: RaceOp[] = ops.map((o, i) => {
    const p = `${path}.ops[${i}]`
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new ConfigError(p, 'must be an object')
    const v = o as Record<string, unknown>
    const op: RaceOp = {}
    if (v.ns !== undefined) {
      const ns = v.ns as { op?: unknown; nsid?: unknown }
      if (ns.op !== 'disable' && ns.op !== 'enable' && ns.op !== 'remove') throw new ConfigError(`${p}.ns.op`, 'must be disable, enable or remove')
      if (!Number.isInteger(ns.nsid) || (ns.nsid as number) < 1) throw new ConfigError(`${p}.ns.nsid`, 'must be a positive integer')
      op.ns = { op: ns.op, nsid: ns.nsid as number }
    }
    if (v.remap !== undefined) {
      if (!Number.isInteger(v.remap) || (v.remap as number) < 1) throw new ConfigError(`${p}.remap`, 'must be a positive NSID')
      op.remap = v.remap as number
    }
    if (v.ana !== undefined) {
      const a = v.ana as { port?: unknown; group?: unknown; state?: unknown }
      if (!Number.isInteger(a.port) || !Number.isInteger(a.group) || typeof a.state !== 'string') throw new ConfigError(`${p}.ana`, 'needs port, group and state')
      op.ana = { port: a.port as number, group: a.group as number, state: a.state }
    }
    if (v.deleteController === true) op.deleteController = true
    if (Object.keys(op).length === 0) throw new ConfigError(p, 'needs one of ns, remap, ana, deleteController')
    return op
  })
  const c: RaceConfig = { ops: out }
  if (json.cdw10Low !== undefined) {
    if (!Number.isInteger(json.cdw10Low)) throw new ConfigError(`${path}.cdw10Low`, 'must be an integer')
    c.cdw10Low = json.cdw10Low as number
  }
  return c
}

const RACE: FaultTypeDefinition<RaceConfig> = {
  seams: ['completion', 'command'],
  description: 'run target operations when a matching command arrives/completes, before it goes on (lifecycle races)',
  parseConfig: (json, path) => parseRace(json, path),
  create(config, ctx) {
    const matches = (e: FaultEvent): boolean => {
      if (e.seam !== 'command' && e.seam !== 'completion') return false
      return config.cdw10Low === undefined || (e.cmd.sqe.cdw10 & 0xff) === config.cdw10Low
    }
    return {
      decide: async (e) => {
        if (!matches(e) || (e.seam !== 'command' && e.seam !== 'completion')) return { action: 'pass' }
        for (const op of config.ops) {
          if (op.ns !== undefined) await ctx.ops.namespace({ op: op.ns.op, nsid: op.ns.nsid })
          if (op.remap !== undefined) {
            await ctx.ops.namespace({ op: 'disable', nsid: op.remap })
            await ctx.ops.remapNamespace(op.remap, ctx.random)
            await ctx.ops.namespace({ op: 'enable', nsid: op.remap })
          }
          if (op.ana !== undefined) await ctx.ops.setAna(op.ana.port, op.ana.group, op.ana.state)
          if (op.deleteController === true) {
            // A Connect's response carries the new CNTLID in DW0 (NVMe-oF 1.1 §3.3).
            const cntlid = e.seam === 'completion' && e.cmd.kind === 'fabrics' ? e.completion.dw0 & 0xffff : e.ctx.cntlid
            if (cntlid !== undefined && cntlid !== 0) await ctx.ops.deleteControllers({ cntlid })
          }
        }
        ctx.trace({ kind: 'fault', seam: e.seam, action: 'race', detail: `ran ${config.ops.length} operation(s) at ${e.seam} of opcode 0x${e.cmd.opc.toString(16)}` })
        return { action: 'pass' }
      },
    }
  },
}

/** Register `conformance-race` on a run's engine (its registry is per engine). */
export function registerRaceFault(engine: FaultEngine): void {
  engine.registry.register('conformance-race', RACE)
}
