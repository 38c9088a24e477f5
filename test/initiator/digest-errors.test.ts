/**
 * Digests on the host side, against a raw controller on a real socket: data that arrives with good
 * header and data digests (one C2HData, several) comes back unchanged; a C2HData whose DDGST does not
 * match completes its command with Data Transfer Error and the queue stays usable (NVMe/TCP 1.0
 * section 3.6.2.10: a data digest error is not transport-fatal); a PDU whose HDGST does not match is
 * transport-fatal: the host sends an H2CTermReq with FES 03h (Header Digest Error) and closes.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { PduFramer } from '../../lib/framer.js'
import { FES } from '../../lib/errors.js'
import { encodeC2HDataParts, encodeCapsuleRespParts, encodeIcResp, PduType, decodePdu, type TermReq } from '../../lib/pdu/index.js'
import { encodeCqe } from '../../lib/nvme/cqe.js'
import { NvmeStatus } from '../../lib/status.js'
import { connectRawQueue, readAt, readPattern } from '../helpers/raw-queue.js'

const D = { hdgst: true, ddgst: true }

/** LBA 0: one C2HData; LBA 1: four; LBA 2: the DDGST of the second PDU flipped; LBA 3: the HDGST flipped. */
async function rawController(t: Test): Promise<{ port: number; termReqs: TermReq[]; closed: Promise<void> }> {
  let peer: net.Socket | undefined
  const termReqs: TermReq[] = []
  let digests = false
  const framer = new PduFramer({
    role: 'target',
    maxInCapsuleData: 8192,
    onPdu: (raw) => {
      const pdu = decodePdu(raw, digests ? D : {})
      if (pdu.type === PduType.IC_REQ) {
        peer!.write(encodeIcResp({ type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: true, ddgst: true, maxh2cdata: 131072 }))
        digests = true
        framer.setDigests(D)
        return
      }
      if (pdu.type === PduType.H2C_TERM_REQ) {
        termReqs.push(pdu)
        return
      }
      if (pdu.type !== PduType.CAPSULE_CMD) return
      const cid = pdu.sqe.readUInt16LE(2)
      const slba = pdu.sqe.readUInt32LE(40)
      const length = pdu.sqe.readUInt32LE(24 + 8)
      const data = readPattern(slba, length)
      const step = slba === 1 || slba === 2 ? length / 4 : length
      let n = 0
      for (let off = 0; off < length; off += step, n++) {
        const parts = encodeC2HDataParts({ type: PduType.C2H_DATA, cccid: cid, datao: off, last: off + step >= length, success: false, data: data.subarray(off, off + step) }, D)
        if (slba === 2 && n === 1) parts[2] = Buffer.from([parts[2]![0]! ^ 0x01, ...parts[2]!.subarray(1)])
        if (slba === 3) parts[0] = Buffer.from(parts[0]!.map((b, i) => (i === 24 ? b ^ 0x80 : b)))
        peer!.write(Buffer.concat(parts))
      }
      peer!.write(Buffer.concat(encodeCapsuleRespParts({ type: PduType.CAPSULE_RESP, cqe: encodeCqe({ dw0: 0, dw1: 0, sqhd: 0, sqid: 1, cid, status: 0 }) }, D)))
    },
  })
  let closedResolve: () => void = () => undefined
  const closed = new Promise<void>((r) => (closedResolve = r))
  const server = net.createServer((s) => {
    peer = s
    s.on('data', (c: Buffer) => framer.push(c))
    s.on('error', () => undefined)
    s.on('close', () => closedResolve())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  return { port: (server.address() as net.AddressInfo).port, termReqs, closed }
}

t.test('host digests: good data in one and several PDUs, a bad DDGST fails the command, a bad HDGST the connection', async (t) => {
  const c = await rawController(t)
  const qp = await connectRawQueue(c.port, { ...D, connectTimeoutMs: 30_000 })
  t.teardown(() => qp.close())
  const read = (slba: number, length: number) => readAt(qp, slba, length)

  const one = await read(0, 4096)
  t.equal(one.cqe.status, 0)
  t.same(one.data, readPattern(0, 4096), 'one C2HData with digests: the data as sent')
  const several = await read(1, 16384)
  t.equal(several.cqe.status, 0)
  t.same(several.data, readPattern(1, 16384), 'four C2HData with digests, gathered in order')
  const bad = await read(2, 16384)
  t.equal(bad.cqe.status, NvmeStatus.DATA_XFER_ERROR, 'bad DDGST: the command fails with Data Transfer Error')
  const after = await read(0, 4096)
  t.equal(after.cqe.status, 0, 'the queue is still usable after a data digest error')
  t.same(after.data, readPattern(0, 4096))
  await t.rejects(read(3, 4096), 'bad HDGST: the command fails with the connection')
  await c.closed
  t.same(
    c.termReqs.map((x) => x.fes),
    [FES.HEADER_DIGEST_ERROR],
    'H2CTermReq FES 03h (Header Digest Error) before the close',
  )
})
