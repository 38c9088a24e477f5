/**
 * The baseline: a raw Node echo over loopback, one process each side, shaped like the NVMe cases
 * (same request and response sizes, same queue depth spread over the same number of connections).
 * Frame: `u32 requestBytes, u32 responseBytes, payload`; the server answers with `u32 bytes,
 * payload` from a buffer allocated once per size. No parsing beyond the length words: this is the
 * floor that any protocol over one TCP socket pays in Node.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'
import * as hdr from 'hdr-histogram-js'
import { summarize, type LatencySummary } from '../initiator/qos/latency-tracker.js'
import type { Handlers } from './rpc.js'

/** Frames length-prefixed messages out of a socket's chunks; `onFrame(head, bodyBytes)` per whole frame. */
class Frames {
  #pending: Buffer | undefined
  readonly headBytes: number
  readonly bodyLength: (head: Buffer) => number
  readonly onFrame: (head: Buffer) => void
  constructor(headBytes: number, bodyLength: (head: Buffer) => number, onFrame: (head: Buffer) => void) {
    this.headBytes = headBytes
    this.bodyLength = bodyLength
    this.onFrame = onFrame
  }
  push(chunk: Buffer): void {
    const buf = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk])
    let off = 0
    for (;;) {
      if (buf.length - off < this.headBytes) break
      const head = buf.subarray(off, off + this.headBytes)
      const total = this.headBytes + this.bodyLength(head)
      if (buf.length - off < total) break
      this.onFrame(head)
      off += total
    }
    this.#pending = off === buf.length ? undefined : buf.subarray(off)
  }
}

export interface EchoJob {
  port: number
  requestBytes: number
  responseBytes: number
  qd: number
  queues: number
  timeMs: number
  maxOps: number
}

export interface EchoResult {
  ops: number
  elapsedMs: number
  latency: LatencySummary
}

export function echoServerHandlers(): Handlers {
  let server: Server | undefined
  const sockets = new Set<Socket>()
  const replies = new Map<number, Buffer>()
  const reply = (n: number): Buffer => {
    let b = replies.get(n)
    if (b === undefined) {
      b = Buffer.alloc(4 + n)
      b.writeUInt32LE(n, 0)
      replies.set(n, b)
    }
    return b
  }
  return {
    listen: () =>
      new Promise<{ port: number }>((resolve, reject) => {
        server = createServer((s) => {
          s.setNoDelay(true)
          sockets.add(s)
          s.on('close', () => sockets.delete(s))
          s.on('error', () => s.destroy())
          const f = new Frames(8, (h) => h.readUInt32LE(0), (h) => s.write(reply(h.readUInt32LE(4))))
          s.on('data', (c: Buffer) => f.push(c))
        })
        server.once('error', reject)
        server.listen(0, '127.0.0.1', () => resolve({ port: (server!.address() as { port: number }).port }))
      }),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())))
    },
  }
}

export function echoClientHandlers(): Handlers {
  return {
    run: async (j: EchoJob): Promise<EchoResult> => {
      const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
      const request = Buffer.alloc(8 + j.requestBytes)
      request.writeUInt32LE(j.requestBytes, 0)
      request.writeUInt32LE(j.responseBytes, 4)
      const socks = await Promise.all(
        Array.from(
          { length: j.queues },
          () =>
            new Promise<Socket>((resolve, reject) => {
              const s = connect({ host: '127.0.0.1', port: j.port, noDelay: true }, () => resolve(s))
              s.once('error', reject)
            }),
        ),
      )
      let ops = 0
      let issued = 0
      const start = performance.now()
      const deadline = start + j.timeMs
      await new Promise<void>((done) => {
        let inflight = 0
        // Per connection, replies come back in order: a FIFO of send times is enough.
        const sent = socks.map(() => [] as number[])
        const send = (q: number): void => {
          issued++
          inflight++
          sent[q]!.push(performance.now())
          socks[q]!.write(request)
        }
        socks.forEach((s, q) => {
          const f = new Frames(4, (h) => h.readUInt32LE(0), () => {
            const now = performance.now()
            hist.recordValue(Math.max(1, Math.round((now - sent[q]!.shift()!) * 1000)))
            ops++
            inflight--
            if (now < deadline && issued < j.maxOps) send(q)
            else if (inflight === 0) done()
          })
          s.on('data', (c: Buffer) => f.push(c))
        })
        for (let i = 0; i < j.qd; i++) send(i % j.queues)
      })
      const elapsedMs = performance.now() - start
      for (const s of socks) s.destroy()
      return { ops, elapsedMs, latency: summarize(hist) }
    },
    close: () => undefined,
  }
}
