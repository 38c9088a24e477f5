/** Bench sections for the NVMe/TCP PDU layer: codecs, framer, CRC32C. */
import { crc32cNative, crc32cPure, crc32cImplementation } from '../lib/crc32c.js'
import { PduFramer } from '../lib/framer.js'
import {
  PduType,
  decodeC2HData,
  decodeCapsuleCmd,
  decodeCapsuleResp,
  decodeH2CData,
  decodePdu,
  encodeC2HDataParts,
  encodeCapsuleCmdParts,
  encodeCapsuleRespParts,
  encodeH2CDataParts,
  encodePduParts,
  type Pdu,
  type PduEncodeOptions,
} from '../lib/pdu/index.js'
import type { BenchRow, BenchSection } from './harness.js'

function sqe(opc: number, cid: number, len: number): Buffer {
  const b = Buffer.alloc(64)
  b[0] = opc
  b[1] = 0x40
  b.writeUInt16LE(cid, 2)
  b.writeUInt32LE(1, 4)
  b.writeUInt32LE(len, 32)
  b[39] = 0x5a
  return b
}

function filled(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

interface CodecCase {
  name: string
  pdu: Pdu
  dataBytes: number
  decode: (raw: Buffer, o: PduEncodeOptions) => unknown
}

const cases: CodecCase[] = [
  { name: 'CapsuleCmd', pdu: { type: PduType.CAPSULE_CMD, sqe: sqe(0x02, 7, 4096) }, dataBytes: 0, decode: decodeCapsuleCmd },
  { name: 'CapsuleResp', pdu: { type: PduType.CAPSULE_RESP, cqe: Buffer.alloc(16, 1) }, dataBytes: 0, decode: decodeCapsuleResp },
  { name: 'C2HData 4 KiB', pdu: { type: PduType.C2H_DATA, cccid: 7, datao: 0, last: true, success: false, data: filled(4096, 1) }, dataBytes: 4096, decode: decodeC2HData },
  { name: 'H2CData 128 KiB', pdu: { type: PduType.H2C_DATA, cccid: 7, ttag: 1, datao: 0, last: true, data: filled(131072, 2) }, dataBytes: 131072, decode: decodeH2CData },
]

const encoders: Record<string, (p: Pdu, o: PduEncodeOptions) => Buffer[]> = {
  CapsuleCmd: (p, o) => encodeCapsuleCmdParts(p as never, o),
  CapsuleResp: (p, o) => encodeCapsuleRespParts(p as never, o),
  'C2HData 4 KiB': (p, o) => encodeC2HDataParts(p as never, o),
  'H2CData 128 KiB': (p, o) => encodeH2CDataParts(p as never, o),
}

export const codecSection: BenchSection = {
  name: 'pdu-codec',
  run(ctx) {
    const rows: BenchRow[] = []
    for (const dg of [false, true]) {
      const opts = { hdgst: dg, ddgst: dg }
      const tag = dg ? ' +hdgst+ddgst' : ''
      for (const c of cases) {
        const enc = encoders[c.name]!
        let sink = 0
        const encRate = ctx.rate((n) => {
          for (let i = 0; i < n; i++) sink += enc(c.pdu, opts).length
        })
        const raw = Buffer.concat(enc(c.pdu, opts))
        const decRate = ctx.rate((n) => {
          for (let i = 0; i < n; i++) if (c.decode(raw, opts) === undefined) sink++
        })
        if (sink < 0) console.log(sink)
        // Without digests the data bytes are never touched (views / uncopied parts), so GB/s would mean nothing.
        const gbs = (r: number) => (c.dataBytes > 0 && dg ? { value2: (r * raw.length) / 1e9, unit2: 'GB/s' } : {})
        rows.push({ section: 'pdu-codec', name: `encode ${c.name}${tag}`, value: encRate, unit: 'PDU/s', ...gbs(encRate), note: 'parts (data uncopied)' })
        rows.push({ section: 'pdu-codec', name: `decode ${c.name}${tag}`, value: decRate, unit: 'PDU/s', ...gbs(decRate), note: dg ? 'digests verified' : '' })
      }
    }
    return rows
  },
}

/** A realistic mixed stream for one role, about 8 MiB. */
function stream(role: 'target' | 'host', dg: boolean): { buf: Buffer; count: number } {
  const o = { hdgst: dg, ddgst: dg }
  const pdus: Pdu[] = []
  for (let i = 0; pdus.length < 400; i++) {
    const cid = i & 0xfff
    if (role === 'target') {
      pdus.push({ type: PduType.CAPSULE_CMD, sqe: sqe(0x02, cid, 4096) })
      pdus.push({ type: PduType.CAPSULE_CMD, sqe: sqe(0x01, cid + 1, 4096), data: filled(4096, i) })
      if (i % 4 === 0) pdus.push({ type: PduType.H2C_DATA, cccid: cid + 2, ttag: 1, datao: 0, last: true, data: filled(131072, i) })
    } else {
      pdus.push({ type: PduType.C2H_DATA, cccid: cid, datao: 0, last: true, success: false, data: filled(4096, i) })
      pdus.push({ type: PduType.CAPSULE_RESP, cqe: Buffer.alloc(16, i & 0xff) })
      if (i % 4 === 0) pdus.push({ type: PduType.C2H_DATA, cccid: cid + 2, datao: 0, last: true, success: true, data: filled(131072, i) })
    }
  }
  return { buf: Buffer.concat(pdus.flatMap((p) => encodePduParts(p, o))), count: pdus.length }
}

export const framerSection: BenchSection = {
  name: 'framer',
  run(ctx) {
    const rows: BenchRow[] = []
    const CHUNK = 64 * 1024
    for (const role of ['target', 'host'] as const) {
      for (const dg of [false, true]) {
        const { buf: s, count: pdusPerRun } = stream(role, dg)
        const chunks: Buffer[] = []
        for (let off = 0; off < s.length; off += CHUNK) chunks.push(s.subarray(off, off + CHUNK))
        for (const withDecode of [false, true]) {
          const opts = { hdgst: dg, ddgst: dg }
          let pdus = 0
          const rate = ctx.rate((n) => {
            for (let k = 0; k < n; k++) {
              const f = new PduFramer({
                role,
                hdgst: dg,
                ddgst: dg,
                maxH2CData: 131072,
                maxC2HData: 131072,
                onPdu: withDecode
                  ? (raw) => {
                      decodePdu(raw, opts)
                      pdus++
                    }
                  : () => {
                      pdus++
                    },
              })
              for (const c of chunks) f.push(c)
            }
          })
          rows.push({
            section: 'framer',
            name: `${role}-bound stream${dg ? ' +digests' : ''}${withDecode ? ' +decodePdu' : ''}`,
            value: (rate * s.length) / 1e9,
            unit: 'GB/s',
            value2: rate * pdusPerRun,
            unit2: 'PDU/s',
            note: `${(s.length / 1048576).toFixed(1)} MiB, ${pdusPerRun} PDUs in 64 KiB chunks`,
          })
          if (pdus < 0) console.log(pdus)
        }
      }
    }
    return rows
  },
}

export const crcSection: BenchSection = {
  name: 'crc32c',
  run(ctx) {
    const rows: BenchRow[] = []
    for (const size of [4096, 131072]) {
      const buf = filled(size, 3)
      let sink = 0
      const native = ctx.rate((n) => {
        for (let i = 0; i < n; i++) sink ^= crc32cNative(buf)
      })
      const pure = ctx.rate((n) => {
        for (let i = 0; i < n; i++) sink ^= crc32cPure(buf)
      })
      if (sink === 0.5) console.log(sink)
      const label = size >= 1024 * 1024 ? `${size / 1048576} MiB` : `${size / 1024} KiB`
      rows.push({ section: 'crc32c', name: `native (${crc32cImplementation}) ${label}`, value: (native * size) / 1e9, unit: 'GB/s' })
      rows.push({ section: 'crc32c', name: `pure TS slicing-by-8 ${label}`, value: (pure * size) / 1e9, unit: 'GB/s' })
      rows.push({ section: 'crc32c', name: `ratio native/pure ${label}`, value: native / pure, unit: 'x' })
    }
    return rows
  },
}

export const pduSections: BenchSection[] = [codecSection, framerSection, crcSection]
