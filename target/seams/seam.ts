/**
 * The sync/async dispatch of a fault seam, written once. With no hook installed `run` calls `next`
 * with `pass` synchronously (the hot path never awaits, allocates nothing per call: the subject and
 * a prebound `next` are passed through). With a hook, the hook runs on a later microtask — it may
 * answer with a promise — and `next` receives its decision narrowed to the seam's type (in that same
 * microtask when the hook answered with a value: one hop per decision, no promise). A hook that
 * throws or rejects counts as `pass` (logged): a failing fault hook never strands the data path.
 */
import type { Logger } from 'pino'
import type { Pdu } from '../../lib/pdu/index.js'
import { PASS, type ConnectionInfo, type Decision, type HookCommand, type HookContext, type HookResult, type HookSlot, type TargetHooks } from './hooks.js'
import { narrowDecision, type SeamDecisions, type SeamName } from './decisions.js'

type Invoke<T> = (ctx: HookContext, subject: T) => HookResult

export class Seam<K extends SeamName, T> {
  readonly name: K
  readonly #pick: (hooks: TargetHooks) => Invoke<T> | undefined

  constructor(name: K, pick: (hooks: TargetHooks) => Invoke<T> | undefined) {
    this.name = name
    this.#pick = pick
  }

  /** A hook is installed at this seam now (the caller may have to copy a view before `run`). */
  installed(slot: HookSlot): boolean {
    // The seam's name is the hook's property: checked without building the invoker (per PDU).
    const hooks = slot.hooks
    return hooks !== undefined && hooks[this.name] !== undefined
  }

  run<U extends T>(slot: HookSlot, logger: Logger, ctx: HookContext, subject: U, next: (d: SeamDecisions[K], subject: U) => void): void {
    const hooks = slot.hooks
    const invoke = hooks === undefined || hooks[this.name] === undefined ? undefined : this.#pick(hooks)
    if (invoke === undefined) {
      next(PASS as SeamDecisions[K], subject)
      return
    }
    const seam = this.name
    const failed = (err: unknown): void => {
      logger.error({ err, seam }, `${seam} hook failed`)
      next(PASS as SeamDecisions[K], subject)
    }
    const decided = (d: Decision): void => {
      try {
        next(narrowDecision(seam, d, logger), subject)
      } catch (err) {
        logger.error({ err, seam }, `${seam}: carrying out the decision failed`)
      }
    }
    // The hook runs on a later microtask; a decision returned as a value is carried out in that
    // same microtask (one hop, no promise), a promised one when it settles.
    queueMicrotask(() => {
      let r: HookResult
      try {
        r = invoke(ctx, subject)
      } catch (err) {
        failed(err)
        return
      }
      if (isPromiseLike(r)) void Promise.resolve(r).then(decided, failed)
      else decided(r)
    })
  }
}

function isPromiseLike(r: unknown): r is PromiseLike<unknown> {
  return typeof r === 'object' && r !== null && typeof (r as { then?: unknown }).then === 'function'
}

/** A received PDU as the onPduReceived hook sees it. */
export interface ReceivedSubject {
  pdu: Pdu
  raw: Buffer
}
/** A PDU about to be sent, as the onPduSend hook sees it (its wire parts). */
export interface SendSubject {
  pdu: Pdu
  parts: Buffer[]
}
/** A command at the command seams (the target's Request). */
export interface CommandSubject {
  readonly hookCommand: HookCommand
  status: number
  dw0: number
  dw1: number
}

/** The five seams of the target, in the order a command meets them. */
export const SEAMS = {
  connection: new Seam('onConnection', (h) => (h.onConnection === undefined ? undefined : (ctx, info: ConnectionInfo) => h.onConnection!(ctx, info))),
  received: new Seam('onPduReceived', (h) => (h.onPduReceived === undefined ? undefined : (ctx, rx: ReceivedSubject) => h.onPduReceived!(ctx, rx))),
  command: new Seam('onCommand', (h) => (h.onCommand === undefined ? undefined : (ctx, req: CommandSubject) => h.onCommand!(ctx, req.hookCommand))),
  completion: new Seam('onCompletion', (h) =>
    h.onCompletion === undefined ? undefined : (ctx, req: CommandSubject) => h.onCompletion!(ctx, req.hookCommand, { status: req.status, dw0: req.dw0, dw1: req.dw1 }),
  ),
  send: new Seam('onPduSend', (h) => (h.onPduSend === undefined ? undefined : (ctx, tx: SendSubject) => h.onPduSend!(ctx, tx))),
} as const
