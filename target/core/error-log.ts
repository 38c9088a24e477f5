/**
 * The Error Information log (LID 01h) of one controller: a 128-entry ring, newest first, each entry
 * numbered by a non-zero, increasing Error Count (NVMe Base 2.0 section 5.16.1.2; ELPE = 127).
 */
export const ERROR_LOG_ENTRIES = 128

export interface ErrorLogEntry {
  errorCount: bigint
  sqid: number
  cid: number
  /** 15-bit status (Linux form). */
  status: number
  /** Byte offset of the bad field in the SQE, 0xFFFF when unknown. */
  parameterErrorLocation: number
  lba: bigint
  nsid: number
}

export class ErrorLog {
  #ring: ErrorLogEntry[] = []
  #count = 0n
  append(e: Omit<ErrorLogEntry, 'errorCount'>): void {
    this.#count += 1n
    this.#ring.unshift({ ...e, errorCount: this.#count })
    if (this.#ring.length > ERROR_LOG_ENTRIES) this.#ring.length = ERROR_LOG_ENTRIES
  }
  /** Newest first. */
  entries(): readonly ErrorLogEntry[] {
    return this.#ring
  }
  get errorCount(): bigint {
    return this.#count
  }
}
