/**
 * Built-in fault types on PDUs: corrupt the header digest, the data digest, the data or a header
 * byte of a PDU sent (`at: pdu-send`, the default) or received (`at: pdu-received`: the target then
 * processes the corrupted bytes as if the host had sent them); split a PDU into small TCP writes;
 * coalesce PDUs into one write; limit bandwidth (token bucket per connection).
 */
import { crc32c } from '../../lib/crc32c.js'
import { ConfigError } from '../../lib/errors.js'
import { CH_FLAGS, CH_HLEN, CH_PDO, CH_PLEN, DIGEST_SIZE, PduFlags, PduType } from '../../lib/pdu/common.js'
import type { Decision } from '../../target/core/hooks.js'
import type { FaultSchemas, JsonObject } from '../proto.js'
import { validateMessage } from '../proto.js'
import type { FaultRegistry } from '../registry.js'

type CorruptWhat = 'hdgst' | 'ddgst' | 'data' | 'header'

interface CorruptConfig {
  what: CorruptWhat
  offset: number
  xor: number
  fixDigest: boolean
}

/**
 * Corrupt one byte of a PDU (whole wire image). Returns undefined when the PDU has no such
 * element (no HDGST negotiated, no data). Layout per NVMe/TCP 1.0 section 3.6.1: CH+PSH (hlen),
 * HDGST (4 if HDGSTF), pad to PDO, data, DDGST (4 if DDGSTF).
 */
export function corruptPdu(wire: Buffer, c: CorruptConfig): Buffer | undefined {
  if (wire.length < 8) return undefined
  const flags = wire[CH_FLAGS]!
  const hlen = wire[CH_HLEN]!
  const pdo = wire[CH_PDO]!
  const plen = wire.readUInt32LE(CH_PLEN)
  if (plen !== wire.length) return undefined
  const out = Buffer.from(wire)
  const hasDdgst = (flags & PduFlags.DDGSTF) !== 0
  const dataStart = pdo
  const dataEnd = plen - (hasDdgst ? DIGEST_SIZE : 0)
  let at: number
  switch (c.what) {
    case 'hdgst':
      if ((flags & PduFlags.HDGSTF) === 0) return undefined
      at = hlen + (c.offset % DIGEST_SIZE)
      break
    case 'ddgst':
      if (!hasDdgst) return undefined
      at = plen - DIGEST_SIZE + (c.offset % DIGEST_SIZE)
      break
    case 'header':
      if (c.offset >= hlen) return undefined
      at = c.offset
      break
    case 'data':
      if (pdo === 0 || dataEnd <= dataStart) return undefined
      at = dataStart + (c.offset % (dataEnd - dataStart))
      break
  }
  out[at] = out[at]! ^ c.xor
  if (c.what === 'data' && c.fixDigest && hasDdgst) {
    // Silent corruption: the digest matches the corrupted data (only the content check can see it).
    out.writeUInt32LE(crc32c(out.subarray(dataStart, dataEnd)) >>> 0, dataEnd)
  }
  return out
}

export function registerPduFaults(registry: FaultRegistry, schemas: FaultSchemas): void {
  const params = (name: string, json: JsonObject, path: string): JsonObject => validateMessage(schemas.type(name), json, path)

  registry.register<CorruptConfig>('corrupt', {
    // The seam is the direction: pdu-send corrupts what the target sends, pdu-received what it got.
    seams: ['pdu-send', 'pdu-received'],
    description: 'corrupt the header digest, the data digest, the data or a header byte of a PDU sent (default) or received (at: pdu-received)',
    parseConfig: (json, path) => {
      const p = params('CorruptParams', json, path) as { what?: string; offset?: number; xor?: number; fixDigest?: boolean }
      const what = p.what ?? 'data'
      if (!['hdgst', 'ddgst', 'data', 'header'].includes(what)) throw new ConfigError(`${path}.what`, `must be hdgst, ddgst, data or header, got '${what}'`)
      const xor = p.xor ?? 0xff
      if (xor < 1 || xor > 0xff) throw new ConfigError(`${path}.xor`, 'must be in [1, 255]')
      return { what: what as CorruptWhat, offset: p.offset ?? 0, xor, fixDigest: p.fixDigest ?? false }
    },
    create: (c) => ({
      decide: (ev): Decision | undefined => {
        // Received: the target re-checks the replacement as it checks socket bytes (hooks.ts), so a
        // bad HDGST ends the connection (C2HTermReq FES 03h) and a bad DDGST fails the command (22h).
        const wire = ev.seam === 'pdu-send' ? Buffer.concat(ev.tx.parts) : ev.seam === 'pdu-received' ? ev.rx.raw : undefined
        const out = wire === undefined ? undefined : corruptPdu(wire, c)
        return out === undefined ? undefined : { action: 'mutate', parts: [out] }
      },
    }),
  })

  registry.register<{ size: number; sizes: number[]; gapMs: number }>('segment', {
    seams: ['pdu-send'],
    description: 'write an outgoing PDU in small pieces (optionally with a gap between them)',
    parseConfig: (json, path) => {
      const p = params('SegmentParams', json, path) as { size?: number; sizes?: number[]; gapMs?: number }
      const sizes = p.sizes ?? []
      sizes.forEach((s, i) => {
        if (s < 1) throw new ConfigError(`${path}.sizes[${i}]`, 'must be >= 1')
      })
      const size = p.size ?? (sizes.length === 0 ? 1 : 0)
      if (sizes.length === 0 && size < 1) throw new ConfigError(`${path}.size`, 'must be >= 1')
      return { size, sizes, gapMs: p.gapMs ?? 0 }
    },
    create: (c) => ({
      decide: (ev): Decision | undefined => {
        if (ev.seam !== 'pdu-send') return undefined
        const total = ev.tx.parts.reduce((n, b) => n + b.length, 0)
        const sizes: number[] = []
        let left = total
        for (const s of c.sizes) {
          if (left <= 0) break
          sizes.push(Math.min(s, left))
          left -= s
        }
        const step = c.size > 0 ? c.size : (c.sizes[c.sizes.length - 1] ?? total)
        while (left > 0) {
          sizes.push(Math.min(step, left))
          left -= step
        }
        return { action: 'segment', sizes, ...(c.gapMs > 0 ? { gapMs: c.gapMs } : {}) }
      },
    }),
  })

  registry.register<{ maxPdus: number; maxBytes: number }>('coalesce', {
    seams: ['pdu-send'],
    description: 'hold C2HData PDUs and write them with the PDU that ends the command, as one write',
    parseConfig: (json, path) => {
      const p = params('CoalesceParams', json, path) as { maxPdus?: number; maxBytes?: number }
      const maxBytes = p.maxBytes ?? 1024 * 1024
      if (maxBytes < 1) throw new ConfigError(`${path}.maxBytes`, 'must be >= 1')
      return { maxPdus: p.maxPdus ?? 0, maxBytes }
    },
    create: (c) => {
      // The target does the holding (`hold` decision): held PDUs go out with the next PDU written on
      // the connection, in one corked write. Only C2HData without SUCCESS is held: each such PDU is
      // always followed by more data or by its CapsuleResp, so nothing waits forever — even if this
      // fault is removed meanwhile. Per connection, what is held now (to apply maxPdus/maxBytes).
      const held = new Map<number, { pdus: number; bytes: number }>()
      return {
        decide: (ev): Decision | undefined => {
          if (ev.seam !== 'pdu-send') return undefined
          const id = ev.ctx.connectionId
          const now = held.get(id) ?? { pdus: 0, bytes: 0 }
          const pdu = ev.tx.pdu
          const holdable = pdu.type === PduType.C2H_DATA && !pdu.success
          const bytes = now.bytes + ev.tx.parts.reduce((n, b) => n + b.length, 0)
          const full = (c.maxPdus > 0 && now.pdus + 1 >= c.maxPdus) || bytes >= c.maxBytes
          if (holdable && !full) {
            held.set(id, { pdus: now.pdus + 1, bytes })
            return { action: 'hold' }
          }
          // This PDU is written, and what was held goes out in front of it.
          held.delete(id)
          return undefined
        },
        stop: () => held.clear(),
      }
    },
  })

  registry.register<{ rate: number; burst: number }>('bandwidth', {
    seams: ['pdu-send', 'pdu-received'],
    description: 'limit the bandwidth of a connection (bytes per second, token bucket)',
    parseConfig: (json, path) => {
      const p = params('BandwidthParams', json, path) as { bytesPerSecond?: number; burstBytes?: number }
      if (p.bytesPerSecond === undefined || p.bytesPerSecond < 1) throw new ConfigError(`${path}.bytesPerSecond`, 'is required and must be >= 1')
      return { rate: p.bytesPerSecond, burst: p.burstBytes ?? 0 }
    },
    create: (c, ctx) => {
      // Per connection: the time at which the bytes sent so far have drained at `rate`.
      const busyUntil = new Map<number, number>()
      const burstMs = (c.burst * 1000) / c.rate
      return {
        decide: (ev): Decision | undefined => {
          const bytes = ev.seam === 'pdu-send' ? ev.tx.parts.reduce((n, b) => n + b.length, 0) : ev.seam === 'pdu-received' ? ev.rx.raw.length : 0
          const now = ctx.clock.now()
          const start = Math.max(now - burstMs, busyUntil.get(ev.ctx.connectionId) ?? 0)
          const done = start + (bytes * 1000) / c.rate
          busyUntil.set(ev.ctx.connectionId, done)
          const wait = done - now
          return wait > 0 ? { action: 'delay', ms: wait } : undefined
        },
        stop: () => busyUntil.clear(),
      }
    },
  })
}
