/**
 * CRC-32C (Castagnoli), the NVMe/TCP header and data digest (wire spec 1.8): reflected polynomial
 * 0x82F63B78, initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF — the iSCSI CRC.
 *
 * `seed` continues a previous result: `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`, so a digest
 * over scattered buffers needs no concatenation. Both implementations share this convention (it is
 * the one `@node-rs/crc32` uses).
 */
import { createRequire } from 'node:module'

const POLY = 0x82f63b78

/** Slicing-by-8 tables: table k maps a byte to its CRC contribution k bytes ahead. Built once, never mutated. */
const TABLES: readonly Uint32Array[] = (() => {
  const t0 = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    t0[n] = c >>> 0
  }
  const tables = [t0]
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1]!
    const tk = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      const p = prev[n]!
      tk[n] = ((p >>> 8) ^ t0[p & 0xff]!) >>> 0
    }
    tables.push(tk)
  }
  return tables
})()

/** Pure TypeScript CRC-32C (slicing-by-8). Same contract as {@link crc32c}. */
export function crc32cPure(data: Uint8Array, seed = 0): number {
  return crc32cPureRange(data, 0, data.length, seed)
}

/** Pure CRC-32C of `data[start, end)` continuing from `seed`: no view is made of the range. */
function crc32cPureRange(data: Uint8Array, start: number, end: number, seed: number): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array]
  let crc = ~seed
  let i = start
  const end8 = end - ((end - start) & 7)
  while (i < end8) {
    const lo = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))
    crc =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!
    i += 8
  }
  while (i < end) {
    crc = t0[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)
    i++
  }
  return ~crc >>> 0
}

type Crc32cFn = (data: Uint8Array, seed?: number) => number

/**
 * Load the native binding if this platform has one. `@node-rs/crc32` ships prebuilt binaries per
 * platform; a missing binary must not make the library unusable, so failure falls back to pure TS.
 */
function loadNative(): Crc32cFn | undefined {
  try {
    const require = createRequire(import.meta.url)
    const mod = require('@node-rs/crc32') as { crc32c?: (input: Uint8Array, initialState?: number | null) => number }
    const fn = mod.crc32c
    if (typeof fn !== 'function') return undefined
    // Self-test against the spec 1.8 check value before trusting it.
    if (fn(Buffer.from('123456789', 'latin1'), 0) !== 0xe3069283) return undefined
    return (data, seed = 0) => fn(data, seed)
  } catch {
    return undefined
  }
}

const native = loadNative()

/** Which implementation {@link crc32c} uses on this machine. */
export const crc32cImplementation: 'native' | 'pure' = native === undefined ? 'pure' : 'native'

/** Native CRC-32C (`@node-rs/crc32`); the pure implementation when no native binding loaded. */
export const crc32cNative: Crc32cFn = native ?? crc32cPure

/**
 * Below this many bytes the pure slicing-by-8 is cheaper than a call into the native binding (each
 * native call costs about 0.2 µs of N-API overhead; the pure loop about 1.6 ns per byte, measured on
 * the bench machine, docs/performance.md round 3): every PDU header digest (24 to 72 bytes) is below,
 * every 4 KiB data digest far above.
 */
export const CRC32C_NATIVE_MIN = 112

/** CRC-32C of `data`, continuing from `seed` (the result of an earlier call; 0 to start). */
export const crc32c: Crc32cFn =
  native === undefined ? crc32cPure : (data, seed = 0) => (data.length < CRC32C_NATIVE_MIN ? crc32cPureRange(data, 0, data.length, seed) : native(data, seed))

/**
 * CRC-32C of `data[start, end)`, continuing from `seed`, without making a view of the range when it
 * is short (a header digest: HDGST covers bytes 0..HLEN of the PDU buffer, spec 1.8).
 */
export function crc32cRange(data: Uint8Array, start: number, end: number, seed = 0): number {
  if (end - start < CRC32C_NATIVE_MIN || native === undefined) return crc32cPureRange(data, start, end, seed)
  return native(data.subarray(start, end), seed)
}
