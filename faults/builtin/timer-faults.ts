/**
 * Built-in timer-driven fault types: they act on the target over time rather than at a seam.
 * ANA sequences and flapping, namespace remapping storms (blktests nvme/058), rescan storms (bursts
 * of AENs), namespace attach/detach flapping and discovery log changes. A zero interval means no
 * wait at all (operations run back to back, as nvme/058 does); otherwise the injected clock times
 * them, so a ManualClock drives them in tests.
 */
import type { Clock, Random, TimerHandle } from '../../lib/clock.js'
import { ConfigError } from '../../lib/errors.js'
import type { FaultSchemas, JsonObject } from '../proto.js'
import { validateMessage } from '../proto.js'
import type { FaultRegistry } from '../registry.js'
import { AEN_EVENTS } from '../target-ops.js'
import { ANA_STATE_NAMES, parseAnaStateName } from '../../lib/nvme/log-ana.js'
import type { FaultCreateContext, FaultInstance } from '../types.js'

/** A cancellable sleep on the injected clock; 0 ms resolves without a timer. */
class Sleeper {
  #clock: Clock
  #pending = new Map<TimerHandle, () => void>()
  stopped = false
  constructor(clock: Clock) {
    this.#clock = clock
  }
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.reject(new StoppedSignal())
    if (ms <= 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const h = this.#clock.setTimeout(() => {
        this.#pending.delete(h)
        if (this.stopped) reject(new StoppedSignal())
        else resolve()
      }, ms)
      h.unref?.()
      this.#pending.set(h, () => reject(new StoppedSignal()))
    })
  }
  check(): void {
    if (this.stopped) throw new StoppedSignal()
  }
  stop(): void {
    this.stopped = true
    for (const [h, rej] of this.#pending) {
      this.#clock.clearTimeout(h)
      rej()
    }
    this.#pending.clear()
  }
}

class StoppedSignal extends Error {}

/** Fisher-Yates with the fault's PRNG (blktests uses `shuf`). */
export function shuffled<T>(items: readonly T[], random: Random): T[] {
  const a = [...items]
  for (let i = a.length - 1; i > 0; i--) {
    const j = random.int(i + 1)
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}

/** Run `body` as the fault's life; a stop ends it quietly, anything else is reported. */
function timerFault(ctx: FaultCreateContext, body: (s: Sleeper) => Promise<void>): FaultInstance {
  const s = new Sleeper(ctx.clock)
  return {
    start: async () => {
      try {
        await body(s)
        ctx.trace({ kind: 'fault', action: 'done' })
      } catch (err) {
        if (err instanceof StoppedSignal) return
        throw err
      }
    },
    stop: () => s.stop(),
  }
}

function checkState(name: string, path: string): string {
  if (parseAnaStateName(name) === undefined) throw new ConfigError(path, `must be one of ${ANA_STATE_NAMES.join(', ')}, got '${name}'`)
  return name
}

function needList(v: number[] | undefined, path: string, what: string): number[] {
  if (v === undefined || v.length === 0) throw new ConfigError(path, `needs at least one ${what}`)
  v.forEach((x, i) => {
    if (x < 1) throw new ConfigError(`${path}[${i}]`, `must be >= 1, got ${x}`)
  })
  return v
}

interface AnaTimed {
  atMs: number
  port: number
  group: number
  state: string
}

export function registerTimerFaults(registry: FaultRegistry, schemas: FaultSchemas): void {
  const params = (name: string, json: JsonObject, path: string): JsonObject => validateMessage(schemas.type(name), json, path)

  registry.register<{ sequence: AnaTimed[]; repeat: number }>('ana-sequence', {
    timer: true,
    description: 'a timed sequence of ANA state changes (per port x group), optionally repeated',
    parseConfig: (json, path) => {
      const p = params('AnaParams', json, path) as { sequence?: Array<Partial<AnaTimed>>; repeat?: number }
      const seq = (p.sequence ?? []).map((e, i): AnaTimed => {
        const at = `${path}.sequence[${i}]`
        if (e.port === undefined || e.port < 1) throw new ConfigError(`${at}.port`, 'is required (>= 1)')
        if (e.group === undefined || e.group < 1 || e.group > 128) throw new ConfigError(`${at}.group`, 'is required, in [1, 128]')
        return { atMs: e.atMs ?? 0, port: e.port, group: e.group, state: checkState(e.state ?? '', `${at}.state`) }
      })
      if (seq.length === 0) throw new ConfigError(`${path}.sequence`, 'needs at least one step')
      for (let i = 1; i < seq.length; i++) {
        if (seq[i]!.atMs < seq[i - 1]!.atMs) throw new ConfigError(`${path}.sequence[${i}].atMs`, 'must not be earlier than the previous step')
      }
      return { sequence: seq, repeat: p.repeat ?? 0 }
    },
    create: (c, ctx) =>
      timerFault(ctx, async (s) => {
        for (let round = 0; round <= c.repeat; round++) {
          let t = 0
          for (const e of c.sequence) {
            await s.sleep(e.atMs - t)
            t = e.atMs
            s.check()
            await ctx.ops.setAna(e.port, e.group, e.state)
            ctx.trace({ kind: 'fault', action: 'ana', port: e.port, detail: `round ${round} port ${e.port} group ${e.group} -> ${e.state}` })
          }
        }
      }),
  })

  registry.register<{ ports: number[]; groups: number[]; a: string; b: string; periodMs: number; count: number }>('ana-flap', {
    timer: true,
    description: 'flip ANA groups on ports between two states every period',
    parseConfig: (json, path) => {
      const p = params('AnaParams', json, path) as { ports?: number[]; groups?: number[]; stateA?: string; stateB?: string; periodMs?: number; count?: number }
      const periodMs = p.periodMs ?? 0
      if (periodMs < 1) throw new ConfigError(`${path}.periodMs`, 'is required (>= 1 ms)')
      return {
        ports: needList(p.ports, `${path}.ports`, 'port'),
        groups: needList(p.groups ?? [1], `${path}.groups`, 'group'),
        a: checkState(p.stateA ?? 'inaccessible', `${path}.stateA`),
        b: checkState(p.stateB ?? 'optimized', `${path}.stateB`),
        periodMs,
        count: p.count ?? 0,
      }
    },
    create: (c, ctx) =>
      timerFault(ctx, async (s) => {
        for (let i = 0; c.count === 0 || i < c.count; i++) {
          const state = i % 2 === 0 ? c.a : c.b
          for (const port of c.ports) for (const group of c.groups) await ctx.ops.setAna(port, group, state)
          ctx.trace({ kind: 'fault', action: 'ana-flap', detail: `flip ${i} -> ${state}` })
          if (c.count === 0 || i + 1 < c.count) await s.sleep(c.periodMs)
        }
      }),
  })

  registry.register<{ nsids: number[]; rounds: number; intervalMs: number; opGapMs: number }>('ns-remap-storm', {
    timer: true,
    description: 'blktests nvme/058: per round disable namespaces in random order, then new UUID + enable in another random order',
    parseConfig: (json, path) => {
      const p = params('RemapParams', json, path) as { nsids?: number[]; rounds?: number; intervalMs?: number; opGapMs?: number }
      const rounds = p.rounds ?? 1
      if (rounds < 1) throw new ConfigError(`${path}.rounds`, 'must be >= 1')
      return { nsids: needList(p.nsids, `${path}.nsids`, 'nsid'), rounds, intervalMs: p.intervalMs ?? 0, opGapMs: p.opGapMs ?? 0 }
    },
    create: (c, ctx) =>
      timerFault(ctx, async (s) => {
        for (let round = 0; round < c.rounds; round++) {
          ctx.trace({ kind: 'fault', action: 'remap-round', detail: `Remap namespace #${round}` })
          for (const nsid of shuffled(c.nsids, ctx.random)) {
            s.check()
            await ctx.ops.namespace({ op: 'disable', nsid })
            await s.sleep(c.opGapMs)
          }
          for (const nsid of shuffled(c.nsids, ctx.random)) {
            s.check()
            await ctx.ops.remapNamespace(nsid, ctx.random)
            await ctx.ops.namespace({ op: 'enable', nsid })
            await s.sleep(c.opGapMs)
          }
          if (round + 1 < c.rounds) await s.sleep(c.intervalMs)
        }
      }),
  })

  registry.register<{ events: string[]; burst: number; bursts: number; intervalMs: number; nsids: number[]; ports: number[] }>('rescan-storm', {
    timer: true,
    description: 'bursts of namespace-changed and/or ANA-change AENs',
    parseConfig: (json, path) => {
      const p = params('RescanParams', json, path) as { event?: string; burst?: number; bursts?: number; intervalMs?: number; nsids?: number[]; ports?: number[] }
      const event = p.event ?? 'both'
      const events = event === 'both' ? ['ns-changed', 'ana-change'] : [event]
      if (event !== 'both' && !(AEN_EVENTS as readonly string[]).includes(event)) throw new ConfigError(`${path}.event`, `must be ns-changed, ana-change, discovery-change or both, got '${event}'`)
      const burst = p.burst ?? 1
      const bursts = p.bursts ?? 1
      if (burst < 1) throw new ConfigError(`${path}.burst`, 'must be >= 1')
      if (bursts < 1) throw new ConfigError(`${path}.bursts`, 'must be >= 1')
      return { events, burst, bursts, intervalMs: p.intervalMs ?? 0, nsids: p.nsids ?? [], ports: p.ports ?? [] }
    },
    create: (c, ctx) =>
      timerFault(ctx, async (s) => {
        const ports: Array<number | undefined> = c.ports.length > 0 ? c.ports : [undefined]
        for (let b = 0; b < c.bursts; b++) {
          for (let i = 0; i < c.burst; i++) {
            for (const event of c.events) {
              for (const portId of ports) {
                s.check()
                await ctx.ops.raiseAen(event, { ...(portId !== undefined ? { portId } : {}), ...(c.nsids.length > 0 ? { nsids: c.nsids } : {}) })
              }
            }
          }
          if (b + 1 < c.bursts) await s.sleep(c.intervalMs)
        }
      }),
  })

  registry.register<{ nsids: number[]; downMs: number; upMs: number; count: number }>('ns-flap', {
    timer: true,
    description: 'detach (disable) and re-attach (enable) namespaces repeatedly',
    parseConfig: (json, path) => {
      const p = params('NsFlapParams', json, path) as { nsids?: number[]; downMs?: number; upMs?: number; count?: number; mode?: string }
      if (p.mode !== undefined && p.mode !== '' && p.mode !== 'disable') throw new ConfigError(`${path}.mode`, "only 'disable' is supported (enable/disable is how nvmet attaches and detaches)")
      const count = p.count ?? 1
      if (count === 0 && (p.downMs ?? 0) + (p.upMs ?? 0) === 0) throw new ConfigError(`${path}.count`, 'endless flapping (count 0) needs downMs or upMs > 0')
      return { nsids: needList(p.nsids, `${path}.nsids`, 'nsid'), downMs: p.downMs ?? 0, upMs: p.upMs ?? 0, count }
    },
    create: (c, ctx) =>
      timerFault(ctx, async (s) => {
        for (let i = 0; c.count === 0 || i < c.count; i++) {
          for (const nsid of c.nsids) await ctx.ops.namespace({ op: 'disable', nsid })
          await s.sleep(c.downMs)
          for (const nsid of c.nsids) await ctx.ops.namespace({ op: 'enable', nsid })
          if (c.count === 0 || i + 1 < c.count) await s.sleep(c.upMs)
        }
      }),
  })

  registry.register<{ count: number; intervalMs: number; address: string; trsvcid: number }>('discovery-change', {
    timer: true,
    description: 'change the discovery log (add referrals), raising discovery-change AENs',
    parseConfig: (json, path) => {
      const p = params('DiscoveryChangeParams', json, path) as { count?: number; intervalMs?: number; address?: string; trsvcid?: number }
      const count = p.count ?? 1
      if (count < 1) throw new ConfigError(`${path}.count`, 'must be >= 1')
      return { count, intervalMs: p.intervalMs ?? 0, address: p.address ?? '127.0.0.1', trsvcid: p.trsvcid ?? 8009 }
    },
    create: (c, ctx) =>
      timerFault(ctx, async (s) => {
        for (let i = 0; i < c.count; i++) {
          s.check()
          await ctx.ops.addReferral({ address: c.address, trsvcid: c.trsvcid + i })
          if (i + 1 < c.count) await s.sleep(c.intervalMs)
        }
      }),
  })
}
