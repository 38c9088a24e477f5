/**
 * Test helper: decode a pcap with tshark as NVMe/TCP and report, per frame, the protocol stack, the
 * NVMe/TCP PDU types and any malformed-packet or expert-error fields. Used by the pcap tests and
 * by any later test that wants Wireshark's opinion of our bytes.
 *
 *   const tshark = findTshark()
 *   t.test('...', { skip: tshark === undefined ? TSHARK_SKIP : false }, async (t) => { ... })
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

export const TSHARK_SKIP = 'tshark not installed (apt-get install tshark)'

/** Path (or name) of a working tshark, or undefined. `TSHARK` env var overrides. */
export function findTshark(): string | undefined {
  const candidate = process.env['TSHARK'] ?? 'tshark'
  const r = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 20_000 })
  if (r.error !== undefined || r.status !== 0) return undefined
  return candidate
}

/** Expert-info severity values as tshark prints `_ws.expert.severity`. */
export const EXPERT_SEVERITY = { CHAT: 0x00200000, NOTE: 0x00400000, WARN: 0x00600000, ERROR: 0x00800000 } as const

export interface TsharkFrame {
  frame: number
  /** e.g. ['eth', 'ethertype', 'ip', 'tcp', 'nvme-tcp', 'nvme'] */
  protocols: string[]
  srcPort: number
  dstPort: number
  /** TCP payload bytes in this frame. */
  tcpLen: number
  /** The frame in which this segment's PDU was reassembled (undefined if none). */
  reassembledIn: number | undefined
  /** NVMe/TCP PDU types decoded in this frame (one per PDU, in order). */
  pduTypes: number[]
  /** Digest status per digest shown: '0' Bad, '1' Good, '2' Unverified (no checkDigests), '3' Not present. */
  hdgstStatus: string[]
  ddgstStatus: string[]
  malformed: boolean
  /** Expert infos: severity number and message. */
  expert: { severity: number; message: string }[]
}

export interface DecodeOptions {
  /** TCP ports to decode as NVMe/TCP. */
  ports: number[]
  tshark?: string
  /** Extra `-o pref:value` settings. */
  prefs?: string[]
  /** Verify header/data digests (nvme-tcp.check_hdgst/check_ddgst); then status 1 = Good, 2 = Bad. */
  checkDigests?: boolean
  timeoutMs?: number
}

const FIELDS = [
  'frame.number',
  'frame.protocols',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.len',
  'tcp.reassembled_in',
  'nvme-tcp.type',
  'nvme-tcp.hdgst.status',
  'nvme-tcp.ddgst.status',
  '_ws.malformed',
  '_ws.expert.severity',
  '_ws.expert.message',
] as const

function splitAgg(v: string | undefined): string[] {
  if (v === undefined || v === '') return []
  return v.split('\u0001')
}

/** Run tshark over `file` and return one entry per frame. */
export async function decodeNvmeTcpPcap(file: string, options: DecodeOptions): Promise<TsharkFrame[]> {
  const tshark = options.tshark ?? findTshark()
  if (tshark === undefined) throw new Error(TSHARK_SKIP)
  // -2: two passes, so segments of a reassembled PDU know the frame they are reassembled in.
  const args = ['-r', file, '-n', '-2']
  for (const p of options.ports) args.push('-d', `tcp.port==${p},nvme-tcp`)
  // Check digests where the dissector can (NVMe/TCP preference), so a bad digest shows up.
  const prefs = [...(options.prefs ?? [])]
  if (options.checkDigests === true) prefs.push('nvme-tcp.check_hdgst:TRUE', 'nvme-tcp.check_ddgst:TRUE')
  for (const p of prefs) args.push('-o', p)
  args.push('-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=\u0001', '-E', 'quote=n')
  for (const f of FIELDS) args.push('-e', f)
  const { stdout } = await execFileAsync(tshark, args, { maxBuffer: 256 * 1024 * 1024, timeout: options.timeoutMs ?? 60_000, encoding: 'utf8' })
  const frames: TsharkFrame[] = []
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue
    const c = line.split('\t')
    const sev = splitAgg(c[10]).map((s) => Number(s))
    const msg = splitAgg(c[11])
    frames.push({
      frame: Number(c[0]),
      protocols: (c[1] ?? '').split(':').filter((p) => p !== ''),
      srcPort: Number(splitAgg(c[2])[0] ?? NaN),
      dstPort: Number(splitAgg(c[3])[0] ?? NaN),
      tcpLen: Number(splitAgg(c[4])[0] ?? 0),
      reassembledIn: c[5] !== undefined && c[5] !== '' ? Number(splitAgg(c[5])[0]) : undefined,
      pduTypes: splitAgg(c[6]).map((s) => Number(s)),
      hdgstStatus: splitAgg(c[7]),
      ddgstStatus: splitAgg(c[8]),
      malformed: (c[9] ?? '') !== '',
      expert: sev.map((severity, i) => ({ severity, message: msg[i] ?? '' })),
    })
  }
  return frames
}

/** Expert infos of ERROR severity in a frame. */
export function expertErrors(f: TsharkFrame): string[] {
  return f.expert.filter((e) => e.severity >= EXPERT_SEVERITY.ERROR).map((e) => e.message)
}
