/**
 * A pcap (libpcap classic format, LINKTYPE_ETHERNET) writer that synthesises Ethernet/IPv4/TCP
 * frames around byte streams, so NVMe/TCP traffic produced in-process (tests, traces, fault
 * recordings) can be opened in Wireshark/tshark. Each flow gets a 3-way handshake, correct sequence
 * and acknowledgement numbers, IPv4 header checksums, TCP checksums, segments of at most `mss`
 * bytes and a FIN exchange on close. Nothing here touches the network.
 *
 * Timestamps are explicit (`tsMs`, milliseconds since the Unix epoch, fractional allowed) or, when
 * omitted, 1 µs after the previous record — no wall clock is read.
 */
import { writeFile } from 'node:fs/promises'
import { InvalidArgumentError, InvalidStateError } from './errors.js'

export interface PcapEndpoint {
  /** IPv4 address, dotted quad. */
  addr: string
  port: number
}

export interface PcapFlowOptions {
  client: PcapEndpoint
  server: PcapEndpoint
  /** Time of the SYN (ms since the epoch); default: 1 µs after the previous record. */
  tsMs?: number
}

export interface PcapFlow {
  /** Bytes the client sent (split into segments of at most `mss`). */
  fromClient(bytes: Uint8Array, tsMs?: number): void
  /** Bytes the server sent. */
  fromServer(bytes: Uint8Array, tsMs?: number): void
  /** FIN from the client, FIN+ACK from the server, final ACK. Idempotent. */
  close(tsMs?: number): void
}

export interface PcapWriterOptions {
  /** Largest TCP payload per frame (default 16000; at most 65495 so the IPv4 length fits). */
  mss?: number
  /** Timestamp of the first record when none is given (ms since the epoch; default 0). */
  startTimeMs?: number
  /** Snap length written into the global header (default 262144). */
  snaplen?: number
}

const LINKTYPE_ETHERNET = 1
const ETH_HLEN = 14
const IP_HLEN = 20
const TCP_HLEN = 20
const TCP_FIN = 0x01
const TCP_SYN = 0x02
const TCP_PSH = 0x08
const TCP_ACK = 0x10
/** SYN options: MSS (4 bytes), NOP, window scale 7 (3 bytes) — 8 bytes, so the 0xffff window means 8 MiB. */
const WSCALE = 7

function parseIpv4(name: string, addr: unknown): Buffer {
  if (typeof addr !== 'string') throw new InvalidArgumentError(name, 'must be an IPv4 address string')
  const parts = addr.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) throw new InvalidArgumentError(name, `must be a dotted-quad IPv4 address, got '${addr}'`)
  return Buffer.from(parts.map(Number))
}

function checkPort(name: string, port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(name, 'must be an integer in [1, 65535]')
  return port
}

/** Internet checksum (RFC 1071) over several buffers, as if concatenated. */
function inetChecksum(bufs: readonly Uint8Array[]): number {
  let sum = 0
  let odd = false
  let carry = 0
  for (const b of bufs) {
    let i = 0
    if (odd && b.length > 0) {
      sum += (carry << 8) | b[0]!
      i = 1
      odd = false
    }
    const n = b.length
    for (; i + 1 < n; i += 2) sum += (b[i]! << 8) | b[i + 1]!
    if (i < n) {
      odd = true
      carry = b[i]!
    }
    // Fold often enough to stay inside exact double arithmetic.
    sum = (sum & 0xffff) + Math.floor(sum / 0x10000)
  }
  if (odd) sum += carry << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

interface Side {
  ip: Buffer
  mac: Buffer
  port: number
  seq: number
  ipId: number
}

export class PcapWriter {
  readonly mss: number
  readonly snaplen: number
  #records: Buffer[] = []
  #lastTsMs: number
  #flows = 0

  constructor(options: PcapWriterOptions = {}) {
    const mss = options.mss ?? 16000
    if (!Number.isInteger(mss) || mss < 1 || mss > 65495) throw new InvalidArgumentError('mss', 'must be an integer in [1, 65495]')
    const snaplen = options.snaplen ?? 262144
    if (!Number.isInteger(snaplen) || snaplen < ETH_HLEN + IP_HLEN + TCP_HLEN + mss) throw new InvalidArgumentError('snaplen', 'must be an integer that holds a full frame')
    const start = options.startTimeMs ?? 0
    if (typeof start !== 'number' || !Number.isFinite(start) || start < 0) throw new InvalidArgumentError('startTimeMs', 'must be a non-negative number')
    this.mss = mss
    this.snaplen = snaplen
    this.#lastTsMs = start - 0.001
  }

  /** Number of frames written so far. */
  get frameCount(): number {
    return this.#records.length / 2
  }

  /** Open a TCP flow: writes SYN, SYN-ACK, ACK. */
  flow(options: PcapFlowOptions): PcapFlow {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object')
    const flowIndex = this.#flows++
    // Deterministic initial sequence numbers, different per flow and direction.
    const mk = (name: string, ep: PcapEndpoint, isn: number): Side => {
      if (ep === null || typeof ep !== 'object') throw new InvalidArgumentError(name, 'must be { addr, port }')
      const ip = parseIpv4(`${name}.addr`, ep.addr)
      return { ip, mac: Buffer.from([0x02, 0x00, ip[0]!, ip[1]!, ip[2]!, ip[3]!]), port: checkPort(`${name}.port`, ep.port), seq: isn >>> 0, ipId: (flowIndex * 4096) & 0xffff }
    }
    const c = mk('client', options.client, 0x1000_0000 + flowIndex * 0x0100_0000)
    const s = mk('server', options.server, 0x8000_0000 + flowIndex * 0x0100_0000)
    let closed = false
    this.#segment(c, s, TCP_SYN, undefined, options.tsMs, true)
    c.seq = (c.seq + 1) >>> 0
    this.#segment(s, c, TCP_SYN | TCP_ACK, undefined, undefined, true)
    s.seq = (s.seq + 1) >>> 0
    this.#segment(c, s, TCP_ACK, undefined, undefined, false)
    const send = (from: Side, to: Side, bytes: Uint8Array, tsMs: number | undefined): void => {
      if (closed) throw new InvalidStateError('pcap flow is closed')
      if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('bytes', 'must be a Buffer or Uint8Array')
      let ts = tsMs
      for (let off = 0; off < bytes.length; off += this.mss) {
        const seg = bytes.subarray(off, Math.min(bytes.length, off + this.mss))
        this.#segment(from, to, TCP_PSH | TCP_ACK, seg, ts, false)
        ts = undefined
        from.seq = (from.seq + seg.length) >>> 0
      }
    }
    return {
      fromClient: (bytes, tsMs) => send(c, s, bytes, tsMs),
      fromServer: (bytes, tsMs) => send(s, c, bytes, tsMs),
      close: (tsMs) => {
        if (closed) return
        closed = true
        this.#segment(c, s, TCP_FIN | TCP_ACK, undefined, tsMs, false)
        c.seq = (c.seq + 1) >>> 0
        this.#segment(s, c, TCP_FIN | TCP_ACK, undefined, undefined, false)
        s.seq = (s.seq + 1) >>> 0
        this.#segment(c, s, TCP_ACK, undefined, undefined, false)
      },
    }
  }

  #segment(from: Side, to: Side, flags: number, payload: Uint8Array | undefined, tsMs: number | undefined, syn: boolean): void {
    const optLen = syn ? 8 : 0
    const tcpLen = TCP_HLEN + optLen
    const payLen = payload?.length ?? 0
    const frame = Buffer.alloc(ETH_HLEN + IP_HLEN + tcpLen + payLen)
    // Ethernet II
    to.mac.copy(frame, 0)
    from.mac.copy(frame, 6)
    frame.writeUInt16BE(0x0800, 12)
    // IPv4
    const ip = ETH_HLEN
    frame[ip] = 0x45
    frame.writeUInt16BE(IP_HLEN + tcpLen + payLen, ip + 2)
    frame.writeUInt16BE(from.ipId, ip + 4)
    from.ipId = (from.ipId + 1) & 0xffff
    frame.writeUInt16BE(0x4000, ip + 6) // DF
    frame[ip + 8] = 64
    frame[ip + 9] = 6 // TCP
    from.ip.copy(frame, ip + 12)
    to.ip.copy(frame, ip + 16)
    frame.writeUInt16BE(inetChecksum([frame.subarray(ip, ip + IP_HLEN)]), ip + 10)
    // TCP
    const tcp = ip + IP_HLEN
    frame.writeUInt16BE(from.port, tcp)
    frame.writeUInt16BE(to.port, tcp + 2)
    frame.writeUInt32BE(from.seq, tcp + 4)
    frame.writeUInt32BE(flags & TCP_ACK ? to.seq : 0, tcp + 8)
    frame[tcp + 12] = (tcpLen / 4) << 4
    frame[tcp + 13] = flags
    frame.writeUInt16BE(0xffff, tcp + 14)
    if (syn) {
      frame[tcp + 20] = 2
      frame[tcp + 21] = 4
      frame.writeUInt16BE(this.mss, tcp + 22)
      frame[tcp + 24] = 1
      frame[tcp + 25] = 3
      frame[tcp + 26] = 3
      frame[tcp + 27] = WSCALE
    }
    if (payload !== undefined) frame.set(payload, tcp + tcpLen)
    const pseudo = Buffer.alloc(12)
    from.ip.copy(pseudo, 0)
    to.ip.copy(pseudo, 4)
    pseudo[9] = 6
    pseudo.writeUInt16BE(tcpLen + payLen, 10)
    frame.writeUInt16BE(inetChecksum([pseudo, frame.subarray(tcp)]), tcp + 16)
    this.#record(frame, tsMs)
  }

  #record(frame: Buffer, tsMs: number | undefined): void {
    let ts = tsMs ?? this.#lastTsMs + 0.001
    if (!Number.isFinite(ts) || ts < 0) throw new InvalidArgumentError('tsMs', 'must be a non-negative number')
    this.#lastTsMs = ts
    ts = Math.round(ts * 1000) // µs
    const hdr = Buffer.alloc(16)
    hdr.writeUInt32LE(Math.floor(ts / 1e6) >>> 0, 0)
    hdr.writeUInt32LE(ts % 1e6, 4)
    const incl = Math.min(frame.length, this.snaplen)
    hdr.writeUInt32LE(incl, 8)
    hdr.writeUInt32LE(frame.length, 12)
    this.#records.push(hdr, incl === frame.length ? frame : frame.subarray(0, incl))
  }

  /** The whole capture: global header then every record written so far. */
  toBuffer(): Buffer {
    const g = Buffer.alloc(24)
    g.writeUInt32LE(0xa1b2c3d4, 0)
    g.writeUInt16LE(2, 4)
    g.writeUInt16LE(4, 6)
    g.writeUInt32LE(this.snaplen, 16)
    g.writeUInt32LE(LINKTYPE_ETHERNET, 20)
    return Buffer.concat([g, ...this.#records])
  }

  async writeFile(path: string): Promise<void> {
    await writeFile(path, this.toBuffer())
  }
}
