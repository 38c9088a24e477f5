/**
 * The initiator's I/O path after round 3 (docs/performance.md): reads land in a receive slab whose
 * memory is never handed out twice (every buffer a caller kept still holds its data after many more
 * reads), `QueuePair.send` reports completions and errors through one callback, a lone command and
 * a batch both reach the controller, outstanding commands are found by tag and generation, and the
 * I/O SQE (built as one literal, SLBA split as a number below 2^53) encodes what makeSqe + rwDwords
 * encode. The QoS chain counts a request in flight by a mark on the I/O and still reports a second
 * completion of one request, or one on another path.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { PduFramer } from '../../lib/framer.js'
import { encodeC2HData, encodeCapsuleResp, encodeIcResp, PduType, decodePdu } from '../../lib/pdu/index.js'
import { encodeCqe } from '../../lib/nvme/cqe.js'
import { decodeSqe, encodeSqe, makeSqe, rwDwords, rwFields } from '../../lib/nvme/sqe.js'
import { encodeSgl, decodeSgl, sglInCapsule } from '../../lib/nvme/sgl.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'
import { systemClock } from '../../lib/clock.js'
import { emptyQosFlags, type HostIo } from '../../initiator/host-io.js'
import { ioCommand } from '../../initiator/io-command.js'
import { QueuePair, type QueueCompletion } from '../../initiator/transport/queue-pair.js'
import { CommandSlots } from '../../initiator/transport/command-slots.js'
import { ReceiveSlab } from '../../initiator/transport/receive-slab.js'
import { connectRawQueue, readPattern } from '../helpers/raw-queue.js'
import { QosChain } from '../../initiator/qos/chain.js'
import { QosInvariantChecker } from '../../initiator/qos/invariant-checker.js'

/** A scripted controller: ICResp, then every Read answered with one C2HData of `pattern` and a CapsuleResp. */
async function scriptedController(t: Test): Promise<number> {
  let peer: net.Socket | undefined
  const framer = new PduFramer({
    role: 'target',
    maxInCapsuleData: 1 << 20,
    onPdu: (raw) => {
      const pdu = decodePdu(raw, { hdgst: false, ddgst: false })
      if (pdu.type === PduType.IC_REQ) {
        peer!.write(encodeIcResp({ type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: false, ddgst: false, maxh2cdata: 131072 }))
        return
      }
      if (pdu.type !== PduType.CAPSULE_CMD) return
      const cid = pdu.sqe.readUInt16LE(2)
      const slba = pdu.sqe.readUInt32LE(40)
      const length = pdu.sqe.readUInt32LE(24 + 8)
      peer!.write(encodeC2HData({ type: PduType.C2H_DATA, cccid: cid, datao: 0, last: true, success: false, data: readPattern(slba, length) }))
      peer!.write(encodeCapsuleResp({ type: PduType.CAPSULE_RESP, cqe: encodeCqe({ dw0: 0, dw1: 0, sqhd: 0, sqid: 1, cid, status: 0 }) }))
    },
  })
  const server = net.createServer((s) => {
    peer = s
    s.on('data', (c: Buffer) => framer.push(c))
    s.on('error', () => undefined)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  return (server.address() as net.AddressInfo).port
}

const readCmd = (slba: number, length: number) => ({
  sqe: makeSqe({ opc: IoOpcode.READ, nsid: 1, ...rwDwords({ slba: BigInt(slba), nlb: length / 512 - 1 }) }),
  readLength: length,
  timeoutMs: 0,
})

t.test('reads at QD1 and in batches: every kept buffer still holds its own data at the end', async (t) => {
  const port = await scriptedController(t)
  const qp = await connectRawQueue(port, { depth: 32 })
  t.teardown(() => qp.close())
  const kept: { slba: number; data: Buffer }[] = []
  const send = (slba: number, length: number): Promise<QueueCompletion> =>
    new Promise((resolve, reject) => qp.send(readCmd(slba, length), (r) => (r instanceof Error ? reject(r) : resolve(r))))
  // QD1: one command outstanding at a time (written at once, not batched to the end of the turn).
  // 300 reads of 4 KiB fill several 128 KiB slabs.
  for (let i = 0; i < 300; i++) {
    const c = await send(i % 1000, 4096)
    t.equal(c.cqe.status, 0)
    kept.push({ slba: i % 1000, data: c.data! })
  }
  // Batches of 16 submitted in one turn (corked, one write per turn).
  for (let b = 0; b < 10; b++) {
    const all = await Promise.all(Array.from({ length: 16 }, (_, k) => send(2000 + b * 16 + k, 8192)))
    all.forEach((c, k) => kept.push({ slba: 2000 + b * 16 + k, data: c.data! }))
  }
  let intact = 0
  for (const k of kept) if (k.data.equals(readPattern(k.slba, k.data.length))) intact++
  t.equal(intact, kept.length, `all ${kept.length} read buffers still hold their own data`)
  t.equal(qp.outstanding, 0)
})

t.test('send() on a closed queue reports the error through the callback', async (t) => {
  const port = await scriptedController(t)
  const qp = await connectRawQueue(port, { depth: 4 })
  qp.close()
  let got: QueueCompletion | Error | undefined
  qp.send(readCmd(0, 512), (r) => (got = r))
  t.ok(got instanceof Error, 'an Error')
  t.match(got, { code: 'ERR_NVMEOF_CONNECTION' })
  await t.rejects(qp.submit(readCmd(0, 512)), { code: 'ERR_NVMEOF_CONNECTION' }, 'submit() still rejects')
})

t.test('command slots: found by tag and generation only', async (t) => {
  const s = new CommandSlots<{ cid: number; n: number }>({ depth: 8, tagMask: 0xfff })
  const a = { cid: 3 | (1 << 12), n: 1 }
  s.add(a)
  t.equal(s.size, 1)
  t.equal(s.get(a.cid), a)
  t.equal(s.get(3 | (2 << 12)), undefined, 'same tag, other generation')
  t.equal(s.get(4000), undefined, 'a tag beyond the depth')
  s.delete({ cid: a.cid, n: 2 })
  t.equal(s.size, 1, 'deleting another object with the same CID leaves the slot')
  const b = { cid: 5, n: 3 }
  s.add(b)
  t.same([...s.values()].map((p) => p.n).sort(), [1, 3])
  s.delete(a)
  t.equal(s.get(a.cid), undefined)
  t.same(s.clear(), [b])
  t.equal(s.size, 0)
})

t.test('receive slab: regions follow each other, a short tail starts a new slab', async (t) => {
  const slab = new ReceiveSlab({ size: 1024, minTail: 256 })
  const r1 = slab.next()
  t.equal(r1.length, 1024)
  r1.fill(1, 0, 600)
  const v1 = slab.take(r1, 600)
  const r2 = slab.next()
  t.equal(r2.length, 424, 'the tail after the 600 bytes taken')
  t.equal(r2.buffer, r1.buffer)
  t.equal(r2.byteOffset, r1.byteOffset + 600)
  r2.fill(2, 0, 300)
  const v2 = slab.take(r2, 300)
  const r3 = slab.next()
  t.equal(r3.length, 1024, 'a 124-byte tail is below minTail: a new slab')
  t.not(r3.buffer === r1.buffer && r3.byteOffset === r1.byteOffset, true)
  r3.fill(3)
  t.ok(v1.every((x) => x === 1) && v2.every((x) => x === 2), 'what was taken is never written again')
})

t.test('I/O SQE: one literal and the number split encode what makeSqe + rwDwords encode', async (t) => {
  const edges = [0n, 1n, 0xffffffffn, 0x100000000n, 0x100000005n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (1n << 64n) - 1n]
  for (const slba of edges) {
    const io: HostIo = { id: 1, op: 'read', slba, nlb: 8, data: undefined, length: 4096, submittedAt: 0, device: { id: 'h', kind: 'head', qos: undefined }, qos: emptyQosFlags(), retries: 0, failovers: 0, history: [], issuedAt: 0, settled: false, resolve() {}, reject() {} }
    const fast = encodeSqe(ioCommand(7, io, 1000).sqe)
    const ref = encodeSqe(makeSqe({ opc: IoOpcode.READ, nsid: 7, ...rwDwords({ slba, nlb: 7 }) }))
    t.same(fast, ref, `slba ${slba}`)
    t.equal(rwFields(decodeSqe(fast)).slba, slba)
  }
  const sqe = makeSqe({ opc: 1, mptr: 0x1122334455667788n })
  t.equal(decodeSqe(encodeSqe(sqe)).mptr, 0x1122334455667788n, 'a non-zero MPTR still written as 64 bits')
  const b = Buffer.alloc(16, 0xff)
  encodeSgl(sglInCapsule(4096, 0x10n), b)
  t.same(decodeSgl(b), sglInCapsule(4096, 0x10n), 'SGL address and reserved bytes')
  t.same([...b.subarray(12, 15)], [0, 0, 0], 'reserved bytes zeroed')
})

t.test('QoS chain: in-flight requests by a mark on the I/O; double and foreign completions reported', async (t) => {
  const checker = new QosInvariantChecker()
  const a = new QosChain({ pathId: 'A', policies: [], clock: systemClock, checker })
  const b = new QosChain({ pathId: 'B', policies: [], clock: systemClock, checker })
  const io: HostIo = { id: 9, op: 'read', slba: 0n, nlb: 1, data: undefined, length: 512, submittedAt: 0, device: { id: 'h', kind: 'head', qos: undefined }, qos: emptyQosFlags(), retries: 0, failovers: 0, history: [], issuedAt: 0, settled: false, resolve() {}, reject() {} }
  a.issue(io)
  t.equal(a.inflightRequests, 1)
  b.done(io, 0)
  t.equal(a.inflightRequests, 1, 'a completion on another path leaves the request on A')
  a.done(io, 0)
  t.equal(a.inflightRequests, 0)
  a.done(io, 0)
  t.equal(a.inflightRequests, 0, 'a second completion changes nothing')
  t.same(checker.violations.map((v) => `${v.kind}@${v.pathId}`), ['double-done@B', 'double-done@A'])
  a.issue(io)
  a.done(io, 0)
  t.equal(a.inflightRequests, 0, 'a retry on the same path issues and completes again')
})
