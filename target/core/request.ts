/**
 * One command in the pipeline `parse → execute → complete` (nvmet `nvmet_req`). Per-command state:
 * NEW → NEED_DATA (R2T) → READY → EXECUTING → COMPLETING → DONE.
 */
import type { Sqe } from '../../lib/nvme/sqe.js'
import type { DataDirection } from '../../lib/nvme/opcodes.js'
import type { CommandKind, HookCommand } from './hooks.js'
import type { TargetNamespaceRef } from './namespace.js'
import type { Queue } from './queue.js'

export type RequestState = 'NEW' | 'NEED_DATA' | 'READY' | 'EXECUTING' | 'COMPLETING' | 'DONE'

/**
 * An execute step returns the status (Linux 15-bit form) now or later; `DEFERRED` means the handler
 * keeps the request and completes it itself (Asynchronous Event Request).
 */
export const DEFERRED = Symbol('deferred')
export type ExecuteResult = number | typeof DEFERRED | Promise<number | typeof DEFERRED>
export type Execute = (req: Request) => ExecuteResult

export class Request {
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
   * command may still touch the store; {@link releaseNamespace} drops it when the command ends.
   */
  ns: TargetNamespaceRef | undefined
  slba: bigint | undefined
  nlb: number | undefined
  state: RequestState = 'NEW'
  /** An asynchronous execute step is running; it owns the namespace reference until it settles. */
  executing = false
  /** Set when a fault decision dropped it: never completed. */
  dropped = false
  /** Bytes the transport reserved for this command's buffers (given back when its response is out). */
  reservedBytes = 0
  readonly startedAt: number
  #hookCmd: HookCommand | undefined

  constructor(queue: Queue, sqe: Sqe, inCapsule: Buffer | undefined, now: number) {
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
    this.startedAt = now
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

  /**
   * The command will not touch the namespace again (completing, dropped, abandoned or its connection
   * gone): release the reference. Safe on every path that ends a request: the first call releases,
   * later ones find nothing.
   */
  releaseNamespace(): void {
    const ref = this.ns
    this.ns = undefined
    ref?.release()
  }

  /** Fail parsing at `offset` (SQE byte) with `status`. */
  fail(status: number, offset: number): number {
    this.errorLocation = offset
    return status
  }
}
