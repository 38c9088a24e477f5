/**
 * ANA state of one host controller (anchors 3.3): reads the ANA log (at bring-up, on an ANA-change
 * AEN, after an ANA error), coalesces re-reads asked for while one runs, and runs the ANATT timer: a
 * group still in change after 2 × ANATT resets the controller.
 */
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../lib/clock.js'
import { AnaState } from '../lib/ana.js'
import { CMIC_ANA, type IdentifyController } from '../lib/nvme/identify-controller.js'
import { decodeAnaLog, type AnaLog } from '../lib/nvme/log-ana.js'

export interface ControllerAnaOptions {
  clock: Clock
  logger?: Logger | undefined
  /** Identify Controller as last read. */
  identify: () => IdentifyController | undefined
  /** Read `length` bytes of the ANA log page (all NSIDs). */
  readLog: (length: number) => Promise<Buffer>
  live: () => boolean
  /** The controller's connection generation (a timer armed for an older one does nothing). */
  generation: () => number
  /** ANATT expired for the connection of `generation`. */
  onAnattExpired: (generation: number) => void
  /** ANA states were (re)read. */
  onUpdated: () => void
  counters: { anaReads: number }
}

export class ControllerAna {
  readonly #o: ControllerAnaOptions
  #states = new Map<number, number>()
  #log: AnaLog | undefined
  #anattTimer: TimerHandle | undefined
  #reading: Promise<void> | undefined
  #readPending = false

  constructor(o: ControllerAnaOptions) {
    this.#o = o
  }

  get log(): AnaLog | undefined {
    return this.#log
  }
  /** [grpid, state] as last read. */
  get entries(): [number, number][] {
    return [...this.#states.entries()]
  }

  /** ANA state of a group as last read (OPTIMIZED when the subsystem does not report ANA). */
  stateOf(grpid: number): number {
    const id = this.#o.identify()
    if (id === undefined || (id.cmic & CMIC_ANA) === 0) return AnaState.OPTIMIZED
    return this.#states.get(grpid) ?? AnaState.INACCESSIBLE
  }

  /** Schedule an ANA log re-read (coalesced). */
  request(): void {
    if (this.#reading !== undefined) {
      this.#readPending = true
      return
    }
    if (!this.#o.live()) return
    this.#reading = this.read()
      .catch((err: unknown) => this.#o.logger?.warn({ err }, 'ANA log read failed'))
      .finally(() => {
        this.#reading = undefined
        if (this.#readPending) {
          this.#readPending = false
          this.request()
        }
      })
  }

  async read(): Promise<void> {
    const id = this.#o.identify()
    if (id === undefined || (id.cmic & CMIC_ANA) === 0) return
    this.#o.counters.anaReads++
    // 16 + NANAGRPID × 32 + MNAN × 4 bytes (wire reference 9.1 step 12), rounded to dwords.
    const size = Math.ceil((16 + id.nanagrpid * 32 + Math.max(id.mnan, id.nn) * 4) / 4) * 4
    const buf = await this.#o.readLog(Math.min(size, 1 << 20))
    const log = decodeAnaLog(buf, id.anagrpmax > 0 ? { anagrpmax: id.anagrpmax } : {})
    this.#log = log
    this.#states = new Map(log.groups.map((g) => [g.grpid, g.state]))
    // ANATT: a group in change for longer than 2 × ANATT resets the controller (anchors 3.3).
    const inChange = log.groups.some((g) => g.state === AnaState.CHANGE)
    if (inChange && this.#anattTimer === undefined) {
      const ms = 2 * Math.max(1, id.anatt) * 1000
      const gen = this.#o.generation()
      this.#anattTimer = this.#o.clock.setTimeout(() => {
        this.#anattTimer = undefined
        this.#o.onAnattExpired(gen)
      }, ms)
      this.#anattTimer.unref?.()
    } else if (!inChange && this.#anattTimer !== undefined) {
      this.#o.clock.clearTimeout(this.#anattTimer)
      this.#anattTimer = undefined
    }
    this.#o.onUpdated()
  }

  /** The connection ended: the ANATT timer stops. */
  stopTimer(): void {
    if (this.#anattTimer !== undefined) this.#o.clock.clearTimeout(this.#anattTimer)
    this.#anattTimer = undefined
  }
}
