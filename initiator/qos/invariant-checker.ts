/**
 * The QoS accounting invariant checker (on in tests, optional in production). It keeps its own
 * ledger of which path charged each I/O, independent of the flags on the I/O, and reports:
 *
 * - `double-charge`: an I/O charged while a charge is still open (counted twice);
 * - `double-uncharge`: a charge completed twice (counted twice);
 * - `foreign-completion`: an I/O completes its charge against a path that did not charge it;
 * - `no-qos-completion`: a flagged I/O completes against a device without QoS (the nvme/058 oops,
 *   anchors 0.1: `__rq_qos_done_bio` on the multipath head);
 * - `double-done`: a request completion counted twice on a path;
 * - `leak`: at quiescence, a path's counters are not zero or the ledger is not empty.
 */
export type InvariantViolationKind =
  | 'double-charge'
  | 'double-uncharge'
  | 'foreign-completion'
  | 'no-qos-completion'
  | 'double-done'
  | 'leak'

export interface InvariantViolation {
  kind: InvariantViolationKind
  message: string
  ioId?: number
  pathId?: string
}

export interface QuiescentView {
  readonly pathId: string
  readonly chargedIos: number
  readonly inflightRequests: number
  readonly policyInflight: number
}

export class QosInvariantChecker {
  readonly #ledger = new Map<number, string>()
  readonly #violations: InvariantViolation[] = []
  readonly #throwOnViolation: boolean
  readonly #onViolation: ((v: InvariantViolation) => void) | undefined
  constructor(options: { throwOnViolation?: boolean; onViolation?: (v: InvariantViolation) => void } = {}) {
    this.#throwOnViolation = options.throwOnViolation ?? false
    this.#onViolation = options.onViolation
  }
  get violations(): readonly InvariantViolation[] {
    return this.#violations
  }
  get ok(): boolean {
    return this.#violations.length === 0
  }
  /** Open charges: io id → path id. */
  get openCharges(): ReadonlyMap<number, string> {
    return this.#ledger
  }
  report(v: InvariantViolation): void {
    this.#violations.push(v)
    this.#onViolation?.(v)
    if (this.#throwOnViolation) throw new Error(`QoS invariant violated (${v.kind}): ${v.message}`)
  }
  onCharge(ioId: number, pathId: string): void {
    const open = this.#ledger.get(ioId)
    if (open !== undefined) {
      this.report({ kind: 'double-charge', ioId, pathId, message: `I/O ${ioId} charged by ${pathId} while its charge by ${open} is still open` })
    }
    this.#ledger.set(ioId, pathId)
  }
  onUncharge(ioId: number, pathId: string): void {
    const open = this.#ledger.get(ioId)
    if (open === undefined) {
      this.report({ kind: 'double-uncharge', ioId, pathId, message: `I/O ${ioId} uncharged on ${pathId} with no open charge` })
      return
    }
    if (open !== pathId) {
      this.report({ kind: 'foreign-completion', ioId, pathId, message: `I/O ${ioId} completes on ${pathId} but was charged by ${open}` })
      return
    }
    this.#ledger.delete(ioId)
  }
  /** Check that everything returned to zero; returns (and records) the violations found now. */
  checkQuiescent(paths: Iterable<QuiescentView>): InvariantViolation[] {
    const found: InvariantViolation[] = []
    for (const p of paths) {
      if (p.chargedIos !== 0 || p.inflightRequests !== 0 || p.policyInflight !== 0) {
        found.push({
          kind: 'leak',
          pathId: p.pathId,
          message: `path ${p.pathId} not quiescent: charged ${p.chargedIos}, in-flight requests ${p.inflightRequests}, policy in-flight ${p.policyInflight}`,
        })
      }
    }
    for (const [ioId, pathId] of this.#ledger) {
      found.push({ kind: 'leak', ioId, pathId, message: `I/O ${ioId} still charged to ${pathId}` })
    }
    for (const v of found) this.report(v)
    return found
  }
}
