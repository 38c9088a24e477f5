/**
 * Recording of real sessions for the fuzzer: a TCP proxy on 127.0.0.1 between our initiator and a
 * target keeps every byte of each connection in both directions, in order. The host→target streams
 * seed the target-side mutations; the target→host PDUs, indexed by connection and CID, are replayed
 * (mutated) to the initiator.
 */
import net from 'node:net'

export interface RecordedConnection {
  /** Host → target bytes, as one stream. */
  c2t: Buffer
  /** Target → host bytes, as one stream. */
  t2c: Buffer
}

export class RecordingProxy {
  readonly connections: RecordedConnection[] = []
  readonly #server: net.Server
  readonly #sockets = new Set<net.Socket>()
  #port = 0

  private constructor(upstreamPort: number, upstreamHost: string) {
    this.#server = net.createServer((down) => {
      const c2t: Buffer[] = []
      const t2c: Buffer[] = []
      const rec = { get c2t() { return Buffer.concat(c2t) }, get t2c() { return Buffer.concat(t2c) } }
      this.connections.push(rec)
      const up = net.connect({ host: upstreamHost, port: upstreamPort, noDelay: true })
      down.setNoDelay(true)
      for (const s of [down, up]) {
        this.#sockets.add(s)
        s.on('error', () => undefined)
        s.on('close', () => {
          this.#sockets.delete(s)
          down.destroy()
          up.destroy()
        })
      }
      down.on('data', (b: Buffer) => {
        c2t.push(Buffer.from(b))
        up.write(b)
      })
      up.on('data', (b: Buffer) => {
        t2c.push(Buffer.from(b))
        down.write(b)
      })
    })
  }

  static async listen(upstreamPort: number, upstreamHost = '127.0.0.1'): Promise<RecordingProxy> {
    const p = new RecordingProxy(upstreamPort, upstreamHost)
    await new Promise<void>((resolve) => p.#server.listen(0, '127.0.0.1', () => resolve()))
    p.#port = (p.#server.address() as net.AddressInfo).port
    return p
  }

  get port(): number {
    return this.#port
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/** Split a stream into PDUs by PLEN (a short tail is dropped). */
export function splitPdus(stream: Buffer): Buffer[] {
  const out: Buffer[] = []
  let off = 0
  while (off + 8 <= stream.length) {
    const plen = stream.readUInt32LE(off + 4)
    if (plen < 8 || off + plen > stream.length) break
    out.push(stream.subarray(off, off + plen))
    off += plen
  }
  return out
}

/**
 * Record one real session of our initiator against the target at `port`: connect (admin + one I/O
 * queue), write, read back, flush, disconnect. Returns each connection's streams.
 */
export async function recordInitiatorSession(port: number, subnqn: string, o: { hdgst?: boolean; ddgst?: boolean } = {}): Promise<RecordedConnection[]> {
  const { NvmeHost } = await import('../initiator/host.js')
  const proxy = await RecordingProxy.listen(port)
  const host = new NvmeHost({ controllerDefaults: { kato: 0, nrIoQueues: 1, adminTimeoutMs: 5000, ioTimeoutMs: 5000, ctrlLossTmoMs: 0, ...o } })
  try {
    await host.connect({ traddr: '127.0.0.1', trsvcid: proxy.port, subnqn })
    const dev = host.device(1, subnqn)
    if (dev !== undefined) {
      const data = Buffer.alloc(16384)
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff
      await dev.write(0, data)
      await dev.write(64, data.subarray(0, 512))
      await dev.read(0, 32)
      await dev.flush()
    }
  } finally {
    await host.close()
    await proxy.close()
  }
  return proxy.connections.map((c) => ({ c2t: c.c2t, t2c: c.t2c }))
}
