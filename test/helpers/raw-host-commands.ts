/**
 * Test helper: the commands a {@link RawHost} sends by name — Fabrics Connect (admin and I/O),
 * Property Get/Set and CC.EN with CSTS polling, Identify, Get Log Page, admin commands, AER, Read and
 * Write — each one `command()` of the raw host's transport (raw-host.ts). A base class so RawHost
 * keeps one surface for tests while its framing and CID tracking stay in raw-host.ts.
 */
import { makeSqe, rwDwords, type Sqe } from '../../lib/nvme/sqe.js'
import { encodeConnectData, makeConnectSqe, makePropertyGetSqe, makePropertySetSqe, Property } from '../../lib/nvme/fabrics.js'
import { makeGetLogPageSqe, makeIdentifySqe } from '../../lib/nvme/commands.js'
import { AdminOpcode, IoOpcode } from '../../lib/nvme/opcodes.js'
import { orUndefined, POSITIVE_WAIT_MS } from './bounded-waits.js'
import type { Completion, RawHost } from './raw-host.js'

export const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:6a2c0a5e-3c0f-4b8e-9a4d-1f2e3d4c5b6a'
export const HOSTID = Buffer.from('6a2c0a5e3c0f4b8e9a4d1f2e3d4c5b6a', 'hex')

export abstract class RawHostCommands {
  /** See {@link RawHost.command}. */
  abstract command(sqe: Sqe, o?: { data?: Buffer; inCapsule?: boolean; readLength?: number; timeoutMs?: number }): Promise<Completion>
  abstract nextCid(): number

  connectCmd(o: { qid: number; subnqn: string; hostnqn?: string; cntlid?: number; sqsize?: number; kato?: number; recfmt?: number; cattr?: number }): Promise<Completion> {
    const sqe = makeConnectSqe({ cid: this.nextCid(), qid: o.qid, sqsize: o.sqsize ?? (o.qid === 0 ? 31 : 127), kato: o.kato ?? 0, recfmt: o.recfmt ?? 0, cattr: o.cattr ?? 0 })
    const data = encodeConnectData({ hostid: HOSTID, cntlid: o.cntlid ?? 0xffff, subnqn: o.subnqn, hostnqn: o.hostnqn ?? HOSTNQN })
    return this.command(sqe, { data, inCapsule: true })
  }

  async propertyGet(ofst: number, size: 4 | 8 = 4): Promise<bigint> {
    const c = await this.command(makePropertyGetSqe({ cid: this.nextCid(), ofst, size }))
    if (c.cqe.status !== 0) throw new Error(`Property Get 0x${ofst.toString(16)} status 0x${c.cqe.status.toString(16)}`)
    return BigInt(c.cqe.dw0 >>> 0) | (BigInt(c.cqe.dw1 >>> 0) << 32n)
  }
  propertySet(ofst: number, value: number): Promise<Completion> {
    return this.command(makePropertySetSqe({ cid: this.nextCid(), ofst, size: 4, value: BigInt(value >>> 0) }))
  }

  /** CC.EN = 1 (IOSQES 6, IOCQES 4) and poll CSTS.RDY, as the Linux host does. */
  async enable(): Promise<void> {
    const r = await this.propertySet(Property.CC, 0x00460001)
    if (r.cqe.status !== 0) throw new Error(`CC.EN failed: status 0x${r.cqe.status.toString(16)}`)
    for (let i = 0; i < 200; i++) {
      const csts = await this.propertyGet(Property.CSTS)
      if ((csts & 1n) === 1n) return
      await new Promise((r) => setTimeout(r, 5))
    }
    throw new Error('CSTS.RDY never set')
  }

  /** Admin queue (ICReq already done): Connect, enable unless `enable: false`; returns the CNTLID. */
  async connectAdmin(o: { subnqn: string; hostnqn?: string; kato?: number; enable?: boolean }): Promise<number> {
    const c = await this.connectCmd({ qid: 0, subnqn: o.subnqn, hostnqn: o.hostnqn ?? HOSTNQN, kato: o.kato ?? 0 })
    if (c.cqe.status !== 0) throw new Error(`admin Connect failed: status 0x${c.cqe.status.toString(16)}`)
    if (o.enable !== false) await this.enable()
    return c.cqe.dw0 & 0xffff
  }

  /** I/O queue `qid` (default 1) of controller `cntlid` (ICReq already done); throws unless it succeeds. */
  async connectIo(o: { subnqn: string; cntlid: number; qid?: number; sqsize?: number; hostnqn?: string }): Promise<Completion> {
    const c = await this.connectCmd({ qid: o.qid ?? 1, subnqn: o.subnqn, cntlid: o.cntlid, ...(o.sqsize !== undefined ? { sqsize: o.sqsize } : {}), ...(o.hostnqn !== undefined ? { hostnqn: o.hostnqn } : {}) })
    if (c.cqe.status !== 0) throw new Error(`I/O Connect failed: status 0x${c.cqe.status.toString(16)}`)
    return c
  }

  identify(cns: number, nsid = 0, extra: { csi?: number; length?: number } = {}): Promise<Completion> {
    const sqe = makeIdentifySqe({ cid: this.nextCid(), cns, nsid, csi: extra.csi ?? 0 })
    return this.command(sqe, { readLength: extra.length ?? 4096 })
  }

  getLogPage(lid: number, length: number, o: { offset?: number; nsid?: number; lsp?: number; rae?: boolean } = {}): Promise<Completion> {
    const args: Parameters<typeof makeGetLogPageSqe>[0] = { cid: this.nextCid(), lid, length, nsid: o.nsid ?? 0xffffffff, offset: o.offset ?? 0 }
    if (o.lsp !== undefined) args.lsp = o.lsp
    if (o.rae !== undefined) args.rae = o.rae
    return this.command(makeGetLogPageSqe(args), { readLength: length })
  }

  admin(opc: number, f: Partial<Sqe> = {}, o: { data?: Buffer; inCapsule?: boolean; readLength?: number; timeoutMs?: number } = {}): Promise<Completion> {
    return this.command(makeSqe({ ...f, opc, cid: this.nextCid() }), o)
  }

  /** Send an Asynchronous Event Request; its completion when an event fires, undefined on timeout or close. */
  aer(timeoutMs = POSITIVE_WAIT_MS): Promise<Completion | undefined> {
    return orUndefined(this.command(makeSqe({ opc: AdminOpcode.ASYNC_EVENT_REQUEST, cid: this.nextCid() }), { timeoutMs }))
  }

  read(nsid: number, slba: bigint, blocks: number, blockSize = 512, timeoutMs?: number): Promise<Completion> {
    const sqe = makeSqe({ opc: IoOpcode.READ, cid: this.nextCid(), nsid, ...rwDwords({ slba, nlb: blocks - 1 }) })
    return this.command(sqe, { readLength: blocks * blockSize, ...(timeoutMs !== undefined ? { timeoutMs } : {}) })
  }
  write(nsid: number, slba: bigint, data: Buffer, o: { inCapsule?: boolean; blockSize?: number; timeoutMs?: number } = {}): Promise<Completion> {
    const blocks = data.length / (o.blockSize ?? 512)
    const sqe = makeSqe({ opc: IoOpcode.WRITE, cid: this.nextCid(), nsid, ...rwDwords({ slba, nlb: blocks - 1 }) })
    return this.command(sqe, { data, inCapsule: o.inCapsule === true, ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) })
  }
}
