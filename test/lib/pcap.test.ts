/** PcapWriter: file layout, IPv4/TCP checksums, handshake, sequence numbers, segmentation, FIN. */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PcapWriter } from '../../lib/pcap.js'
import { pattern } from './pdu/fixtures.js'

interface Frame {
  tsUs: number
  src: string
  dst: string
  sport: number
  dport: number
  seq: number
  ack: number
  flags: number
  payload: Buffer
  ipOk: boolean
  tcpOk: boolean
}

function csum(bufs: Buffer[]): number {
  const all = Buffer.concat(bufs)
  let s = 0
  for (let i = 0; i + 1 < all.length; i += 2) s += all.readUInt16BE(i)
  if (all.length % 2) s += all[all.length - 1]! << 8
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return s
}

/** An independent minimal reader of what PcapWriter writes. */
function parsePcap(buf: Buffer): { linktype: number; frames: Frame[] } {
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('bad magic')
  const linktype = buf.readUInt32LE(20)
  const frames: Frame[] = []
  let off = 24
  while (off < buf.length) {
    const sec = buf.readUInt32LE(off)
    const usec = buf.readUInt32LE(off + 4)
    const incl = buf.readUInt32LE(off + 8)
    const f = buf.subarray(off + 16, off + 16 + incl)
    off += 16 + incl
    if (f.readUInt16BE(12) !== 0x0800) throw new Error('not IPv4')
    const ip = f.subarray(14)
    const ihl = (ip[0]! & 0x0f) * 4
    const totLen = ip.readUInt16BE(2)
    const tcp = ip.subarray(ihl, totLen)
    const thl = (tcp[12]! >> 4) * 4
    const pseudo = Buffer.alloc(12)
    ip.copy(pseudo, 0, 12, 20)
    pseudo[9] = 6
    pseudo.writeUInt16BE(tcp.length, 10)
    frames.push({
      tsUs: sec * 1e6 + usec,
      src: [...ip.subarray(12, 16)].join('.'),
      dst: [...ip.subarray(16, 20)].join('.'),
      sport: tcp.readUInt16BE(0),
      dport: tcp.readUInt16BE(2),
      seq: tcp.readUInt32BE(4),
      ack: tcp.readUInt32BE(8),
      flags: tcp[13]!,
      payload: Buffer.from(tcp.subarray(thl)),
      ipOk: csum([ip.subarray(0, ihl)]) === 0xffff,
      tcpOk: csum([pseudo, tcp]) === 0xffff,
    })
  }
  return { linktype, frames }
}

t.test('a flow: handshake, segmented data in both directions, FIN; checksums and sequence numbers', async (t) => {
  const w = new PcapWriter({ mss: 1000, startTimeMs: 1_700_000_000_000 })
  const f = w.flow({ client: { addr: '10.1.2.3', port: 40001 }, server: { addr: '10.1.2.4', port: 4420 } })
  const up = pattern(2500, 1)
  const down = pattern(777, 2)
  f.fromClient(up, 1_700_000_000_500)
  f.fromServer(down)
  f.fromClient(pattern(1, 3))
  f.close()
  f.close() // idempotent
  t.throws(() => f.fromClient(Buffer.alloc(1)), { code: 'ERR_NVMEOF_INVALID_STATE' })
  const file = join(t.testdir(), 'flow.pcap')
  await w.writeFile(file)
  const bytes = await readFile(file)
  t.same(bytes, w.toBuffer())
  const { linktype, frames } = parsePcap(bytes)
  t.equal(linktype, 1, 'Ethernet')
  t.equal(frames.length, w.frameCount)
  // SYN, SYN-ACK, ACK, 3 + 1 + 1 data segments, FIN, FIN-ACK, ACK
  t.equal(frames.length, 3 + 5 + 3)
  t.ok(frames.every((x) => x.ipOk), 'IPv4 header checksums valid')
  t.ok(frames.every((x) => x.tcpOk), 'TCP checksums valid')
  const [syn, synAck, ack] = frames
  t.equal(syn!.flags, 0x02)
  t.equal(synAck!.flags, 0x12)
  t.equal(synAck!.ack, (syn!.seq + 1) >>> 0)
  t.equal(ack!.flags, 0x10)
  t.equal(ack!.seq, (syn!.seq + 1) >>> 0)
  t.equal(ack!.ack, (synAck!.seq + 1) >>> 0)
  const data = frames.slice(3, 8)
  t.same(data.map((x) => x.payload.length), [1000, 1000, 500, 777, 1])
  t.ok(data.every((x) => x.payload.length <= 1000), 'segments <= mss')
  const fromClient = Buffer.concat(data.filter((x) => x.sport === 40001).map((x) => x.payload))
  const fromServer = Buffer.concat(data.filter((x) => x.sport === 4420).map((x) => x.payload))
  t.same(fromClient, Buffer.concat([up, pattern(1, 3)]))
  t.same(fromServer, down)
  // Sequence numbers advance by payload length; acks acknowledge everything the peer sent.
  let cseq = (syn!.seq + 1) >>> 0
  let sseq = (synAck!.seq + 1) >>> 0
  for (const x of data) {
    if (x.sport === 40001) {
      t.equal(x.seq, cseq)
      t.equal(x.ack, sseq)
      cseq = (cseq + x.payload.length) >>> 0
    } else {
      t.equal(x.seq, sseq)
      t.equal(x.ack, cseq)
      sseq = (sseq + x.payload.length) >>> 0
    }
  }
  const [fin1, fin2, last] = frames.slice(8)
  t.equal(fin1!.flags, 0x11)
  t.equal(fin1!.seq, cseq)
  t.equal(fin2!.flags, 0x11)
  t.equal(fin2!.ack, (cseq + 1) >>> 0)
  t.equal(last!.ack, (sseq + 1) >>> 0)
  t.equal(data[0]!.tsUs, 1_700_000_000_500_000, 'explicit timestamp')
  t.equal(data[1]!.tsUs, data[0]!.tsUs + 1, 'later records 1 us apart')
})

t.test('several flows interleave with distinct sequence spaces', async (t) => {
  const w = new PcapWriter()
  const a = w.flow({ client: { addr: '127.0.0.1', port: 50000 }, server: { addr: '127.0.0.2', port: 4420 } })
  const b = w.flow({ client: { addr: '127.0.0.1', port: 50001 }, server: { addr: '127.0.0.2', port: 4420 } })
  a.fromClient(Buffer.from('a1'))
  b.fromClient(Buffer.from('b1'))
  a.fromServer(Buffer.from('a2'))
  const { frames } = parsePcap(w.toBuffer())
  t.equal(frames.length, 9)
  const synA = frames[0]!
  const synB = frames[3]!
  t.not(synA.seq, synB.seq)
  t.same(frames.slice(6).map((x) => x.payload.toString()), ['a1', 'b1', 'a2'])
  t.equal(frames[6]!.seq, (synA.seq + 1) >>> 0)
  t.equal(frames[7]!.seq, (synB.seq + 1) >>> 0)
})

t.test('bad arguments are rejected with the option named', async (t) => {
  t.throws(() => new PcapWriter({ mss: 0 }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'mss' })
  t.throws(() => new PcapWriter({ mss: 70000 }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'mss' })
  const w = new PcapWriter()
  t.throws(() => w.flow({ client: { addr: '1.2.3', port: 1 }, server: { addr: '1.2.3.4', port: 2 } }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'client.addr' })
  t.throws(() => w.flow({ client: { addr: '1.2.3.4', port: 1 }, server: { addr: '1.2.3.4', port: 0 } }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'server.port' })
  t.throws(() => w.flow({ client: { addr: '1.2.3.4', port: 1 }, server: { addr: '256.0.0.1', port: 2 } }), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'server.addr' })
})
