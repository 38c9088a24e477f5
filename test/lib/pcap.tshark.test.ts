/**
 * Wireshark's opinion of our bytes: a pcap of every PDU type, with and without digests, in a
 * plausible session order, decodes in tshark as NVMe/TCP with no malformed packet and no expert
 * error, and with header/data digests verified Good. Set KEEP_PCAP=/path/file.pcap to keep the capture.
 */
import t from 'tap'
import { join } from 'node:path'
import { PcapWriter, type PcapFlow } from '../../lib/pcap.js'
import { PduType, encodePduParts, type Pdu, type PduEncodeOptions } from '../../lib/pdu/index.js'
import { decodeNvmeTcpPcap, expertErrors, findTshark, TSHARK_SKIP } from '../helpers/tshark.js'
import { connectData, connectSqe, cqe, identifySqe, pattern, rwSqe } from './pdu/fixtures.js'

const tshark = findTshark()

/** Counts of PDUs written, per type. */
type Counts = Map<number, number>

function writer(flow: PcapFlow, digests: PduEncodeOptions, counts: Counts) {
  const send = (dir: 'c' | 's', pdu: Pdu, opts: PduEncodeOptions = digests): void => {
    const bytes = Buffer.concat(encodePduParts(pdu, opts))
    if (dir === 'c') flow.fromClient(bytes)
    else flow.fromServer(bytes)
    counts.set(pdu.type, (counts.get(pdu.type) ?? 0) + 1)
  }
  return {
    host: (p: Pdu, o?: PduEncodeOptions) => send('c', p, o),
    ctrl: (p: Pdu, o?: PduEncodeOptions) => send('s', p, o),
  }
}

/** ICReq/ICResp: never digested themselves, they negotiate digests for what follows. */
function handshake(w: ReturnType<typeof writer>, dg: boolean): void {
  w.host({ type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: dg, ddgst: dg, maxr2t: 0 }, {})
  w.ctrl({ type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: dg, ddgst: dg, maxh2cdata: 0x20000 }, {})
}

function session(pw: PcapWriter, port: number, dg: boolean, counts: Counts): void {
  const digests = { hdgst: dg, ddgst: dg }
  const host = '192.168.10.1'
  const ctrl = '192.168.10.2'
  const cport = dg ? 51000 : 50000

  // Admin queue: Connect (1024 B in-capsule), Identify Controller (C2HData), Keep Alive.
  const admin = pw.flow({ client: { addr: host, port: cport }, server: { addr: ctrl, port } })
  const a = writer(admin, digests, counts)
  handshake(a, dg)
  a.host({ type: PduType.CAPSULE_CMD, sqe: connectSqe(0, 0, 31, 5000), data: connectData() })
  a.ctrl({ type: PduType.CAPSULE_RESP, cqe: cqe({ dw0: 1, sqhd: 1, cid: 0 }) })
  a.host({ type: PduType.CAPSULE_CMD, sqe: identifySqe(1) })
  const idctrl = Buffer.alloc(4096)
  idctrl.writeUInt16LE(0x1b36, 0) // VID
  idctrl.write('nvmf-fault-serial', 4, 'latin1')
  idctrl.write('nvmf-fault', 24, 'latin1')
  a.ctrl({ type: PduType.C2H_DATA, cccid: 1, datao: 0, last: true, success: false, data: idctrl })
  a.ctrl({ type: PduType.CAPSULE_RESP, cqe: cqe({ sqhd: 2, cid: 1 }) })
  admin.close()

  // I/O queue 1: Connect, a write through R2T/H2CData, a read with C2HData SUCCESS, then big ones.
  const io = pw.flow({ client: { addr: host, port: cport + 1 }, server: { addr: ctrl, port } })
  const q = writer(io, digests, counts)
  handshake(q, dg)
  const ioConnect = connectSqe(0x10, 1, 127, 0)
  const ioData = connectData()
  ioData.writeUInt16LE(1, 16) // CNTLID from the admin Connect
  q.host({ type: PduType.CAPSULE_CMD, sqe: ioConnect, data: ioData })
  q.ctrl({ type: PduType.CAPSULE_RESP, cqe: cqe({ dw0: 1, sqhd: 1, sqid: 1, cid: 0x10 }) })
  q.host({ type: PduType.CAPSULE_CMD, sqe: rwSqe(true, 0x11, 0, 16) })
  q.ctrl({ type: PduType.R2T, cccid: 0x11, ttag: 0, r2to: 0, r2tl: 8192 })
  q.host({ type: PduType.H2C_DATA, cccid: 0x11, ttag: 0, datao: 0, last: false, data: pattern(4096, 1) })
  q.host({ type: PduType.H2C_DATA, cccid: 0x11, ttag: 0, datao: 4096, last: true, data: pattern(4096, 2) })
  q.ctrl({ type: PduType.CAPSULE_RESP, cqe: cqe({ sqhd: 2, sqid: 1, cid: 0x11 }) })
  q.host({ type: PduType.CAPSULE_CMD, sqe: rwSqe(false, 0x12, 0, 8) })
  q.ctrl({ type: PduType.C2H_DATA, cccid: 0x12, datao: 0, last: true, success: true, data: pattern(4096, 3) })
  // Larger than one segment: TCP reassembly in tshark.
  q.host({ type: PduType.CAPSULE_CMD, sqe: rwSqe(true, 0x13, 16, 256) })
  q.ctrl({ type: PduType.R2T, cccid: 0x13, ttag: 1, r2to: 0, r2tl: 131072 })
  q.host({ type: PduType.H2C_DATA, cccid: 0x13, ttag: 1, datao: 0, last: true, data: pattern(131072, 4) })
  q.ctrl({ type: PduType.CAPSULE_RESP, cqe: cqe({ sqhd: 4, sqid: 1, cid: 0x13 }) })
  q.host({ type: PduType.CAPSULE_CMD, sqe: rwSqe(false, 0x14, 16, 128) })
  q.ctrl({ type: PduType.C2H_DATA, cccid: 0x14, datao: 0, last: false, success: false, data: pattern(32768, 5) })
  q.ctrl({ type: PduType.C2H_DATA, cccid: 0x14, datao: 32768, last: true, success: false, data: pattern(32768, 6) })
  q.ctrl({ type: PduType.CAPSULE_RESP, cqe: cqe({ sqhd: 5, sqid: 1, cid: 0x14 }) })
  io.close()

  // A separate flow that ends in a C2HTermReq (the controller rejects a bad CapsuleCmd HLEN).
  const bad = pw.flow({ client: { addr: host, port: cport + 2 }, server: { addr: ctrl, port } })
  const b = writer(bad, digests, counts)
  handshake(b, dg)
  const offending = Buffer.alloc(72)
  offending.set([0x04, 0x00, 0x49, 0x00, 0x48, 0x00, 0x00, 0x00])
  b.ctrl({ type: PduType.C2H_TERM_REQ, fes: 0x01, fei: 2, data: offending })
  bad.close()

  // And one where the host gives up with an H2CTermReq (header digest error on an R2T).
  const bad2 = pw.flow({ client: { addr: host, port: cport + 3 }, server: { addr: ctrl, port } })
  const b2 = writer(bad2, digests, counts)
  handshake(b2, dg)
  b2.host({ type: PduType.H2C_TERM_REQ, fes: 0x03, fei: 0, data: Buffer.from([0x09, 0x01, 0x18, 0x00, 0x1c, 0, 0, 0]) })
  bad2.close()
}

t.test('tshark decodes every frame of our session as NVMe/TCP, clean', { skip: tshark === undefined ? TSHARK_SKIP : false }, async (t) => {
  const pw = new PcapWriter({ startTimeMs: Date.UTC(2026, 0, 1) })
  const counts: Counts = new Map()
  session(pw, 4420, false, counts)
  session(pw, 4421, true, counts)
  const file = process.env['KEEP_PCAP'] ?? join(t.testdir(), 'session.pcap')
  await pw.writeFile(file)
  const frames = await decodeNvmeTcpPcap(file, { ports: [4420, 4421], checkDigests: true, ...(tshark !== undefined ? { tshark } : {}) })
  t.equal(frames.length, pw.frameCount, 'tshark read every frame')

  const withPayload = frames.filter((f) => f.tcpLen > 0)
  const byNumber = new Map(frames.map((f) => [f.frame, f]))
  for (const f of withPayload) {
    const nvme = f.protocols.includes('nvme-tcp')
    const reassembled = f.reassembledIn !== undefined && byNumber.get(f.reassembledIn)?.protocols.includes('nvme-tcp') === true
    if (!nvme && !reassembled) t.fail(`frame ${f.frame} (${f.tcpLen} bytes) is not NVMe/TCP: ${f.protocols.join(':')}`)
  }
  t.pass(`${withPayload.length} frames with payload are NVMe/TCP (or segments of a reassembled NVMe/TCP PDU)`)

  const malformed = frames.filter((f) => f.malformed)
  t.same(malformed.map((f) => f.frame), [], 'no malformed packets')
  const errors = frames.flatMap((f) => expertErrors(f).map((m) => `frame ${f.frame}: ${m}`))
  t.same(errors, [], 'no expert errors')

  // Every PDU we wrote was dissected, with its type.
  const seen: Counts = new Map()
  for (const f of frames) for (const ty of f.pduTypes) seen.set(ty, (seen.get(ty) ?? 0) + 1)
  t.same([...seen.entries()].sort((x, y) => x[0] - y[0]), [...counts.entries()].sort((x, y) => x[0] - y[0]), 'PDU counts per type match')
  t.same([...seen.keys()].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 9], 'all nine PDU types present')

  // Digests: every digested PDU verified Good (1); none Bad (0).
  const hd = frames.flatMap((f) => f.hdgstStatus)
  const dd = frames.flatMap((f) => f.ddgstStatus)
  t.ok(hd.length > 0 && dd.length > 0, `digests present (${hd.length} header, ${dd.length} data)`)
  t.same([...new Set(hd.filter((s) => s !== '3'))], ['1'], 'header digests Good')
  t.same([...new Set(dd.filter((s) => s !== '3'))], ['1'], 'data digests Good')
})

t.test('tshark flags a corrupted header digest (the check is live)', { skip: tshark === undefined ? TSHARK_SKIP : false }, async (t) => {
  const pw = new PcapWriter()
  const flow = pw.flow({ client: { addr: '10.0.0.1', port: 40000 }, server: { addr: '10.0.0.2', port: 4420 } })
  const counts: Counts = new Map()
  const w = writer(flow, { hdgst: true, ddgst: true }, counts)
  handshake(w, true)
  const raw = Buffer.concat(encodePduParts({ type: PduType.CAPSULE_RESP, cqe: cqe({ dw0: 1, sqhd: 1 }) }, { hdgst: true }))
  raw[25] = raw[25]! ^ 0xff
  flow.fromServer(raw)
  const file = join(t.testdir(), 'bad.pcap')
  await pw.writeFile(file)
  const frames = await decodeNvmeTcpPcap(file, { ports: [4420], checkDigests: true, ...(tshark !== undefined ? { tshark } : {}) })
  const f = frames.find((x) => x.pduTypes.includes(PduType.CAPSULE_RESP))
  t.ok(f, 'CapsuleResp frame found')
  t.same(f?.hdgstStatus, ['0'], 'header digest reported Bad')
})
