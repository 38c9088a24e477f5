/** `--trace-pdu`: one trace line per PDU received or sent (type, size, CCCID, opcode, FES/FEI). */
import type { Logger } from 'pino'
import { PduType, pduTypeName, type Pdu } from '../../lib/pdu/index.js'

export function tracePdu(logger: Logger, dir: 'rx' | 'tx', pdu: Pdu, bytes: number): void {
  const info: Record<string, unknown> = { dir, type: pduTypeName(pdu.type), bytes }
  if ('cccid' in pdu) info.cccid = pdu.cccid
  if (pdu.type === PduType.CAPSULE_CMD) info.opc = pdu.sqe[0]
  if (pdu.type === PduType.C2H_TERM_REQ || pdu.type === PduType.H2C_TERM_REQ) Object.assign(info, { fes: pdu.fes, fei: pdu.fei })
  logger.trace(info, 'pdu')
}
