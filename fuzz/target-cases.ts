/**
 * Inputs for the target-side fuzzer. A case is a connection prefix brought up correctly (nothing,
 * ICReq, ICReq + admin Connect, an enabled admin queue, or an I/O queue) and then one input: a valid
 * PDU with one thing mutated (see mutate.ts), several valid PDUs split at odd places, or a mutated
 * recorded session. Each case is built from its own seeded PRNG, so `--seed S` replays it.
 */
import type { Random } from '../lib/clock.js'
import { PduType } from '../lib/pdu/index.js'
import { makeSqe, rwDwords, type Sqe } from '../lib/nvme/sqe.js'
import { encodeConnectData, makeConnectSqe, makePropertyGetSqe, makePropertySetSqe, CONNECT_DYNAMIC_CNTLID, Property } from '../lib/nvme/fabrics.js'
import { makeAbortSqe, makeGetLogPageSqe, makeIdentifySqe, makeKeepAliveSqe } from '../lib/nvme/commands.js'
import { AdminOpcode, Cns, FeatureId, IoOpcode, LogPageId } from '../lib/nvme/opcodes.js'
import { mutateCommand, mutateDigest, mutateField, mutateLength, mutateStream, mutateType, pick, splitAtRandom, type FuzzClass } from './mutate.js'
import type { WireClient } from './wire-client.js'

export const FUZZ_HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000f022'
const HOSTID = Buffer.from('000000000000400080000000000000f0', 'hex')

export type Prefix = 'none' | 'icreq' | 'admin' | 'io'

export interface TargetCase {
  cls: FuzzClass
  prefix: Prefix
  digests: { hdgst: boolean; ddgst: boolean }
  /** Build the input on a connection whose prefix is up (may exchange valid PDUs first, e.g. to get an R2T). */
  input(c: WireClient): Promise<Buffer[]>
}

function connectPdu(c: WireClient, subnqn: string, qid: number, cntlid: number): Buffer {
  const data = encodeConnectData({ hostid: HOSTID, cntlid, subnqn, hostnqn: FUZZ_HOSTNQN })
  return c.capsule(makeConnectSqe({ cid: 1, qid, sqsize: 31, kato: 0 }), data)
}

/**
 * Bring a fresh connection to `prefix` ('io' needs the CNTLID of an enabled admin queue). Returns
 * the CNTLID (0 before a Connect), or undefined when the target refused a valid step.
 */
export async function bringUp(c: WireClient, prefix: Prefix, subnqn: string, digests: { hdgst: boolean; ddgst: boolean }, cntlid = 0): Promise<number | undefined> {
  if (prefix === 'none') return 0
  if (!(await c.icReq(digests))) return undefined
  if (prefix === 'icreq') return 0
  const qid = prefix === 'io' ? 1 : 0
  const data = encodeConnectData({ hostid: HOSTID, cntlid: qid === 0 ? CONNECT_DYNAMIC_CNTLID : cntlid, subnqn, hostnqn: FUZZ_HOSTNQN })
  const r = await c.command(makeConnectSqe({ cid: 1, qid, sqsize: 31, kato: 0 }), { data })
  if (r === undefined || r.status !== 0) return undefined
  if (prefix === 'admin') {
    const en = await c.command(makePropertySetSqe({ cid: 2, ofst: Property.CC, size: 4, value: 0x00460001n }))
    if (en === undefined || en.status !== 0) return undefined
  }
  return r.dw0 & 0xffff
}

const ADMIN_TEMPLATES: ((cid: number) => { sqe: Sqe; data?: Buffer; readLength?: number })[] = [
  (cid) => ({ sqe: makeIdentifySqe({ cid, cns: Cns.CONTROLLER }), readLength: 4096 }),
  (cid) => ({ sqe: makeIdentifySqe({ cid, cns: Cns.NAMESPACE, nsid: 1 }), readLength: 4096 }),
  (cid) => ({ sqe: makeIdentifySqe({ cid, cns: Cns.ACTIVE_NS_LIST }), readLength: 4096 }),
  (cid) => ({ sqe: makeGetLogPageSqe({ cid, lid: LogPageId.ANA, nsid: 0xffffffff, length: 4096, offset: 0 }), readLength: 4096 }),
  (cid) => ({ sqe: makeSqe({ opc: AdminOpcode.GET_FEATURES, cid, cdw10: FeatureId.NUM_QUEUES }) }),
  (cid) => ({ sqe: makeSqe({ opc: AdminOpcode.SET_FEATURES, cid, cdw10: FeatureId.KATO, cdw11: 10_000 }) }),
  (cid) => ({ sqe: makeKeepAliveSqe({ cid }) }),
  (cid) => ({ sqe: makeAbortSqe({ cid, sqid: 0, abortCid: 7 }) }),
  (cid) => ({ sqe: makePropertyGetSqe({ cid, ofst: Property.CSTS, size: 4 }) }),
  (cid) => ({ sqe: makeSqe({ opc: AdminOpcode.SET_FEATURES, cid, cdw10: FeatureId.ASYNC_EVENT, cdw11: 0x900 }), data: Buffer.alloc(0) }),
]

const IO_TEMPLATES: ((cid: number) => { sqe: Sqe; data?: Buffer; readLength?: number })[] = [
  (cid) => ({ sqe: makeSqe({ opc: IoOpcode.READ, cid, nsid: 1, ...rwDwords({ slba: 8n, nlb: 7 }) }), readLength: 4096 }),
  (cid) => ({ sqe: makeSqe({ opc: IoOpcode.WRITE, cid, nsid: 1, ...rwDwords({ slba: 16n, nlb: 0 }) }), data: Buffer.alloc(512, 0xa5) }),
  (cid) => ({ sqe: makeSqe({ opc: IoOpcode.FLUSH, cid, nsid: 1 }) }),
  (cid) => ({ sqe: makeSqe({ opc: IoOpcode.WRITE_ZEROES, cid, nsid: 2, ...rwDwords({ slba: 0n, nlb: 3 }) }) }),
  (cid) => ({ sqe: makeSqe({ opc: IoOpcode.DATASET_MANAGEMENT, cid, nsid: 1, cdw11: 4 }), data: Buffer.from('00000000080000000000000000000000', 'hex') }),
]

/** A random command for `prefix` (admin or I/O) as a CapsuleCmd PDU. */
function commandPdu(r: Random, c: WireClient, prefix: Prefix): Buffer {
  const t = pick(r, prefix === 'io' ? IO_TEMPLATES : ADMIN_TEMPLATES)(10 + r.int(20))
  return c.capsule(t.sqe, t.data, t.readLength)
}

/** A write that needs an R2T, answered with an H2CData PDU (the one a case mutates). */
async function h2cDataPdu(c: WireClient): Promise<Buffer | undefined> {
  const from = c.pdus.length
  const cid = 40
  c.socket.write(c.capsule(makeSqe({ opc: IoOpcode.WRITE, cid, nsid: 1, ...rwDwords({ slba: 32n, nlb: 63 }) }), undefined, 32768))
  const r2t = await c.waitFor((p) => p.type === PduType.R2T, 2000, from)
  if (r2t === undefined) return undefined
  const ttag = r2t.raw.readUInt16LE(10)
  const r2tl = r2t.raw.readUInt32LE(16)
  return c.encode({ type: PduType.H2C_DATA, cccid: cid, ttag, datao: 0, last: true, data: Buffer.alloc(Math.min(r2tl, 32768), 0x5a) })
}

/** The valid PDU a mutation starts from, for a connection in state `prefix`. */
async function basePdu(r: Random, c: WireClient, prefix: Prefix, subnqn: string): Promise<Buffer | undefined> {
  switch (prefix) {
    case 'none':
      return c.encode({ type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: false, ddgst: false, maxr2t: 0 })
    case 'icreq':
      return connectPdu(c, subnqn, 0, CONNECT_DYNAMIC_CNTLID)
    case 'admin':
      return commandPdu(r, c, prefix)
    case 'io':
      return r.int(3) === 0 ? h2cDataPdu(c) : commandPdu(r, c, prefix)
  }
}

export function makeTargetCase(r: Random, subnqn: string, sessions: readonly Buffer[]): TargetCase {
  const classes: FuzzClass[] = sessions.length > 0 ? ['field', 'length', 'type', 'digest', 'command', 'split', 'session'] : ['field', 'length', 'type', 'digest', 'command', 'split']
  const cls = pick(r, classes)
  if (cls === 'session') {
    const s = pick(r, sessions)
    return { cls, prefix: 'none', digests: { hdgst: false, ddgst: false }, input: async () => splitAtRandom(r, mutateStream(r, s), 4) }
  }
  const prefix: Prefix = cls === 'command' || cls === 'split' ? pick(r, ['admin', 'io'] as const) : pick(r, ['none', 'icreq', 'admin', 'io', 'io'] as const)
  const digests = cls === 'digest' ? pick(r, [{ hdgst: true, ddgst: false }, { hdgst: false, ddgst: true }, { hdgst: true, ddgst: true }]) : { hdgst: r.int(4) === 0, ddgst: r.int(4) === 0 }
  return {
    cls,
    prefix: cls === 'digest' && prefix === 'none' ? 'icreq' : prefix,
    digests,
    input: async (c) => {
      const p = cls === 'digest' && prefix === 'none' ? 'icreq' : prefix
      if (cls === 'split') {
        // Several valid commands back to back, cut anywhere: the target must reassemble them.
        const n = 2 + r.int(3)
        const all = Buffer.concat(Array.from({ length: n }, () => commandPdu(r, c, p)))
        return splitAtRandom(r, all, 12)
      }
      const base = await basePdu(r, c, p, subnqn)
      if (base === undefined) return []
      let bad: Buffer
      switch (cls) {
        case 'field':
          bad = mutateField(r, base)
          break
        case 'length':
          bad = mutateLength(r, base)
          break
        case 'type':
          bad = mutateType(r, base)
          break
        case 'digest':
          bad = mutateDigest(r, base)
          break
        default:
          bad = base[0] === PduType.CAPSULE_CMD ? mutateCommand(r, base, 64) : mutateField(r, base)
      }
      return r.int(3) === 0 ? splitAtRandom(r, bad, 6) : [bad]
    },
  }
}
