/**
 * One Changed Namespace List per controller (NVMe Base 2.0 section 5.16.1.5): the NSIDs whose
 * attributes changed since the controller last read the log page with RAE cleared. More than 1024
 * distinct NSIDs collapse to the single entry FFFFFFFFh, which the host answers with a full rescan.
 * lib/namespace-map.ts records every host-visible change here; target/ reads and clears the list
 * when a host reads log page 04h.
 */
import { InvalidArgumentError } from './errors.js'
import { CHANGED_NS_LIST_MAX, CHANGED_NS_OVERFLOW } from './nvme/log-changed-ns.js'

interface ChangedLog {
  nsids: Set<number>
  overflow: boolean
}

export class ChangedNamespaceLists {
  readonly #lists = new Map<number, ChangedLog>()

  /** Start recording changed NSIDs for controller `ctrlId` (idempotent). */
  subscribe(ctrlId: number): void {
    if (!Number.isInteger(ctrlId) || ctrlId < 0) throw new InvalidArgumentError('ctrlId', 'must be a non-negative integer')
    if (!this.#lists.has(ctrlId)) this.#lists.set(ctrlId, { nsids: new Set(), overflow: false })
  }
  unsubscribe(ctrlId: number): void {
    this.#lists.delete(ctrlId)
  }
  isSubscribed(ctrlId: number): boolean {
    return this.#lists.has(ctrlId)
  }
  /** Number of distinct changed NSIDs pending for a controller (1025 once overflowed). */
  pending(ctrlId: number): number {
    const l = this.#lists.get(ctrlId)
    if (l === undefined) return 0
    return l.overflow ? CHANGED_NS_LIST_MAX + 1 : l.nsids.size
  }

  /**
   * The list for `ctrlId` — ascending NSIDs, or `[0xFFFFFFFF]` if more than 1024 changed — and clear
   * it (a Get Log Page with RAE = 0). Unknown controllers get InvalidArgumentError.
   */
  take(ctrlId: number): number[] {
    const l = this.#required(ctrlId)
    const out = ChangedNamespaceLists.#list(l)
    l.nsids.clear()
    l.overflow = false
    return out
  }
  /** The list without clearing it (RAE = 1 reads). */
  peek(ctrlId: number): number[] {
    return ChangedNamespaceLists.#list(this.#required(ctrlId))
  }

  /**
   * Record `nsid` in the list of controller `ctrlId` (default: every subscribed controller). Any NSID
   * a Changed Namespace List entry can hold is accepted, present in the namespace map or not (an
   * injected NS-attribute event announces what the map did not change).
   */
  note(nsid: number, ctrlId?: number): void {
    if (!Number.isInteger(nsid) || nsid < 1 /* NSID_MIN, lib/namespace-map.ts */ || nsid > CHANGED_NS_OVERFLOW) throw new InvalidArgumentError('nsid', `must be an integer in [1, 0xFFFFFFFF], got ${String(nsid)}`)
    if (ctrlId === undefined) {
      for (const l of this.#lists.values()) ChangedNamespaceLists.#record(l, nsid)
      return
    }
    ChangedNamespaceLists.#record(this.#required(ctrlId), nsid)
  }

  #required(ctrlId: number): ChangedLog {
    const l = this.#lists.get(ctrlId)
    if (l === undefined) throw new InvalidArgumentError('ctrlId', `controller ${ctrlId} is not subscribed`)
    return l
  }
  static #list(l: ChangedLog): number[] {
    return l.overflow ? [CHANGED_NS_OVERFLOW] : [...l.nsids].sort((a, b) => a - b)
  }
  static #record(l: ChangedLog, nsid: number): void {
    if (l.overflow) return
    l.nsids.add(nsid)
    if (l.nsids.size > CHANGED_NS_LIST_MAX) {
      l.overflow = true
      l.nsids.clear()
    }
  }
}
