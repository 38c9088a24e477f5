/**
 * Compile a {@link MatchSpec} into a predicate over fault events. Every set field must match (AND),
 * a list matches any of its values (OR). Command fields (opcodes, kinds, commands, nsids, lba) only
 * match events that carry a command: the command and completion seams, and a received CapsuleCmd
 * PDU (whose SQE gives opc and nsid).
 */
import { ConfigError } from '../lib/errors.js'
import { AdminOpcode, FABRICS_OPCODE, FabricsType, IoOpcode } from '../lib/nvme/opcodes.js'
import { PduType } from '../lib/pdu/common.js'
import type { CommandKind } from '../target/core/hooks.js'
import type { FaultEvent, MatchSpec } from './types.js'

/** PDU type names used in `match.pduTypes` (spec 1.2 names, kebab-case). */
export const PDU_TYPE_BY_NAME: Readonly<Record<string, number>> = {
  'ic-req': PduType.IC_REQ,
  'ic-resp': PduType.IC_RESP,
  'h2c-term-req': PduType.H2C_TERM_REQ,
  'c2h-term-req': PduType.C2H_TERM_REQ,
  'capsule-cmd': PduType.CAPSULE_CMD,
  'capsule-resp': PduType.CAPSULE_RESP,
  'h2c-data': PduType.H2C_DATA,
  'c2h-data': PduType.C2H_DATA,
  r2t: PduType.R2T,
}

interface CommandName {
  kind: CommandKind
  opc: number
  fctype?: number
}

/** Command names used in `match.commands`. */
export const COMMAND_BY_NAME: Readonly<Record<string, CommandName>> = {
  read: { kind: 'io', opc: IoOpcode.READ },
  write: { kind: 'io', opc: IoOpcode.WRITE },
  flush: { kind: 'io', opc: IoOpcode.FLUSH },
  'write-zeroes': { kind: 'io', opc: IoOpcode.WRITE_ZEROES },
  dsm: { kind: 'io', opc: IoOpcode.DATASET_MANAGEMENT },
  compare: { kind: 'io', opc: IoOpcode.COMPARE },
  identify: { kind: 'admin', opc: AdminOpcode.IDENTIFY },
  'get-log-page': { kind: 'admin', opc: AdminOpcode.GET_LOG_PAGE },
  'set-features': { kind: 'admin', opc: AdminOpcode.SET_FEATURES },
  'get-features': { kind: 'admin', opc: AdminOpcode.GET_FEATURES },
  'keep-alive': { kind: 'admin', opc: AdminOpcode.KEEP_ALIVE },
  aer: { kind: 'admin', opc: AdminOpcode.ASYNC_EVENT_REQUEST },
  abort: { kind: 'admin', opc: AdminOpcode.ABORT },
  connect: { kind: 'fabrics', opc: FABRICS_OPCODE, fctype: FabricsType.CONNECT },
  'property-get': { kind: 'fabrics', opc: FABRICS_OPCODE, fctype: FabricsType.PROPERTY_GET },
  'property-set': { kind: 'fabrics', opc: FABRICS_OPCODE, fctype: FabricsType.PROPERTY_SET },
  disconnect: { kind: 'fabrics', opc: FABRICS_OPCODE, fctype: FabricsType.DISCONNECT },
}

const KINDS = ['admin', 'io', 'fabrics'] as const

/** Validate the names in a match spec (the proto validator checked the types). */
export function checkMatchSpec(m: MatchSpec, path: string): MatchSpec {
  m.kinds?.forEach((k, i) => {
    if (!(KINDS as readonly string[]).includes(k)) throw new ConfigError(`${path}.kinds[${i}]`, `must be one of ${KINDS.join(', ')}, got '${k}'`)
  })
  m.commands?.forEach((c, i) => {
    if (COMMAND_BY_NAME[c] === undefined) throw new ConfigError(`${path}.commands[${i}]`, `unknown command '${c}' (known: ${Object.keys(COMMAND_BY_NAME).join(', ')})`)
  })
  m.pduTypes?.forEach((p, i) => {
    if (PDU_TYPE_BY_NAME[p] === undefined) throw new ConfigError(`${path}.pduTypes[${i}]`, `unknown PDU type '${p}' (known: ${Object.keys(PDU_TYPE_BY_NAME).join(', ')})`)
  })
  if (m.direction !== undefined && m.direction !== 'rx' && m.direction !== 'tx') {
    throw new ConfigError(`${path}.direction`, `must be rx or tx, got '${String(m.direction)}'`)
  }
  if (m.lba !== undefined && m.lba.end < m.lba.start) throw new ConfigError(`${path}.lba.end`, `must be >= lba.start (${m.lba.start})`)
  m.opcodes?.forEach((o, i) => {
    if (o > 0xff) throw new ConfigError(`${path}.opcodes[${i}]`, `must be an opcode in [0, 255], got ${o}`)
  })
  return m
}

interface CommandView {
  kind?: CommandKind
  opc: number
  fctype: number
  nsid: number
  slba?: bigint
  nlb?: number
}

function commandOf(ev: FaultEvent): CommandView | undefined {
  if (ev.seam === 'command' || ev.seam === 'completion') {
    const c = ev.cmd
    const v: CommandView = { kind: c.kind, opc: c.opc, fctype: c.sqe.nsid & 0xff, nsid: c.kind === 'fabrics' ? 0 : c.nsid }
    if (c.slba !== undefined) v.slba = c.slba
    if (c.nlb !== undefined) v.nlb = c.nlb
    return v
  }
  if (ev.seam === 'pdu-received' && ev.rx.pdu.type === PduType.CAPSULE_CMD) {
    const sqe = ev.rx.pdu.sqe
    if (sqe.length < 8) return undefined
    const opc = sqe[0]!
    const v: CommandView = { opc, fctype: sqe[4]!, nsid: opc === FABRICS_OPCODE ? 0 : sqe.readUInt32LE(4) }
    if (opc === FABRICS_OPCODE) v.kind = 'fabrics'
    else if (ev.ctx.qid !== undefined) v.kind = ev.ctx.qid === 0 ? 'admin' : 'io'
    return v
  }
  return undefined
}

/**
 * The queue id: from the context once the queue is connected; for the Connect command itself,
 * from its SQE (QID in CDW10 bits 31:16, NVMe over Fabrics 1.1 Figure 19), since the context
 * learns it only after Connect.
 */
function qidOf(ev: FaultEvent): number | undefined {
  if (ev.ctx.qid !== undefined) return ev.ctx.qid
  if (ev.seam === 'command' || ev.seam === 'completion') {
    const s = ev.cmd.sqe
    if (s.opc === FABRICS_OPCODE && (s.nsid & 0xff) === FabricsType.CONNECT) return s.cdw10 >>> 16
  }
  return undefined
}

function pduTypeOf(ev: FaultEvent): number | undefined {
  if (ev.seam === 'pdu-received') return ev.rx.pdu.type
  if (ev.seam === 'pdu-send') return ev.tx.pdu.type
  return undefined
}

function directionOf(ev: FaultEvent): 'rx' | 'tx' | undefined {
  if (ev.seam === 'pdu-received' || ev.seam === 'command') return 'rx'
  if (ev.seam === 'pdu-send' || ev.seam === 'completion') return 'tx'
  return undefined
}

export type Matcher = (ev: FaultEvent) => boolean

export function compileMatcher(m: MatchSpec | undefined): Matcher {
  if (m === undefined) return () => true
  const tests: Matcher[] = []
  const has = <T>(a: T[] | undefined): a is T[] => a !== undefined && a.length > 0
  if (has(m.ports)) tests.push((ev) => m.ports!.includes(ev.ctx.portId))
  if (has(m.cntlids)) tests.push((ev) => ev.ctx.cntlid !== undefined && m.cntlids!.includes(ev.ctx.cntlid))
  if (has(m.hostnqns)) tests.push((ev) => ev.ctx.hostnqn !== undefined && m.hostnqns!.includes(ev.ctx.hostnqn))
  if (has(m.subnqns)) tests.push((ev) => ev.ctx.subnqn !== undefined && m.subnqns!.includes(ev.ctx.subnqn))
  if (has(m.qids)) tests.push((ev) => {
    const qid = qidOf(ev)
    return qid !== undefined && m.qids!.includes(qid)
  })
  if (m.direction !== undefined) tests.push((ev) => directionOf(ev) === m.direction)
  if (has(m.pduTypes)) {
    const types = m.pduTypes.map((n) => PDU_TYPE_BY_NAME[n])
    tests.push((ev) => {
      const t = pduTypeOf(ev)
      return t !== undefined && types.includes(t)
    })
  }
  if (has(m.kinds)) tests.push((ev) => {
    const c = commandOf(ev)
    return c?.kind !== undefined && m.kinds!.includes(c.kind)
  })
  if (has(m.opcodes)) tests.push((ev) => {
    const c = commandOf(ev)
    return c !== undefined && m.opcodes!.includes(c.opc)
  })
  if (has(m.commands)) {
    const names = m.commands.map((n) => COMMAND_BY_NAME[n]!)
    tests.push((ev) => {
      const c = commandOf(ev)
      if (c === undefined) return false
      return names.some((n) => n.opc === c.opc && (c.kind === undefined || n.kind === c.kind) && (n.fctype === undefined || n.fctype === c.fctype))
    })
  }
  if (has(m.nsids)) tests.push((ev) => {
    const c = commandOf(ev)
    return c !== undefined && m.nsids!.includes(c.nsid)
  })
  if (m.lba !== undefined) {
    const start = BigInt(m.lba.start)
    const end = BigInt(m.lba.end)
    tests.push((ev) => {
      const c = commandOf(ev)
      if (c?.slba === undefined) return false
      // HookCommand.nlb is the wire value: 0's based (NVM Command Set 1.0 Figure 19).
      const last = c.slba + BigInt(c.nlb ?? 0)
      return c.slba <= end && last >= start
    })
  }
  return (ev) => tests.every((test) => test(ev))
}
