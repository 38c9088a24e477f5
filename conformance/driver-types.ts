/**
 * How the conformance runner drives an initiator under test. Our own initiator (in-process), the
 * Linux kernel host (QEMU guest) and any external command (docs/conformance-driver.md) all
 * implement `InitiatorDriver`; the runner never knows which one it has.
 *
 * Drivers report what the initiator's application saw (I/O counts and errors, failovers where the
 * initiator tells, kernel console lines); everything else is judged from the target's side. The
 * runner stamps each event with its own clock on arrival.
 */
import type { InitiatorInfo } from './report-types.js'

export interface DriverTarget {
  traddr: string
  /** One per port of the scenario's topology; the driver connects every path. */
  trsvcids: number[]
  subnqn: string
  hostnqn: string
  hostid?: string
}

export interface DriverWorkload {
  rw: 'write' | 'read' | 'randrw' | 'verify'
  bs: number
  qd: number
  durationMs: number
  namespaces: 'all' | number[]
  /** Data pattern seed ("seed:58"): the written data is reproducible, so reads can be checked. */
  pattern: string
}

export type DriverEvent =
  | { kind: 'ready' }
  | { kind: 'io'; nsid: number; ops: number; bytes: number; errors: number; path?: string }
  | { kind: 'error'; detail: string }
  | { kind: 'failover'; detail: string; path?: string }
  | { kind: 'log'; level: 'warn' | 'error'; detail: string }
  | { kind: 'done'; ok: boolean; detail: string }

export interface InitiatorDriver {
  readonly info: InitiatorInfo
  /** Connect every path and start the workload; resolves once the driver is ready (every path connected). */
  start(target: DriverTarget, workload: DriverWorkload, onEvent: (e: DriverEvent) => void): Promise<void>
  /** Stop the workload and disconnect; resolves after the driver's `done`. Idempotent. */
  stop(): Promise<void>
}
