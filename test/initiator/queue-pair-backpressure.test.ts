/**
 * The queue pair honours socket.write()'s return value: against a real controller socket that stops
 * reading, PDUs wait for 'drain' in a bounded queue, a command beyond the bound is refused with a
 * typed error while the queue stays up, and once the peer reads again everything queued goes out
 * in order.
 */
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { PduFramer } from '../../lib/framer.js'
import { encodeIcResp, PduType, decodePdu } from '../../lib/pdu/index.js'
import { makeSqe } from '../../lib/nvme/sqe.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'
import { systemClock } from '../../lib/clock.js'
import { WriteQueueFullError } from '../../lib/errors.js'
import { QueuePair, type QueueCompletion } from '../../initiator/transport/queue-pair.js'

t.test('a controller that stops reading: bounded queue, typed refusal, flushed on drain', async (t) => {
  let peer: net.Socket | undefined
  const cids: number[] = []
  const framer = new PduFramer({
    role: 'target',
    maxInCapsuleData: 1 << 20,
    onPdu: (raw) => {
      const pdu = decodePdu(raw, { hdgst: false, ddgst: false })
      if (pdu.type === PduType.IC_REQ) {
        peer!.write(encodeIcResp({ type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: false, ddgst: false, maxh2cdata: 131072 }))
        // From now on the controller does not read its socket.
        peer!.pause()
      } else if (pdu.type === PduType.CAPSULE_CMD) cids.push(pdu.sqe.readUInt16LE(2))
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
  const port = (server.address() as net.AddressInfo).port

  const limit = 4
  const qp = await QueuePair.connect({
    host: '127.0.0.1',
    port,
    qid: 1,
    depth: 4096,
    hdgst: false,
    ddgst: false,
    clock: systemClock,
    connectTimeoutMs: 10_000,
    inCapsuleMax: 1 << 20,
    maxC2HData: 1 << 20,
    maxQueuedWrites: limit,
  })
  t.teardown(() => qp.close())

  // 256 KiB of in-capsule data per command (one shared buffer: nothing is copied). Submit one per
  // event-loop turn until the kernel's buffers are full and the bounded queue overflows; bounded
  // in count (4000 × 256 KiB is far beyond any loopback socket buffer) and in time.
  const data = Buffer.alloc(256 * 1024, 0xa5)
  const pending: Promise<QueueCompletion>[] = []
  let refused: unknown
  const deadline = Date.now() + 60_000
  for (let i = 0; i < 4000 && refused === undefined && Date.now() < deadline; i++) {
    const p = qp.submit({ sqe: makeSqe({ opc: IoOpcode.WRITE, nsid: 1 }), data, timeoutMs: 0 })
    p.catch(() => undefined)
    await new Promise((r) => setImmediate(r))
    // A refused command is already rejected; an accepted one stays pending (the peer never answers).
    const settled = await Promise.race([p.then(() => 'done', (e: unknown) => e), new Promise((r) => setImmediate(() => r('pending')))])
    if (settled instanceof WriteQueueFullError) refused = settled
    else pending.push(p)
  }
  t.ok(refused instanceof WriteQueueFullError, 'a command beyond the bound is refused with WriteQueueFullError')
  t.equal((refused as WriteQueueFullError).code, 'ERR_NVMEOF_WRITE_QUEUE_FULL')
  t.equal((refused as WriteQueueFullError).limit, limit)
  t.equal(qp.queuedWrites, limit, 'exactly `limit` PDUs wait for drain')
  t.equal(qp.closed, false, 'the queue stays up')
  t.ok(pending.length > limit, `${pending.length} commands accepted before the peer's buffers filled`)

  // The controller reads again: 'drain' flushes the queued PDUs, in submission order.
  peer!.resume()
  for (let i = 0; i < 6000 && cids.length < pending.length; i++) await new Promise((r) => setTimeout(r, 10))
  t.equal(cids.length, pending.length, 'every accepted command reached the controller')
  t.equal(qp.queuedWrites, 0)
  const tags = cids.map((c) => c & 0xfff)
  t.same(tags, [...tags].sort((a, b) => a - b), 'in submission order')
})
