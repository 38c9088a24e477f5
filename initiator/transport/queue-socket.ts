/**
 * The TCP connection of one host queue pair, its reads landing straight in a {@link ReceiveSlab}
 * (`net.connect`'s `onread`, not the Readable stream's 'data'; receive-slab.ts). Apart from
 * queue-pair.ts so the connect's socket options sit next to the slab geometry they use.
 */
import net from 'node:net'
import { ReceiveSlab } from './receive-slab.js'

/** Receive slab geometry: a read gets at least 16 KiB; a caller's read buffer keeps at most 128 KiB alive. */
const RECEIVE_SLAB_BYTES = 128 * 1024
const RECEIVE_MIN_TAIL = 16 * 1024

/** Connect to `host:port`; each read is handed to `onChunk` as a view of the slab. */
export function connectQueueSocket(o: { host: string; port: number }, onChunk: (chunk: Buffer) => void): net.Socket {
  const slab = new ReceiveSlab({ size: RECEIVE_SLAB_BYTES, minTail: RECEIVE_MIN_TAIL })
  return net.connect({
    host: o.host,
    port: o.port,
    onread: {
      buffer: () => slab.next(),
      callback: (n, region) => {
        onChunk(slab.take(region as Buffer, n))
        return true
      },
    },
  })
}
