/**
 * Asynchronous Event Requests of a host controller (wire reference 9.3): one AER kept posted on the
 * admin queue of a connection, re-posted as each completes, and the Notice events acted on — a
 * namespace change rescans (reading the Changed Namespace List), an ANA change re-reads the ANA log,
 * a discovery change goes to the owner. Other event types are only published.
 */
import { AenNotice, AenType, parseAenDw0 } from '../lib/nvme/aen.js'
import { makeAerSqe } from '../lib/nvme/commands.js'
import { OAES_ANA_CHANGE, OAES_DISC_CHANGE, OAES_FW_ACTIVATION, OAES_NS_ATTR, type IdentifyController } from '../lib/nvme/identify-controller.js'
import { AdminOpcode, FeatureId } from '../lib/nvme/opcodes.js'
import { makeSqe, type Sqe } from '../lib/nvme/sqe.js'
import type { QueueCompletion, QueuePair } from './transport/queue-pair.js'

/** The notices the host enables (Linux NVME_AEN_SUPPORTED): NS attribute, FW activation, ANA, discovery. */
const AER_OAES_MASK = OAES_NS_ATTR | OAES_FW_ACTIVATION | OAES_ANA_CHANGE | OAES_DISC_CHANGE

/**
 * Asynchronous Event Configuration for the notices both sides support (wire reference 9.1 step 19;
 * a refusal is ignored). Returns whether an AER should be kept posted: the controller can send a
 * notice the host acts on, or it is a discovery controller.
 */
export async function configureAsyncEvents(id: IdentifyController, submitAdmin: (sqe: Sqe) => Promise<QueueCompletion>, discovery: boolean): Promise<boolean> {
  const aec = id.oaes & AER_OAES_MASK
  if (aec !== 0) await submitAdmin(makeSqe({ opc: AdminOpcode.SET_FEATURES, cdw10: FeatureId.ASYNC_EVENT, cdw11: aec >>> 0 })).catch(() => undefined)
  return (id.oaes & (OAES_NS_ATTR | OAES_ANA_CHANGE | OAES_DISC_CHANGE)) !== 0 || discovery
}

export interface AenHandlers {
  /** The admin queue of the connection the AER belongs to (undefined: gone). */
  admin: () => QueuePair | undefined
  /** Whether that connection is still the current one. */
  current: () => boolean
  /** Every completed AER (counted and published by the controller). */
  onEvent: (dw0: number) => void
  nsChanged: () => Promise<void>
  anaChanged: () => void
  discoveryChanged: () => void
  onError: (err: unknown) => void
}

/** Post one AER; when it completes with success on the current connection, handle it and post the next. */
export function keepAerPosted(h: AenHandlers): void {
  const admin = h.admin()
  if (admin === undefined || admin.closed) return
  admin.submit({ sqe: makeAerSqe({ cid: 0 }), timeoutMs: 0 }).then(
    (c) => {
      if (!h.current() || c.cqe.status !== 0) return
      const dw0 = c.cqe.dw0 >>> 0
      h.onEvent(dw0)
      keepAerPosted(h)
      void handleAen(dw0, h).catch(h.onError)
    },
    () => undefined,
  )
}

async function handleAen(dw0: number, h: AenHandlers): Promise<void> {
  const { type, info } = parseAenDw0(dw0)
  if (type !== AenType.NOTICE) return // only Notice events drive host actions here (wire reference 9.3)
  if (info === AenNotice.NS_CHANGED) await h.nsChanged()
  else if (info === AenNotice.ANA_CHANGE) h.anaChanged()
  else if (info === AenNotice.DISC_CHANGE) h.discoveryChanged()
}
