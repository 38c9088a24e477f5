/**
 * One command in the pipeline `parse → execute → complete` (nvmet `nvmet_req`), as an explicit state
 * machine after SPDK's request states (`spdk_nvmf_request_state` / `nvmf_tcp_req_process`):
 *
 *   NEW ─▶ DECIDING ─▶ NEED_BUFFER ──────┐            (onCommand seam; C2H room reserved)
 *              │   └─▶ TRANSFERRING_H2C ─┤            (R2T → H2CData)
 *              │                         ▼
 *              ├──────────────────────▶ EXECUTING ─▶ EXECUTED ─▶ COMPLETING ─▶ DONE
 *              └─ (error status, drop, abort) ─────▶ EXECUTED ─▶ DROPPED | ABORTED
 *
 * EXECUTED means "done with the namespace": the command ran, failed before running, or will never
 * run. Every path out of the namespace-holding states passes through it, and entering it is the one
 * place the namespace reference taken at parse time is released. A request whose store operation is
 * running when its queue goes away stays EXECUTING (the operation keeps the reference) and becomes
 * ABORTED when it settles. COMPLETING runs the onCompletion seam; DONE = response handed to the
 * transport; DROPPED = a fault dropped it (never completed, the host times it out); ABORTED = its
 * queue went away (no response possible).
 */
import type { Sqe } from '../../lib/nvme/sqe.js'
import type { DataDirection } from '../../lib/nvme/opcodes.js'
import { StateMachine, type TransitionTable } from '../../lib/state-machine.js'
import type { CommandKind, HookCommand } from '../seams/hooks.js'
import type { TargetNamespaceRef } from './namespace.js'
import type { Queue } from './queue.js'

export type RequestState = 'NEW' | 'DECIDING' | 'NEED_BUFFER' | 'TRANSFERRING_H2C' | 'EXECUTING' | 'EXECUTED' | 'COMPLETING' | 'DONE' | 'DROPPED' | 'ABORTED'

const REQUEST_TABLE: TransitionTable<RequestState> = {
  NEW: ['DECIDING', 'EXECUTED'],
  DECIDING: ['NEED_BUFFER', 'TRANSFERRING_H2C', 'EXECUTING', 'EXECUTED'],
  NEED_BUFFER: ['EXECUTING', 'EXECUTED'],
  TRANSFERRING_H2C: ['EXECUTING', 'EXECUTED'],
  EXECUTING: ['EXECUTED'],
  EXECUTED: ['COMPLETING', 'DROPPED', 'ABORTED'],
  COMPLETING: ['DONE', 'DROPPED', 'ABORTED'],
  DONE: [],
  DROPPED: [],
  ABORTED: [],
}
/** Shared by every request (no options object per command). */
const REQUEST_MACHINE = { name: 'request', initial: 'NEW', table: REQUEST_TABLE } as const

/**
 * An execute step returns the status (Linux 15-bit form) now or later; `DEFERRED` means the handler
 * keeps the request and completes it itself (Asynchronous Event Request).
 */
export const DEFERRED = Symbol('deferred')
export type ExecuteResult = number | typeof DEFERRED | Promise<number | typeof DEFERRED>
export type Execute = (req: Request) => ExecuteResult

export class Request extends StateMachine<RequestState> {
  readonly queue: Queue
  readonly sqe: Sqe
  readonly cid: number
  readonly opc: number
  kind: CommandKind
  nsid: number
  /** SGL1 length: bytes of data the command moves. */
  dataLength: number
  direction: DataDirection
  /** Host→controller data (in-capsule or gathered from H2CData); a view valid while the command runs. */
  data: Buffer | undefined
  /** True when `data` arrived in the capsule. */
  inCapsule: boolean
  /**
   * Set by parse: the executor copies `data` before it returns (a Write into the memory store), so
   * in-capsule data need not be copied out of the received PDU first (queue.ts `submit`).
   */
  consumesDataInline = false
  /** Controller→host data to send on success. */
  c2hData: Buffer | undefined
  status = 0
  dw0 = 0
  dw1 = 0
  /** Byte offset in the SQE of the field that failed parsing (Error log), 0xFFFF if none. */
  errorLocation = 0xffff
  execute: Execute | undefined
  /**
   * The namespace reference taken at parse time (lookup and reference in one step). Held while the
   * command may still touch the store; released on entering EXECUTED (and only there).
   */
  ns: TargetNamespaceRef | undefined
  slba: bigint | undefined
  nlb: number | undefined
  /** Its queue went away while the store operation ran: ABORTED once the operation settles. */
  #abortWhenExecuted = false
  /** Bytes the transport reserved for this command's buffers (given back when its response is out). */
  reservedBytes = 0
  #hookCmd: HookCommand | undefined

  constructor(queue: Queue, sqe: Sqe, inCapsule: Buffer | undefined) {
    super(REQUEST_MACHINE)
    this.queue = queue
    this.sqe = sqe
    this.cid = sqe.cid
    this.opc = sqe.opc
    this.kind = queue.qid === 0 ? 'admin' : 'io'
    this.nsid = sqe.nsid
    this.dataLength = sqe.sgl.length
    this.direction = 'none'
    this.data = inCapsule
    this.inCapsule = inCapsule !== undefined && inCapsule.length > 0
    this.c2hData = undefined
    this.execute = undefined
    this.ns = undefined
    this.slba = undefined
    this.nlb = undefined
  }

  /** The parsed command as fault hooks see it. */
  get hookCommand(): HookCommand {
    if (this.#hookCmd === undefined) {
      const c: HookCommand = { sqe: this.sqe, opc: this.opc, kind: this.kind, nsid: this.nsid }
      if (this.slba !== undefined) c.slba = this.slba
      if (this.nlb !== undefined) c.nlb = this.nlb
      this.#hookCmd = c
    }
    return this.#hookCmd
  }

  /** An asynchronous execute step is running (it owns the namespace reference until it settles). */
  get executing(): boolean {
    return this.state === 'EXECUTING'
  }
  /** A fault decision dropped it: never completed. */
  get dropped(): boolean {
    return this.state === 'DROPPED'
  }
  /** Its queue went away (or will, once the running store operation settles): nothing more is sent. */
  get aborted(): boolean {
    return this.state === 'ABORTED' || this.#abortWhenExecuted
  }

  protected override move(to: RequestState): RequestState {
    const from = super.move(to)
    if (to === 'EXECUTED') {
      // The one place the namespace reference is let go (see the state diagram above).
      const ref = this.ns
      this.ns = undefined
      ref?.release()
    }
    return from
  }

  /** Done with the namespace (ran, failed before running, or will never run). Idempotent. */
  finishExecution(): void {
    if (this.state !== 'EXECUTED' && this.canTransition('EXECUTED')) this.transition('EXECUTED')
  }

  /**
   * The execute step settled. False when the queue went away meanwhile: the request is ABORTED now
   * (its reference released) and must not be completed.
   */
  executed(): boolean {
    if (this.state !== 'EXECUTING') return this.state === 'EXECUTED'
    this.transition('EXECUTED')
    if (!this.#abortWhenExecuted) return true
    this.transition('ABORTED')
    return false
  }

  /** A fault dropped it: never completed, no longer holding its namespace. */
  drop(): void {
    this.finishExecution()
    this.tryTransition('DROPPED')
  }

  /** Its queue went away: no response can be sent. A running store operation keeps its reference until it settles. */
  abort(): void {
    if (this.state === 'EXECUTING') {
      this.#abortWhenExecuted = true
      return
    }
    this.finishExecution()
    this.tryTransition('ABORTED')
  }

  /** Fail parsing at `offset` (SQE byte) with `status`. */
  fail(status: number, offset: number): number {
    this.errorLocation = offset
    return status
  }
}
