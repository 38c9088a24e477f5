/**
 * Fabrics commands (opcode 7Fh; NVMe Base 2.0 section 6, wire spec 3): Connect with the exact
 * statuses of spec 3.2, Property Get/Set (3.3), Disconnect, and Authentication Send/Receive (3.4),
 * whose DH-HMAC-CHAP state machine is target/cmd/auth.ts; Connect reports AUTHREQ from it.
 */
import { dataDirection, FabricsType } from '../../lib/nvme/opcodes.js'
import {
  connectFields,
  CONNECT_CATTR_DISABLE_SQFLOW,
  CONNECT_DATA_CNTLID,
  CONNECT_DATA_HOSTNQN,
  CONNECT_DATA_SIZE,
  CONNECT_DATA_SUBNQN,
  CONNECT_DYNAMIC_CNTLID,
  CONNECT_SQE_QID,
  CONNECT_SQE_RECFMT,
  CONNECT_SQE_SQSIZE,
  decodeConnectData,
  makeConnectInvalidParamDw0,
  makeConnectResponseDw0,
  propertyGetFields,
  propertySetFields,
} from '../../lib/nvme/fabrics.js'
import { sqeFctype, SQE_CDW11, SQE_DPTR, SQE_FCTYPE } from '../../lib/nvme/sqe.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import type { Request } from '../core/request.js'
import type { TargetCore } from '../core/target-core.js'

const DNR = STATUS_DNR

export function parseFabrics(req: Request, core: TargetCore): number {
  const fctype = sqeFctype(req.sqe)
  req.kind = 'fabrics'
  req.nsid = 0
  req.direction = dataDirection(0x7f, fctype)
  const q = req.queue
  if (!q.connected) {
    // Only Connect is legal on a queue that is not connected yet (nvmet_parse_connect_cmd).
    if (fctype !== FabricsType.CONNECT) return req.fail(NvmeStatus.INVALID_OPCODE | DNR, SQE_FCTYPE)
    if (req.dataLength !== CONNECT_DATA_SIZE) return req.fail(NvmeStatus.SGL_INVALID_DATA | DNR, SQE_DPTR)
    req.execute = (r) => executeConnect(r, core)
    return 0
  }
  switch (fctype) {
    case FabricsType.CONNECT:
      // The queue is already bound (spec 3.2: "QID already connected").
      return req.fail(NvmeStatus.CMD_SEQ_ERROR | DNR, SQE_FCTYPE)
    case FabricsType.PROPERTY_GET:
    case FabricsType.PROPERTY_SET:
      if (q.qid !== 0) return req.fail(NvmeStatus.INVALID_OPCODE | DNR, SQE_FCTYPE)
      req.execute = fctype === FabricsType.PROPERTY_GET ? executePropertyGet : executePropertySet
      return 0
    case FabricsType.AUTH_SEND:
      return core.auth.parse(req, 'send')
    case FabricsType.AUTH_RECEIVE:
      return core.auth.parse(req, 'receive')
    case FabricsType.DISCONNECT:
      if (q.qid === 0) return req.fail(NvmeStatus.INVALID_OPCODE | DNR, SQE_FCTYPE)
      req.execute = (r) => {
        // Complete first, then close the queue once the response is out.
        setImmediate(() => r.queue.transport.close('Disconnect command'))
        return 0
      }
      return 0
    default:
      return req.fail(NvmeStatus.INVALID_OPCODE | DNR, SQE_FCTYPE)
  }
}

function executePropertyGet(req: Request): number {
  const ctrl = req.queue.controller!
  const f = propertyGetFields(req.sqe)
  const r = ctrl.propertyGet(f.ofst, f.size)
  if (r.status !== 0) return req.fail(r.status, SQE_CDW11)
  req.dw0 = Number(r.value & 0xffffffffn)
  req.dw1 = Number(r.value >> 32n)
  return 0
}

function executePropertySet(req: Request): number {
  const ctrl = req.queue.controller!
  const f = propertySetFields(req.sqe)
  const s = ctrl.propertySet(f.ofst, Number(f.value & 0xffffffffn))
  return s === 0 ? 0 : req.fail(s, SQE_CDW11)
}

/** Connect: the checks of wire spec 3.2, in the order nvmet makes them. */
function executeConnect(req: Request, core: TargetCore): number {
  const q = req.queue
  const f = connectFields(req.sqe)
  const invalid = (ipo: number, inData: boolean): number => {
    req.dw0 = makeConnectInvalidParamDw0({ ipo, inData })
    return req.fail(NvmeStatus.CONNECT_INVALID_PARAM | DNR, inData ? 0xffff : ipo)
  }
  if (f.recfmt !== 0) return req.fail(NvmeStatus.CONNECT_FORMAT | DNR, CONNECT_SQE_RECFMT)
  if (req.data === undefined || req.data.length < CONNECT_DATA_SIZE) return req.fail(NvmeStatus.SGL_INVALID_DATA | DNR, SQE_DPTR)
  const d = decodeConnectData(req.data)
  const port = core.port(q.transport.portId)
  if (port === undefined) return req.fail(NvmeStatus.INTERNAL, 0xffff)
  const target = core.connectTarget(d.subnqn, port.id)
  if (target === undefined) return invalid(CONNECT_DATA_SUBNQN, true)
  if (!target.hostAllowed(d.hostnqn)) {
    req.dw0 = makeConnectInvalidParamDw0({ ipo: CONNECT_DATA_HOSTNQN, inData: true })
    return req.fail(NvmeStatus.CONNECT_INVALID_HOST | DNR, 0xffff)
  }
  if (f.sqsize === 0) return invalid(CONNECT_SQE_SQSIZE, false)
  const sqFlowDisabled = (f.cattr & CONNECT_CATTR_DISABLE_SQFLOW) !== 0
  if (f.qid === 0) {
    if (d.cntlid !== CONNECT_DYNAMIC_CNTLID) return invalid(CONNECT_DATA_CNTLID, true)
    // Admin queue: at most 32 entries are needed (NVME_AQ_DEPTH); allow up to MQES+1.
    if (f.sqsize + 1 > core.config.maxQueueSize) return invalid(CONNECT_SQE_SQSIZE, false)
    const ctrl = core.createController({ target, hostnqn: d.hostnqn, hostid: d.hostid, portId: port.id, kato: f.kato })
    if (ctrl === undefined) return req.fail(NvmeStatus.CONNECT_CTRL_BUSY | DNR, 0xffff)
    ctrl.addQueue(q, 0)
    q.bind(ctrl, 0, f.sqsize, sqFlowDisabled)
    const authreq = core.auth.onConnect(q, { hostnqn: d.hostnqn, subnqn: ctrl.subnqn, discovery: ctrl.discovery })
    req.dw0 = makeConnectResponseDw0({ cntlid: ctrl.cntlid, authreq })
    core.controllerConnected(ctrl)
    return 0
  }
  const ctrl = target.controllers.get(d.cntlid)
  if (ctrl === undefined || ctrl.deleted || ctrl.hostnqn !== d.hostnqn || ctrl.discovery) return invalid(CONNECT_DATA_CNTLID, true)
  if (f.qid > ctrl.ioQueues) return invalid(CONNECT_SQE_QID, false)
  if (f.sqsize + 1 > core.config.maxQueueSize) return invalid(CONNECT_SQE_SQSIZE, false)
  if (ctrl.queues.has(f.qid)) return req.fail(NvmeStatus.CMD_SEQ_ERROR | DNR, CONNECT_SQE_QID)
  ctrl.addQueue(q, f.qid)
  q.bind(ctrl, f.qid, f.sqsize, sqFlowDisabled)
  const authreq = core.auth.onConnect(q, { hostnqn: d.hostnqn, subnqn: ctrl.subnqn, discovery: false })
  req.dw0 = makeConnectResponseDw0({ cntlid: ctrl.cntlid, authreq })
  return 0
}

