/**
 * The receive path of one connection, from a whole PDU out of the framer to its handler:
 *
 *   framer ─▶ decode (HDGST checked, DDGST reported) ─▶ onPduReceived seam ─▶ handle(pdu)
 *
 * With no onPduReceived hook a PDU is handled synchronously, as a view of the framer's buffer, and
 * the return value tells the framer whether to go on. With a hook the PDU is decoded from a copy
 * (the framer's view is reused), delivery pauses, and the decision resumes it: `delay` (and a
 * `stall`, which at this seam only holds this PDU) waits, `drop` discards, `mutate` handles the
 * replacement bytes as if received — checked by a framer like the socket's (tcp-pdu-checks.ts) —
 * and a connection fault ends the connection.
 */
import type { Logger } from 'pino'
import type { DigestOptions } from '../../lib/pdu/common.js'
import type { PduFramer } from '../../lib/framer.js'
import { decodePdu, type Pdu } from '../../lib/pdu/index.js'
import { SEAMS, type Decision, type HookContext, type HookSlot, type ReceiveDecision, type ReceivedSubject } from '../seams/index.js'
import { frameReplacement } from './tcp-pdu-checks.js'
import type { ReadGate } from './tcp-read-gate.js'
import { tracePdu } from './tcp-trace.js'

export interface PduReceiverOptions {
  hooks: HookSlot
  tracePdu: boolean
  framer: PduFramer
  gate: ReadGate
  logger: () => Logger
  context: () => HookContext
  digests: () => DigestOptions
  /** CLOSING or CLOSED: nothing more is handled. */
  closing: () => boolean
  /** Dispatches one decoded PDU; throws `NvmeTcpProtocolError` when it is transport fatal. */
  handle: (pdu: Pdu, raw: Buffer | undefined) => void
  fatal: (err: unknown) => void
  /** Carries out close/reset/termReq; true when the connection is going away. */
  connectionFault: (d: Decision) => boolean
  sleep: (ms: number) => Promise<void>
  /** Delivery resumed or paused after a decision (re-check the partial-PDU timer). */
  delivered: () => void
}

export class PduReceiver {
  readonly #o: PduReceiverOptions

  constructor(o: PduReceiverOptions) {
    this.#o = o
  }

  /** One whole PDU from the framer (a view valid only during this call); false pauses delivery. */
  onPdu(raw: Buffer): boolean {
    const o = this.#o
    if (o.closing()) return false
    const hooked = SEAMS.received.installed(o.hooks)
    const src = hooked ? Buffer.from(raw) : raw
    let pdu: Pdu
    try {
      pdu = decodePdu(src, o.digests())
    } catch (err) {
      o.fatal(err)
      return false
    }
    if (o.tracePdu) tracePdu(o.logger(), 'rx', pdu, raw.length)
    if (hooked) {
      SEAMS.received.run(o.hooks, o.logger(), o.context(), { pdu, raw: src }, this.#afterSeam)
      return false
    }
    try {
      o.handle(pdu, raw)
    } catch (err) {
      o.fatal(err)
      return false
    }
    return !o.gate.shouldPause()
  }

  readonly #afterSeam = (d: ReceiveDecision, rx: ReceivedSubject): void => {
    if (this.#o.closing()) return
    if (d.action === 'delay' || d.action === 'stall') void this.#o.sleep(d.ms).then(() => this.#deliver({ action: 'pass' }, rx.pdu))
    else this.#deliver(d, rx.pdu)
  }

  #deliver(d: ReceiveDecision, pdu: Pdu): void {
    const o = this.#o
    if (o.closing() || o.connectionFault(d)) return
    try {
      if (d.action === 'mutate') {
        for (const raw of frameReplacement(d.parts, o.framer)) {
          if (o.closing()) return
          const p = decodePdu(raw, o.digests())
          if (o.tracePdu) tracePdu(o.logger(), 'rx', p, raw.length)
          o.handle(p, raw)
        }
      } else if (d.action !== 'drop') o.handle(pdu, undefined)
    } catch (err) {
      o.fatal(err)
      return
    }
    if (o.closing()) return
    if (!o.gate.shouldPause()) o.gate.resume()
    else o.gate.pause()
    o.delivered()
  }
}
