/**
 * Admin-queue helpers of a host controller, over whatever submits an admin command: Property
 * Get/Set, Get Log Page in pieces, enabling the controller (CC.EN, wait for CSTS.RDY; wire reference
 * 9.1) and the normal shutdown (CC.SHN, wait for CSTS.SHST; 9.4).
 */
import type { Clock } from '../lib/clock.js'
import { ConnectionError, TimeoutError } from '../lib/errors.js'
import { CAP_CSS_IOCS, CC_CSS_ALL, CC_CSS_NVM, CC_SHN_NORMAL, CSTS_SHST_COMPLETE, decodeCap, decodeCsts, encodeCc, makePropertyGetSqe, makePropertySetSqe, Property } from '../lib/nvme/fabrics.js'
import { makeGetLogPageSqe } from '../lib/nvme/commands.js'
import type { Sqe } from '../lib/nvme/sqe.js'
import type { QueueCompletion } from './transport/queue-pair.js'

/** An admin command that must succeed (a non-zero status is thrown as NvmeStatusError). */
export type AdminCommand = (sqe: Sqe, extra?: { data?: Buffer; readLength?: number }) => Promise<QueueCompletion>

export async function propGet(cmd: AdminCommand, ofst: number, size: 4 | 8): Promise<bigint> {
  const c = await cmd(makePropertyGetSqe({ cid: 0, size, ofst }))
  return BigInt(c.cqe.dw0 >>> 0) | (size === 8 ? BigInt(c.cqe.dw1 >>> 0) << 32n : 0n)
}

export async function propSet(cmd: AdminCommand, ofst: number, size: 4 | 8, value: bigint): Promise<void> {
  await cmd(makePropertySetSqe({ cid: 0, size, ofst, value }))
}

export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms))
}

/** Read a log page in pieces of at most `chunk` bytes. */
export async function getLogPage(cmd: AdminCommand, lid: number, nsid: number, length: number, offset = 0, opts: { lsp?: number; rae?: boolean; chunk?: number } = {}): Promise<Buffer> {
  const chunk = opts.chunk ?? 65536
  const out = Buffer.alloc(length)
  let off = 0
  while (off < length) {
    const len = Math.min(chunk, length - off)
    const c = await cmd(makeGetLogPageSqe({ cid: 0, lid, nsid, length: len, offset: offset + off, ...(opts.lsp !== undefined ? { lsp: opts.lsp } : {}), ...(opts.rae !== undefined ? { rae: opts.rae } : {}) }), { readLength: len })
    ;(c.data as Buffer).copy(out, off)
    off += len
  }
  return out
}

/** Read CAP, write CC with EN = 0 then 1, and wait for CSTS.RDY within CAP.TO (wire reference 9.1). Returns CAP. */
export async function enableController(cmd: AdminCommand, clock: Clock, name: string): Promise<ReturnType<typeof decodeCap>> {
  const cap = decodeCap(await propGet(cmd, Property.CAP, 8))
  const css = (cap.css & CAP_CSS_IOCS) !== 0 ? CC_CSS_ALL : CC_CSS_NVM
  const cc = { css, iosqes: 6, iocqes: 4, mps: 0, ams: 0 }
  await propSet(cmd, Property.CC, 4, BigInt(encodeCc({ ...cc, en: false })))
  await propSet(cmd, Property.CC, 4, BigInt(encodeCc({ ...cc, en: true })))
  const readyBy = clock.now() + Math.max(1, cap.to) * 500
  for (;;) {
    const csts = decodeCsts(Number(await propGet(cmd, Property.CSTS, 4)))
    if (csts.rdy) break
    if (csts.cfs) throw new ConnectionError(`${name}: controller fatal status while enabling`)
    if (clock.now() > readyBy) throw new TimeoutError(`${name}: CSTS.RDY not set within CAP.TO`)
    await sleep(clock, 2)
  }
  return cap
}

/** Property Set CC.SHN = normal, then wait (bounded) for CSTS.SHST = complete (wire reference 9.4). */
export async function shutdownController(cmd: AdminCommand, clock: Clock, timeoutMs: number): Promise<void> {
  const cc = Number(await propGet(cmd, Property.CC, 4))
  await propSet(cmd, Property.CC, 4, BigInt(((cc & ~(0x3 << 14)) | (CC_SHN_NORMAL << 14)) >>> 0))
  const by = clock.now() + timeoutMs
  for (;;) {
    const csts = decodeCsts(Number(await propGet(cmd, Property.CSTS, 4)))
    if (csts.shst === CSTS_SHST_COMPLETE || clock.now() > by) break
    await sleep(clock, 2)
  }
}
