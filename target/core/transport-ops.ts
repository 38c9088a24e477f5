/**
 * What the core needs from a transport, per connection (queue) — modelled on nvmet_fabrics_ops.
 * The TCP transport and the loopback transport implement it; the core never touches sockets.
 */
import type { Decision } from './hooks.js'
import type { Request } from './request.js'

export interface QueueTransport {
  readonly connectionId: number
  readonly portId: number
  readonly remoteAddress: string
  readonly remotePort: number
  /**
   * Brings in a write command's data that was not in the capsule (R2T + H2CData). Resolves with the
   * data, or with a status to complete the command with (data digest error); rejects when the
   * connection goes away.
   */
  fetchData(req: Request): Promise<Buffer | number>
  /**
   * Reserves room for a command's controller-to-host data before it is read or built (a transport
   * with a per-connection byte budget): undefined when granted at once, else a promise that
   * resolves when granted and rejects when the connection goes away. Optional.
   */
  reserveData?(req: Request): Promise<void> | undefined
  /** Gives back what `req` reserved when it ends without a response (a fault dropped it). Optional. */
  releaseData?(req: Request): void
  /**
   * A buffer for a read's data when the store has to copy it, which the transport takes back once the
   * response is written (a transport that reuses them). Optional.
   */
  readonly readBuffer?: (bytes: number) => Buffer
  /** Sends the command's C2H data (when it succeeded and has any) and then its response capsule. */
  queueResponse(req: Request): void
  /** Tears the connection down (controller deleted, keep-alive expired, target closing). */
  close(reason: string): void
  /** Carries out a connection-level fault decision (close, reset, termReq, stall). */
  applyFault(decision: Decision): void
}

