/**
 * The fault plug-in model: a fault is a matcher + an action + a schedule, attached at one of the
 * target's fixed seams (target/core/hooks.ts). A fault *type* (built-in or user plug-in) is
 * registered by name in a {@link FaultRegistry} owned by one engine; a fault *spec* names the type
 * and carries its match, schedule and parameters.
 */
import type { Clock, Random } from '../lib/clock.js'
import type {
  ConnectionInfo,
  Decision,
  HookCommand,
  HookCompletion,
  HookContext,
  OutgoingPdu,
  ReceivedPdu,
} from '../target/core/hooks.js'
import type { JsonObject } from './proto.js'
import type { TargetOps } from './target-ops.js'
import type { TraceInput } from './trace.js'

/** The fixed seams, named after the TargetHooks methods they use. */
export const SEAMS = ['connection', 'pdu-received', 'pdu-send', 'command', 'completion'] as const
export type Seam = (typeof SEAMS)[number]

export type FaultEvent =
  | { seam: 'connection'; ctx: HookContext; conn: ConnectionInfo }
  | { seam: 'pdu-received'; ctx: HookContext; rx: ReceivedPdu }
  | { seam: 'pdu-send'; ctx: HookContext; tx: OutgoingPdu }
  | { seam: 'command'; ctx: HookContext; cmd: HookCommand }
  | { seam: 'completion'; ctx: HookContext; cmd: HookCommand; completion: HookCompletion }

/** Which events a fault matches; every set field must match (see proto/scenario.proto `Match`). */
export interface MatchSpec {
  ports?: number[]
  cntlids?: number[]
  hostnqns?: string[]
  subnqns?: string[]
  qids?: number[]
  opcodes?: number[]
  kinds?: Array<'admin' | 'io' | 'fabrics'>
  commands?: string[]
  nsids?: number[]
  lba?: { start: number; end: number }
  pduTypes?: string[]
  direction?: 'rx' | 'tx'
}

/** When a matching event fires (see proto/scenario.proto `Schedule`). */
export interface ScheduleSpec {
  probability?: number
  everyNth?: number
  firstN?: number
  times?: number
  afterN?: number
  startMs?: number
  durationMs?: number
  oneShot?: boolean
}

/** A validated fault specification. `params` is the type's own JSON, checked by `parseConfig`. */
export interface FaultSpec {
  id: string
  type: string
  at?: Seam
  match?: MatchSpec
  schedule?: ScheduleSpec
  params?: JsonObject
}

/** What a fault type's `create` gets: its own PRNG and the injected clock, never globals. */
export interface FaultCreateContext {
  readonly id: string
  readonly type: string
  /** The seam this instance is attached at (for timer-driven types, the type's default). */
  readonly seam: Seam
  /** This fault's own PRNG, seeded from the run seed and the fault id. */
  readonly random: Random
  readonly clock: Clock
  /** Operations on the target (ANA, namespaces, controllers, AENs); each is traced. */
  readonly ops: TargetOps
  /** Record an event in the run's trace. */
  trace(event: TraceInput): void
  /** For timer-driven faults: true while the schedule's time window is open. */
  windowOpen(): boolean
  /** For timer-driven faults: consume one schedule slot (probability/every-Nth/times); true = fire. */
  tick(): boolean
}

/** A live fault. Hook faults implement `decide`; timer-driven faults `start`/`stop`. */
export interface FaultInstance {
  /**
   * Called for an event that matched and that the schedule fired on. Return the decision (or
   * `undefined` for pass: the fault acted by side effect, e.g. set CSTS.CFS).
   */
  decide?(event: FaultEvent): Decision | Promise<Decision> | undefined
  /** Timer-driven faults: begin (called once when installed). May run asynchronously. */
  start?(): void | Promise<void>
  /** Stop every timer; called when the fault is removed or the engine closes. */
  stop?(): void
}

/**
 * A fault type: `parseConfig` validates the spec's `params` (throw `ConfigError` naming `path`)
 * and `create` makes an instance.
 */
export interface FaultTypeDefinition<C = unknown> {
  /** Seams the type can attach to; the first is the default. Default: every seam. */
  seams?: readonly Seam[]
  /** Timer-driven type (storms, flapping): not attached to a seam; `start()` runs it. */
  timer?: boolean
  description?: string
  parseConfig(json: JsonObject, path: string): C
  create(config: C, ctx: FaultCreateContext): FaultInstance
}

export type { Decision }
