/** Error Information log page (LID 01h), 64-byte entries, newest first (wire reference 5.1). */
import { asBuffer } from './codec.js'
import { DecodeError } from '../errors.js'
import { decodeFields, encodeFields, field, type FieldDef } from './struct.js'

export const ERROR_LOG_ENTRY_SIZE = 64
/** Parameter Error Location value meaning "not applicable". */
export const ERROR_LOCATION_NONE = 0xffff

export interface ErrorLogEntry {
  /** Error count: non-zero, increasing; 0 marks an unused entry. */
  errorCount: bigint
  sqid: number
  cid: number
  /**
   * Status field as in the CQE STATUS (16 bits, phase position included). Use `statusToCqeField` /
   * `cqeFieldToStatus` from lib/status.ts to convert from/to the 15-bit form.
   */
  statusField: number
  /** Byte offset (bits 7:0) and bit (10:8) of the offending SQE field; 0xFFFF = not applicable. */
  parameterErrorLocation: number
  lba: bigint
  nsid: number
  vendorSpecificInfoAvailable: number
  transportType: number
  commandSpecificInfo: bigint
  transportSpecificInfo: number
}

export const ERROR_LOG_FIELDS: readonly FieldDef<keyof ErrorLogEntry>[] = [
  field('errorCount', 0, 'u64'),
  field('sqid', 8, 'u16'),
  field('cid', 10, 'u16'),
  field('statusField', 12, 'u16'),
  field('parameterErrorLocation', 14, 'u16'),
  field('lba', 16, 'u64'),
  field('nsid', 24, 'u32'),
  field('vendorSpecificInfoAvailable', 28, 'u8'),
  field('transportType', 29, 'u8'),
  field('commandSpecificInfo', 32, 'u64'),
  field('transportSpecificInfo', 40, 'u16'),
]

/** Encode entries (newest first) into `entries.length` × 64 bytes, or `slots` × 64 zero-padded. */
export function encodeErrorLog(entries: readonly Partial<ErrorLogEntry>[], slots = entries.length): Buffer {
  const buf = Buffer.alloc(Math.max(slots, entries.length) * ERROR_LOG_ENTRY_SIZE)
  entries.forEach((e, i) => encodeFields(buf, i * ERROR_LOG_ENTRY_SIZE, ERROR_LOG_FIELDS, e as Record<string, unknown>, `entries[${i}].`))
  return buf
}

/** Decode whole 64-byte entries; stops at the first unused entry (error count 0). */
export function decodeErrorLog(buf: Uint8Array): ErrorLogEntry[] {
  const b = asBuffer(buf)
  if (b.length % ERROR_LOG_ENTRY_SIZE !== 0) throw new DecodeError('error log', b.length - (b.length % ERROR_LOG_ENTRY_SIZE), `length ${b.length} is not a multiple of 64`)
  const out: ErrorLogEntry[] = []
  for (let o = 0; o + ERROR_LOG_ENTRY_SIZE <= b.length; o += ERROR_LOG_ENTRY_SIZE) {
    const e = decodeFields(b, o, ERROR_LOG_FIELDS) as unknown as ErrorLogEntry
    if (e.errorCount === 0n) break
    out.push(e)
  }
  return out
}
