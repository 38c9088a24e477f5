/**
 * Built-in fault types that answer at a seam: complete with a status, delay, drop, stall, close
 * (FIN), reset (RST), C2HTermReq, refuse Connect, controller fatal, force reconnect.
 */
import { ConfigError } from '../../lib/errors.js'
import { FABRICS_OPCODE, FabricsType } from '../../lib/nvme/opcodes.js'
import { NvmeStatus, STATUS_CRD_SHIFT, STATUS_DNR, STATUS_MASK, STATUS_MORE, makeStatus, withDnr } from '../../lib/status.js'
import { compileDelay, type DelaySpec } from '../distribution.js'
import type { FaultSchemas, JsonObject } from '../proto.js'
import { validateMessage } from '../proto.js'
import type { FaultRegistry } from '../registry.js'
import type { FaultEvent, FaultTypeDefinition, Seam } from '../types.js'

interface StatusParams {
  status?: string
  sct?: number
  sc?: number
  dnr?: boolean
  more?: boolean
  crd?: number
  dw0?: number
}

/** Resolve StatusParams to a 15-bit status (Linux form) with DNR / More / CRD applied. */
export function resolveStatus(p: StatusParams, path: string): number {
  let base: number
  if (p.status !== undefined && p.status !== '') {
    if (p.sct !== undefined || p.sc !== undefined) throw new ConfigError(`${path}.status`, 'give either status or sct+sc, not both')
    const s = p.status.trim()
    const named = (NvmeStatus as Readonly<Record<string, number>>)[s.toUpperCase().replace(/-/g, '_')]
    if (named !== undefined) base = named
    else if (/^(0x[0-9a-f]+|\d+)$/i.test(s)) base = Number(s)
    else throw new ConfigError(`${path}.status`, `unknown status '${s}' (a name from lib/status.ts such as ANA_INACCESSIBLE, or a number like 0x302)`)
    if (base > STATUS_MASK) throw new ConfigError(`${path}.status`, `must fit in 15 bits (sct << 8 | sc), got 0x${base.toString(16)}`)
  } else if (p.sct !== undefined || p.sc !== undefined) {
    if (p.sct === undefined || p.sct > 7) throw new ConfigError(`${path}.sct`, 'must be in [0, 7] (and is required with sc)')
    if (p.sc === undefined || p.sc > 0xff) throw new ConfigError(`${path}.sc`, 'must be in [0, 255] (and is required with sct)')
    base = makeStatus({ sct: p.sct, sc: p.sc })
  } else {
    throw new ConfigError(`${path}.status`, 'is required (or sct and sc)')
  }
  if (p.crd !== undefined && p.crd > 3) throw new ConfigError(`${path}.crd`, `must be in [0, 3], got ${p.crd}`)
  let status = base
  if (p.dnr === true) status = withDnr(status)
  if (p.more === true) status |= STATUS_MORE
  if (p.crd !== undefined && p.crd > 0) status = (status & ~(3 << STATUS_CRD_SHIFT)) | (p.crd << STATUS_CRD_SHIFT)
  return status
}

const ALL_SEAMS: readonly Seam[] = ['command', 'completion', 'pdu-received', 'pdu-send', 'connection']

function isConnect(ev: FaultEvent): boolean {
  return ev.seam === 'command' && ev.cmd.opc === FABRICS_OPCODE && (ev.cmd.sqe.nsid & 0xff) === FabricsType.CONNECT
}

/** Connect refusal reasons -> status (and DNR as nvmet sets it) and the IPO/IATTR result. */
const REFUSE: Readonly<Record<string, { status: number; dnr: boolean; ipo?: number; iattr?: number }>> = {
  busy: { status: NvmeStatus.CONNECT_CTRL_BUSY, dnr: false },
  'invalid-host': { status: NvmeStatus.CONNECT_INVALID_HOST, dnr: true },
  // Connect data SUBNQN is at byte 256 (NVMe over Fabrics 1.1 Figure 20); IATTR 1 = in the data.
  'invalid-subsys': { status: NvmeStatus.CONNECT_INVALID_PARAM, dnr: true, iattr: 1, ipo: 256 },
  'invalid-param': { status: NvmeStatus.CONNECT_INVALID_PARAM, dnr: true },
  'restart-discovery': { status: NvmeStatus.CONNECT_RESTART_DISC, dnr: true },
}

export function registerHookFaults(registry: FaultRegistry, schemas: FaultSchemas): void {
  const params = (name: string) => (json: JsonObject, path: string): JsonObject => validateMessage(schemas.type(name), json, path)

  const status: FaultTypeDefinition<{ status: number; dw0?: number }> = {
    seams: ['command', 'completion'],
    description: 'complete the command with a status (command), or replace its completion status (completion)',
    parseConfig: (json, path) => {
      const p = params('StatusParams')(json, path) as StatusParams
      const out: { status: number; dw0?: number } = { status: resolveStatus(p, path) }
      if (p.dw0 !== undefined) out.dw0 = p.dw0
      return out
    },
    create: (c) => ({ decide: () => ({ action: 'complete', status: c.status, ...(c.dw0 !== undefined ? { dw0: c.dw0 } : {}) }) }),
  }
  registry.register('status', status)

  const delayConfig = (json: JsonObject, path: string) => {
    const p = params('DelayParams')(json, path) as { delay?: DelaySpec }
    if (p.delay === undefined) throw new ConfigError(`${path}.delay`, 'is required ({ ms } | { minMs, maxMs } | { p50Ms, p99Ms })')
    return compileDelay(p.delay, `${path}.delay`)
  }
  registry.register('delay', {
    seams: ALL_SEAMS,
    description: 'delay a command, a completion, a PDU or a new connection (fixed, uniform, or p50/p99)',
    parseConfig: delayConfig,
    create: (sample, ctx) => ({ decide: () => ({ action: 'delay', ms: sample(ctx.random) }) }),
  })
  registry.register('stall', {
    seams: ['command', 'pdu-received'],
    description: 'stop processing the queue for a while',
    parseConfig: delayConfig,
    create: (sample, ctx) => ({ decide: () => ({ action: 'stall', ms: sample(ctx.random) }) }),
  })

  const noParams = (json: JsonObject, path: string): null => {
    const k = Object.keys(json)[0]
    if (k !== undefined) throw new ConfigError(`${path}.${k}`, 'this fault type takes no parameters')
    return null
  }
  registry.register('drop', {
    seams: ['command', 'pdu-received', 'pdu-send'],
    description: 'drop a command (never completed: host timeouts and Abort) or a PDU',
    parseConfig: noParams,
    create: () => ({ decide: () => ({ action: 'drop' }) }),
  })
  registry.register('close', {
    seams: ALL_SEAMS,
    description: 'close the connection (FIN) at the chosen point',
    parseConfig: noParams,
    create: () => ({ decide: () => ({ action: 'close' }) }),
  })
  registry.register('reset', {
    seams: ALL_SEAMS,
    description: 'reset the connection (RST) at the chosen point',
    parseConfig: noParams,
    create: () => ({ decide: () => ({ action: 'reset' }) }),
  })
  registry.register('term-req', {
    seams: ['pdu-received', 'pdu-send', 'command', 'completion'],
    description: 'send a C2HTermReq with a chosen FES (and FEI), then close',
    parseConfig: (json, path) => {
      const p = params('TermReqParams')(json, path) as { fes?: number; fei?: number }
      if (p.fes === undefined || p.fes > 0xffff) throw new ConfigError(`${path}.fes`, 'is required: a Fatal Error Status in [0, 65535] (1..6 are defined, NVMe/TCP 1.0 Figure 27)')
      return { fes: p.fes, fei: p.fei ?? 0 }
    },
    create: (c) => ({ decide: () => ({ action: 'termReq', fes: c.fes, fei: c.fei }) }),
  })

  registry.register('refuse-connect', {
    seams: ['command'],
    description: 'answer Connect with Controller Busy, Invalid Host, Invalid Parameters or Restart Discovery',
    parseConfig: (json, path) => {
      const p = params('RefuseConnectParams')(json, path) as { reason?: string; iattr?: number; ipo?: number }
      const reason = p.reason ?? 'busy'
      const r = REFUSE[reason]
      if (r === undefined) throw new ConfigError(`${path}.reason`, `must be one of ${Object.keys(REFUSE).join(', ')}, got '${reason}'`)
      const iattr = p.iattr ?? r.iattr ?? 0
      if (iattr > 1) throw new ConfigError(`${path}.iattr`, 'must be 0 (SQE) or 1 (Connect data)')
      const ipo = p.ipo ?? r.ipo ?? 0
      if (ipo > 0xffff) throw new ConfigError(`${path}.ipo`, 'must be in [0, 65535]')
      const withResult = r.status === NvmeStatus.CONNECT_INVALID_PARAM
      // Connect response DW0 for Invalid Parameters: IPO in bits 15:0, IATTR in bit 16 (as nvmet's
      // IPO_IATTR_CONNECT_DATA/SQE macros build it and the Linux host decodes it).
      return { status: r.status | (r.dnr ? STATUS_DNR : 0), dw0: withResult ? ((iattr << 16) | ipo) >>> 0 : 0 }
    },
    create: (c) => ({
      decide: (ev) => (isConnect(ev) ? { action: 'complete', status: c.status, dw0: c.dw0 } : undefined),
    }),
  })

  registry.register('controller-fatal', {
    seams: ['command', 'completion'],
    description: "set the matching command's controller fatal (CSTS.CFS), as nvmet debugfs 'fatal'",
    parseConfig: noParams,
    create: (_c, ctx) => ({
      decide: (ev) => {
        if (ev.ctx.cntlid !== undefined) {
          void ctx.ops.controllerFatal(ev.ctx.cntlid).catch((err: unknown) => ctx.trace({ kind: 'fault', action: 'error', detail: String(err) }))
        }
        return undefined
      },
    }),
  })

  registry.register('force-reconnect', {
    seams: ['command', 'completion', 'connection'],
    description: "delete the matching command's controller so that the host reconnects",
    parseConfig: noParams,
    create: (_c, ctx) => ({
      decide: (ev) => {
        const filter = ev.ctx.cntlid !== undefined ? { cntlid: ev.ctx.cntlid } : { portId: ev.ctx.portId }
        void ctx.ops.deleteControllers(filter).catch((err: unknown) => ctx.trace({ kind: 'fault', action: 'error', detail: String(err) }))
        return undefined
      },
    }),
  })
}
