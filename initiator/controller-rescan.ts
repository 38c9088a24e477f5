/**
 * Coalesced namespace scans of a host controller (wire reference 9.3): a scan asked for while one
 * runs is run once more after it (however many asks came), and an ask to read the Changed Namespace
 * List is kept for that run: the target masks further NS-changed AENs until log 0x04 is read.
 */
export class RescanQueue {
  readonly #scan: (readChangedList: boolean) => Promise<void>
  #running: Promise<void> | undefined
  #queued = false
  #readChangedQueued = false

  constructor(scan: (readChangedList: boolean) => Promise<void>) {
    this.#scan = scan
  }

  /** Scan now, or after the running scan (the promise of the running one is returned then). */
  request(readChangedList: boolean): Promise<void> {
    if (this.#running !== undefined) {
      this.#queued = true
      if (readChangedList) this.#readChangedQueued = true
      return this.#running
    }
    this.#running = this.#scan(readChangedList).finally(() => {
      this.#running = undefined
      if (this.#queued) {
        const readChanged = this.#readChangedQueued
        this.#queued = false
        this.#readChangedQueued = false
        void this.request(readChanged).catch(() => undefined)
      }
    })
    return this.#running
  }
}
