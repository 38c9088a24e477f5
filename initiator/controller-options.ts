/**
 * Options of a host controller connection, with the Linux defaults (anchors 3.5, wire reference 9),
 * validated at the edge: every bad field throws InvalidArgumentError naming it.
 */
import type { Logger } from 'pino'
import type { Clock, Random } from '../lib/clock.js'
import { InvalidArgumentError } from '../lib/errors.js'
import { resolveDhchapOptions, type DhchapHostSettings, type DhchapOptions } from './auth.js'
import type { HostController, ScannedNamespace } from './controller.js'
import type { ControllerStateValue } from './controller-state.js'

export interface BackoffOptions {
  /** Each failed attempt multiplies the delay by this (grpc-js uses 1.6). */
  multiplier: number
  /** Upper bound of the delay (ms). */
  maxDelayMs: number
  /** ± fraction of random jitter (0..1). */
  jitter: number
}

export interface ControllerConnectOptions extends DhchapOptions {
  /** Transport address (IPv4/IPv6 literal or host name). */
  traddr: string
  /** Transport service id (TCP port). */
  trsvcid: number
  subnqn: string
  /** Keep-alive timeout (ms) sent in the admin Connect; keep-alives go out every kato/2. 0 = none. */
  kato?: number
  /** Number of I/O queues requested. */
  nrIoQueues?: number
  /** I/O queue depth (Linux 128, range 16-1024). */
  queueSize?: number
  hdgst?: boolean
  ddgst?: boolean
  /**
   * Ask the controller to disable SQ flow control (Connect CATTR bit 2, Linux `disable_sqflow`,
   * default off as there). SQHD then carries no information (0xFFFF), and a controller may end a
   * successful read with the C2HData SUCCESS flag instead of a CapsuleResp (wire reference 10.2):
   * one PDU fewer per read on each side.
   */
  disableSqflow?: boolean
  /** Pause between reconnect attempts (ms); Linux 10 s. */
  reconnectDelayMs?: number
  /** Give up reconnecting and delete the controller after this long (ms); -1 = never. Linux 600 s. */
  ctrlLossTmoMs?: number
  /** Fail queued I/O fast after this long in reconnect (ms); -1 = off (Linux default). */
  fastIoFailTmoMs?: number
  /** Optional exponential backoff of the reconnect delay. */
  reconnectBackoff?: BackoffOptions | false
  /** I/O command timeout (ms); Linux 30 s. */
  ioTimeoutMs?: number
  /** Admin command timeout (ms); Linux 60 s. */
  adminTimeoutMs?: number
  /** After an Abort of a timed-out command, wait this long (ms) before resetting the controller. */
  abortGraceMs?: number
  /** ICResp / connection establishment limit (ms). */
  connectTimeoutMs?: number
  /** numa-like distance of this controller's paths (0 = preferred). */
  distance?: number
}

export interface ResolvedControllerOptions {
  traddr: string
  trsvcid: number
  subnqn: string
  kato: number
  nrIoQueues: number
  queueSize: number
  hdgst: boolean
  ddgst: boolean
  disableSqflow: boolean
  reconnectDelayMs: number
  ctrlLossTmoMs: number
  fastIoFailTmoMs: number
  reconnectBackoff: BackoffOptions | false
  ioTimeoutMs: number
  adminTimeoutMs: number
  abortGraceMs: number
  connectTimeoutMs: number
  distance: number
  /** DH-HMAC-CHAP secrets and offers (undefined: no dhchapSecret given). */
  dhchap: DhchapHostSettings | undefined
}

export const DEFAULT_CONTROLLER_OPTIONS = Object.freeze({
  kato: 5000,
  nrIoQueues: 2,
  queueSize: 128,
  hdgst: false,
  ddgst: false,
  disableSqflow: false,
  reconnectDelayMs: 10_000,
  ctrlLossTmoMs: 600_000,
  fastIoFailTmoMs: -1,
  reconnectBackoff: false as const,
  ioTimeoutMs: 30_000,
  adminTimeoutMs: 60_000,
  abortGraceMs: 5_000,
  connectTimeoutMs: 10_000,
  distance: 1,
})

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(name, `must be an integer in [${min}, ${max}], got ${String(v)}`)
  }
  return v
}
function bool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new InvalidArgumentError(name, `must be a boolean, got ${String(v)}`)
  return v
}

export function validateControllerOptions(o: ControllerConnectOptions): ResolvedControllerOptions {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('options', 'must be an object')
  const d = DEFAULT_CONTROLLER_OPTIONS
  if (typeof o.traddr !== 'string' || o.traddr.length === 0) throw new InvalidArgumentError('traddr', 'must be a non-empty address string')
  const trsvcid = int('trsvcid', o.trsvcid, 1, 65535)
  if (typeof o.subnqn !== 'string' || o.subnqn.length === 0 || Buffer.byteLength(o.subnqn) > 223) {
    throw new InvalidArgumentError('subnqn', 'must be an NQN of 1 to 223 bytes')
  }
  const r: ResolvedControllerOptions = {
    traddr: o.traddr,
    trsvcid,
    subnqn: o.subnqn,
    kato: int('kato', o.kato ?? d.kato, 0, 0xffffffff),
    nrIoQueues: int('nrIoQueues', o.nrIoQueues ?? d.nrIoQueues, 1, 64),
    queueSize: int('queueSize', o.queueSize ?? d.queueSize, 16, 1024),
    hdgst: bool('hdgst', o.hdgst ?? d.hdgst),
    ddgst: bool('ddgst', o.ddgst ?? d.ddgst),
    disableSqflow: bool('disableSqflow', o.disableSqflow ?? d.disableSqflow),
    reconnectDelayMs: int('reconnectDelayMs', o.reconnectDelayMs ?? d.reconnectDelayMs, 0, 3_600_000),
    ctrlLossTmoMs: int('ctrlLossTmoMs', o.ctrlLossTmoMs ?? d.ctrlLossTmoMs, -1, 2 ** 31),
    fastIoFailTmoMs: int('fastIoFailTmoMs', o.fastIoFailTmoMs ?? d.fastIoFailTmoMs, -1, 2 ** 31),
    reconnectBackoff: o.reconnectBackoff ?? d.reconnectBackoff,
    ioTimeoutMs: int('ioTimeoutMs', o.ioTimeoutMs ?? d.ioTimeoutMs, 1, 3_600_000),
    adminTimeoutMs: int('adminTimeoutMs', o.adminTimeoutMs ?? d.adminTimeoutMs, 1, 3_600_000),
    abortGraceMs: int('abortGraceMs', o.abortGraceMs ?? d.abortGraceMs, 0, 3_600_000),
    connectTimeoutMs: int('connectTimeoutMs', o.connectTimeoutMs ?? d.connectTimeoutMs, 1, 3_600_000),
    distance: int('distance', o.distance ?? d.distance, 0, 255),
    dhchap: resolveDhchapOptions(o),
  }
  if (r.reconnectBackoff !== false) {
    const b = r.reconnectBackoff
    if (b === null || typeof b !== 'object') throw new InvalidArgumentError('reconnectBackoff', 'must be false or { multiplier, maxDelayMs, jitter }')
    if (!(typeof b.multiplier === 'number' && b.multiplier >= 1 && b.multiplier <= 10)) throw new InvalidArgumentError('reconnectBackoff.multiplier', 'must be a number in [1, 10]')
    int('reconnectBackoff.maxDelayMs', b.maxDelayMs, 0, 3_600_000)
    if (!(typeof b.jitter === 'number' && b.jitter >= 0 && b.jitter <= 1)) throw new InvalidArgumentError('reconnectBackoff.jitter', 'must be a number in [0, 1]')
  }
  // Linux nvmf_parse_options: fast_io_fail_tmo larger than ctrl_loss_tmo is ignored (warned).
  if (r.ctrlLossTmoMs >= 0 && r.fastIoFailTmoMs > r.ctrlLossTmoMs) {
    throw new InvalidArgumentError('fastIoFailTmoMs', `must not exceed ctrlLossTmoMs (${r.ctrlLossTmoMs})`)
  }
  return r
}

/** Delay before reconnect attempt `attempt` (0-based), with the optional backoff and jitter. */
export function reconnectDelay(o: Pick<ResolvedControllerOptions, 'reconnectDelayMs' | 'reconnectBackoff'>, attempt: number, random: Random): number {
  const b = o.reconnectBackoff
  if (b === false) return o.reconnectDelayMs
  const base = Math.min(b.maxDelayMs, o.reconnectDelayMs * b.multiplier ** attempt)
  const j = base * b.jitter * (random.next() * 2 - 1)
  return Math.max(0, Math.round(base + j))
}

export interface ControllerRuntime {
  clock: Clock
  random: Random
}

/** What a host controller tells its owner (the host) about what it learns. */
export interface ControllerOwner {
  controllerStateChanged(ctrl: HostController, from: ControllerStateValue, to: ControllerStateValue): void
  /**
   * A complete scan result (the whole active namespace list): `namespaces` identified, and
   * `unidentified`, active NSIDs whose Identify failed this time (keep what is known of them).
   */
  namespacesScanned(ctrl: HostController, namespaces: ScannedNamespace[], unidentified?: readonly number[]): void
  /** ANA states were (re)read. */
  anaUpdated(ctrl: HostController): void
  /** Discovery log change AEN (persistent discovery controllers). */
  discoveryChanged?(ctrl: HostController): void
  /** fastIoFailTmo expired (queued I/O must stop waiting). */
  failfastExpired(ctrl: HostController): void
}

export interface HostControllerOptions extends ResolvedControllerOptions {
  hostnqn: string
  hostid: Buffer
  clock: Clock
  random: Random
  logger?: Logger | undefined
  owner: ControllerOwner
  hostId: string
  /** A discovery controller: admin queue only, no namespace scan. */
  discovery?: boolean
  /** Name used in ids and logs (default `${traddr}:${trsvcid}`). */
  name: string
}
