/**
 * A Fabrics Connect the controller refused: the Connect's own status (wire reference 9.1 step 6),
 * with, for Connect Invalid Parameters (SCT 1h SC 82h), where the bad parameter is: DW0 IPO is a
 * byte offset into the SQE, or into the Connect data when IATTR bit 0 is set (NVMe over Fabrics
 * 1.1, Figure 21). Without this the host would go on and report the next command's error.
 */
import { NvmeStatusError } from '../lib/errors.js'
import type { Cqe } from '../lib/nvme/cqe.js'
import {
  CONNECT_DATA_CNTLID,
  CONNECT_DATA_HOSTID,
  CONNECT_DATA_HOSTNQN,
  CONNECT_DATA_SUBNQN,
  CONNECT_IATTR_DATA,
  CONNECT_NQN_FIELD_SIZE,
  CONNECT_SQE_CATTR,
  CONNECT_SQE_KATO,
  CONNECT_SQE_QID,
  CONNECT_SQE_RECFMT,
  CONNECT_SQE_SQSIZE,
  parseConnectInvalidParamDw0,
} from '../lib/nvme/fabrics.js'
import { NvmeStatus, statusName } from '../lib/status.js'

export interface InvalidConnectParameter {
  /** IPO: byte offset of the invalid parameter. */
  ipo: number
  iattr: number
  /** What IPO points into. */
  in: 'sqe' | 'data'
  /** The field at IPO, when it is one the host sends. */
  field: string | undefined
}

const SQE_FIELDS: readonly [number, number, string][] = [
  [CONNECT_SQE_RECFMT, 2, 'RECFMT'],
  [CONNECT_SQE_QID, 2, 'QID'],
  [CONNECT_SQE_SQSIZE, 2, 'SQSIZE'],
  [CONNECT_SQE_CATTR, 1, 'CATTR'],
  [CONNECT_SQE_KATO, 4, 'KATO'],
]
const DATA_FIELDS: readonly [number, number, string][] = [
  [CONNECT_DATA_HOSTID, 16, 'HOSTID'],
  [CONNECT_DATA_CNTLID, 2, 'CNTLID'],
  [CONNECT_DATA_SUBNQN, CONNECT_NQN_FIELD_SIZE, 'SUBNQN'],
  [CONNECT_DATA_HOSTNQN, CONNECT_NQN_FIELD_SIZE, 'HOSTNQN'],
]

function fieldAt(table: readonly [number, number, string][], ipo: number): string | undefined {
  return table.find(([off, len]) => ipo >= off && ipo < off + len)?.[2]
}

export class ConnectRejectedError extends NvmeStatusError {
  /** Set for Connect Invalid Parameters. */
  readonly invalidParameter: InvalidConnectParameter | undefined
  constructor(cqe: Pick<Cqe, 'status' | 'dw0' | 'cid'>, qid: number) {
    const sc = cqe.status & 0x7ff
    let invalid: InvalidConnectParameter | undefined
    if (sc === NvmeStatus.CONNECT_INVALID_PARAM) {
      const { ipo, iattr } = parseConnectInvalidParamDw0(cqe.dw0)
      const inData = (iattr & CONNECT_IATTR_DATA) !== 0
      invalid = { ipo, iattr, in: inData ? 'data' : 'sqe', field: fieldAt(inData ? DATA_FIELDS : SQE_FIELDS, ipo) }
    }
    const where = invalid === undefined ? '' : `: ${invalid.field ?? 'parameter'} at byte ${invalid.ipo} of the Connect ${invalid.in === 'data' ? 'data' : 'command'} (IATTR 0x${invalid.iattr.toString(16)})`
    super(cqe.status, { cid: cqe.cid, qid, name: `${qid === 0 ? 'admin' : 'I/O'} queue Connect refused, ${statusName(sc, 'fabrics')}${where}` })
    this.invalidParameter = invalid
  }
}
