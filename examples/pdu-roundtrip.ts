// Encode a Read command as a CapsuleCmd PDU with header and data digests, frame it from a byte
// stream split in two, and decode it back. After `npm run build`: node dist/examples/pdu-roundtrip.js
// (an installed package imports the same names from 'nvmf-fault').
import {
  IoOpcode,
  PduFramer,
  PduType,
  decodePdu,
  decodeSqe,
  encodePdu,
  encodeSqe,
  makeSqe,
  rwDwords,
  sglTransportDataBlock,
} from '../index.js'

const digests = { hdgst: true, ddgst: true }
const sqe = makeSqe({ opc: IoOpcode.READ, cid: 0x1003, nsid: 1, sgl: sglTransportDataBlock(8 * 512), ...rwDwords({ slba: 2048n, nlb: 7 }) })
const wire = encodePdu({ type: PduType.CAPSULE_CMD, sqe: encodeSqe(sqe) }, digests)
console.log(`CapsuleCmd: ${wire.length} bytes, header ${wire.subarray(0, 8).toString('hex')}`)

// The target side: a framer fed arbitrary chunks yields whole PDUs; decode checks the HDGST.
const framer = new PduFramer({
  role: 'target',
  onPdu: (raw) => {
    const pdu = decodePdu(raw, digests)
    if (pdu.type !== PduType.CAPSULE_CMD) throw new Error(`unexpected PDU type ${pdu.type}`)
    const got = decodeSqe(pdu.sqe)
    console.log(`decoded: opc 0x${got.opc.toString(16)} cid 0x${got.cid.toString(16)} nsid ${got.nsid} slba ${got.cdw10} nlb+1 ${(got.cdw12 & 0xffff) + 1}`)
  },
})
framer.setDigests(digests)
framer.push(wire.subarray(0, 30))
framer.push(wire.subarray(30))
