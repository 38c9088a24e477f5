/**
 * Sessions for the fuzzer from a capture file: the host→target byte stream of every TCP connection
 * to one port, reassembled by sequence number. It reads classic pcap (either byte order, µs or ns)
 * and pcapng (what tshark -w writes, e.g. the Linux host captures of test/interop). Link types:
 * Ethernet (with 802.1Q), Linux cooked v1/v2, BSD loopback/NULL, raw IP. IPv4 and IPv6.
 */
import { DecodeError } from '../lib/errors.js'

interface Segment {
  seq: number
  data: Buffer
}

const LINK_ETHERNET = 1
const LINK_NULL = 0
const LINK_RAW = 101
const LINK_SLL = 113
const LINK_SLL2 = 276

/** The IP packet inside a link-layer frame, or undefined. */
function ipOf(link: number, f: Buffer): Buffer | undefined {
  switch (link) {
    case LINK_ETHERNET: {
      let off = 12
      let et = f.length >= 14 ? f.readUInt16BE(12) : 0
      while ((et === 0x8100 || et === 0x88a8) && f.length >= off + 6) {
        off += 4
        et = f.readUInt16BE(off)
      }
      return et === 0x0800 || et === 0x86dd ? f.subarray(off + 2) : undefined
    }
    case LINK_SLL:
      return f.length >= 16 ? f.subarray(16) : undefined
    case LINK_SLL2:
      return f.length >= 20 ? f.subarray(20) : undefined
    case LINK_NULL:
      return f.length >= 4 ? f.subarray(4) : undefined
    case LINK_RAW:
      return f
    default:
      return undefined
  }
}

/** Add the TCP payload of an IP packet to `flows` (key: "src:sport>dst:dport"). */
function addPacket(ip: Buffer, port: number, flows: Map<string, Segment[]>): void {
  if (ip.length < 20) return
  const v = ip[0]! >> 4
  let tcp: Buffer
  let src: string
  let dst: string
  if (v === 4) {
    const ihl = (ip[0]! & 0x0f) * 4
    if (ip[9] !== 6 || ip.length < ihl + 20) return
    const total = Math.min(ip.readUInt16BE(2) || ip.length, ip.length)
    tcp = ip.subarray(ihl, total)
    src = ip.subarray(12, 16).join('.')
    dst = ip.subarray(16, 20).join('.')
  } else if (v === 6) {
    if (ip.length < 60 || ip[6] !== 6) return // extension headers are not followed
    tcp = ip.subarray(40, 40 + ip.readUInt16BE(4))
    src = ip.subarray(8, 24).toString('hex')
    dst = ip.subarray(24, 40).toString('hex')
  } else return
  if (tcp.length < 20) return
  const sport = tcp.readUInt16BE(0)
  const dport = tcp.readUInt16BE(2)
  if (dport !== port) return
  const doff = (tcp[12]! >> 4) * 4
  const data = tcp.subarray(doff)
  if (data.length === 0) return
  const key = `${src}:${sport}>${dst}:${dport}`
  const list = flows.get(key) ?? []
  list.push({ seq: tcp.readUInt32BE(4), data: Buffer.from(data) })
  flows.set(key, list)
}

/** Frames of a classic pcap or a pcapng file, each with its link type. */
function* frames(buf: Buffer): Generator<{ link: number; data: Buffer }> {
  if (buf.length < 24) throw new DecodeError('pcap', 0, 'file shorter than a pcap header')
  const magic = buf.readUInt32LE(0)
  if (magic === 0x0a0d0d0a) {
    let le = buf.readUInt32LE(8) === 0x1a2b3c4d
    const links: number[] = []
    let off = 0
    while (off + 12 <= buf.length) {
      const type = le ? buf.readUInt32LE(off) : buf.readUInt32BE(off)
      if (type === 0x0a0d0d0a) {
        le = buf.readUInt32LE(off + 8) === 0x1a2b3c4d
        links.length = 0
      }
      const len = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4)
      if (len < 12 || off + len > buf.length) throw new DecodeError('pcapng block length', off + 4, `${len}`)
      const body = buf.subarray(off + 8, off + len - 4)
      const u32 = (o: number): number => (le ? body.readUInt32LE(o) : body.readUInt32BE(o))
      if (type === 1) links.push(le ? body.readUInt16LE(0) : body.readUInt16BE(0))
      else if (type === 6 && body.length >= 20) yield { link: links[u32(0)] ?? LINK_ETHERNET, data: body.subarray(20, 20 + u32(12)) }
      else if (type === 3 && body.length >= 4) yield { link: links[0] ?? LINK_ETHERNET, data: body.subarray(4) }
      off += len
    }
    return
  }
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  const be = buf.readUInt32BE(0) === 0xa1b2c3d4 || buf.readUInt32BE(0) === 0xa1b23c4d
  if (!le && !be) throw new DecodeError('pcap magic', 0, `0x${magic.toString(16)} is neither pcap nor pcapng`)
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o))
  const link = u32(20) & 0xffff
  let off = 24
  while (off + 16 <= buf.length) {
    const incl = u32(off + 8)
    if (off + 16 + incl > buf.length) break
    yield { link, data: buf.subarray(off + 16, off + 16 + incl) }
    off += 16 + incl
  }
}

/** Host→target streams (TCP payload to `port`), one per connection, in sequence order. */
export function hostStreamsFromCapture(buf: Buffer, port: number): Buffer[] {
  const flows = new Map<string, Segment[]>()
  for (const f of frames(buf)) {
    const ip = ipOf(f.link, f.data)
    if (ip !== undefined) addPacket(ip, port, flows)
  }
  const out: Buffer[] = []
  for (const segs of flows.values()) {
    // Sequence numbers are relative to the first segment seen; retransmissions and overlaps are
    // cut, and a gap ends the stream (what follows cannot be placed).
    const base = segs.reduce((m, s) => ((s.seq - m) | 0) < 0 ? s.seq : m, segs[0]!.seq)
    const rel = segs.map((s) => ({ at: (s.seq - base) >>> 0, data: s.data })).sort((a, b) => a.at - b.at)
    const parts: Buffer[] = []
    let next = 0
    for (const s of rel) {
      if (s.at > next) break
      const end = s.at + s.data.length
      if (end <= next) continue
      parts.push(s.data.subarray(next - s.at))
      next = end
    }
    if (next > 0) out.push(Buffer.concat(parts))
  }
  return out
}
