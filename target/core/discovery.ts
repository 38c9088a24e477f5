/**
 * The discovery subsystem (well-known NQN, NVMe Base 2.0 section 3.1.3.3 / 5.16.1.23): controllers
 * connected to it, the generation counter, referrals, and the entries of the Discovery log page.
 * Any host may connect; the log lists only the subsystems the host is allowed to see.
 */
import type { Controller } from './controller.js'
import { AEN } from './controller.js'

import { DISCOVERY_NQN } from '../../lib/nvme/nqn.js'
export { DISCOVERY_NQN }

/** One Discovery Log Page Entry as the core describes it (the lib codec puts it on the wire). */
export interface DiscoveryEntry {
  /** 1 referral, 2 NVM subsystem, 3 current discovery subsystem. */
  subtype: 1 | 2 | 3
  portId: number
  traddr: string
  trsvcid: string
  subnqn: string
}

export interface Referral {
  id: number
  /** Discovery port whose log lists it; undefined = all. */
  portId: number | undefined
  address: string
  port: number
  subnqn: string
  remotePortId: number
}

export class DiscoveryService {
  readonly nqn = DISCOVERY_NQN
  readonly controllers = new Map<number, Controller>()
  readonly maxIoQueues = 0
  readonly referrals: Referral[] = []
  #genctr = 1n
  #nextReferralId = 1

  get genctr(): bigint {
    return this.#genctr
  }
  hostAllowed(_hostnqn: string): boolean {
    return true
  }
  /** The set of entries changed: bump GENCTR and raise the discovery-change AEN (AEC bit 31). */
  changed(): void {
    this.#genctr++
    for (const c of this.controllers.values()) c.raiseAen(AEN.DISC_CHANGE)
  }
  addReferral(r: Omit<Referral, 'id'>): Referral {
    const ref = { ...r, id: this.#nextReferralId++ }
    this.referrals.push(ref)
    this.changed()
    return ref
  }
  removeReferral(id: number): boolean {
    const i = this.referrals.findIndex((r) => r.id === id)
    if (i < 0) return false
    this.referrals.splice(i, 1)
    this.changed()
    return true
  }
}
