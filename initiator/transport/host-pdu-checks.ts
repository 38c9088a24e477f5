/**
 * The host's checks and encodings around the controller's ICResp and R2T (wire reference 1.4, 10.1):
 * what an ICResp must carry, and the H2CData PDUs that answer one R2T.
 */
import { FES, NvmeTcpProtocolError } from '../../lib/errors.js'
import { encodeH2CDataParts, PduType, type IcResp, type R2T } from '../../lib/pdu/index.js'
import type { PduEncodeOptions } from '../../lib/pdu/common.js'

/**
 * The controller must echo the digests we asked for and advertise MAXH2CDATA >= 4096, %4 == 0
 * (wire reference 1.4, checks of the Linux host). Throws NvmeTcpProtocolError with the field's offset.
 */
export function checkIcResp(pdu: IcResp, asked: { hdgst: boolean; ddgst: boolean }): void {
  if (pdu.pfv !== 0) throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, 8, `ICResp PFV ${pdu.pfv}`)
  if (pdu.hdgst !== asked.hdgst || pdu.ddgst !== asked.ddgst) throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, 11, 'ICResp digests differ from ICReq')
  if (pdu.maxh2cdata < 4096 || pdu.maxh2cdata % 4 !== 0) throw new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, 12, `ICResp MAXH2CDATA ${pdu.maxh2cdata}`)
}

/**
 * The H2CData PDUs for an R2T of command `cid` over `data`, given `sent` bytes already sent: the R2T
 * must ask for the next bytes, within the data (wire reference 10.1); each PDU carries at most
 * `maxh2cdata` bytes, the last one has LAST_PDU. Throws NvmeTcpProtocolError for a bad R2T.
 */
export function h2cDataFor(r2t: R2T, cid: number, data: Buffer, sent: number, maxh2cdata: number, opts: PduEncodeOptions): Buffer[] {
  if (r2t.r2tl === 0 || r2t.r2to !== sent || r2t.r2to + r2t.r2tl > data.length) {
    throw new NvmeTcpProtocolError(FES.DATA_TRANSFER_OUT_OF_RANGE, 12, `R2T r2to ${r2t.r2to} r2tl ${r2t.r2tl} outside ${sent}/${data.length}`)
  }
  const end = r2t.r2to + r2t.r2tl
  const parts: Buffer[] = []
  for (let off = r2t.r2to; off < end; ) {
    const len = Math.min(maxh2cdata, end - off)
    parts.push(...encodeH2CDataParts({ type: PduType.H2C_DATA, cccid: cid, ttag: r2t.ttag, datao: off, last: off + len === end, data: data.subarray(off, off + len) }, opts))
    off += len
  }
  return parts
}
