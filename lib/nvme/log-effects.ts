/** Commands Supported and Effects log page (LID 05h), 4096 bytes (wire reference 5.6). */
import { InvalidArgumentError } from '../errors.js'
import { asBuffer, need } from './codec.js'

export const EFFECTS_LOG_SIZE = 4096
export const EFFECTS_ACS_OFFSET = 0
export const EFFECTS_IOCS_OFFSET = 1024

/** Effects bits of one entry. */
export const Effects = {
  CSUPP: 1 << 0,
  LBCC: 1 << 1,
  NCC: 1 << 2,
  NIC: 1 << 3,
  CCC: 1 << 4,
  /** Command Submission and Execution, bits 18:16. */
  CSE_SHIFT: 16,
  CSE_MASK: 0x7 << 16,
  /** Command scope, bits 31:20. */
  SCOPE_SHIFT: 20,
} as const

export interface CommandEffectsLog {
  /** 256 entries, one per admin opcode. */
  acs: number[]
  /** 256 entries, one per I/O opcode. */
  iocs: number[]
}

/** Encode; `acs`/`iocs` may be sparse maps from opcode to effects (missing = 0). */
export function encodeEffectsLog(l: { acs?: Readonly<Record<number, number>> | readonly number[]; iocs?: Readonly<Record<number, number>> | readonly number[] }): Buffer {
  const buf = Buffer.alloc(EFFECTS_LOG_SIZE)
  const put = (src: Readonly<Record<number, number>> | readonly number[] | undefined, base: number, name: string): void => {
    if (src === undefined) return
    for (const [k, v] of Object.entries(src)) {
      const opc = Number(k)
      if (!Number.isInteger(opc) || opc < 0 || opc > 255) throw new InvalidArgumentError(name, `has an invalid opcode ${k}`)
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidArgumentError(`${name}[${opc}]`, 'must be a 32-bit value')
      buf.writeUInt32LE(v, base + opc * 4)
    }
  }
  put(l.acs, EFFECTS_ACS_OFFSET, 'acs')
  put(l.iocs, EFFECTS_IOCS_OFFSET, 'iocs')
  return buf
}

export function decodeEffectsLog(buf: Uint8Array): CommandEffectsLog {
  // Only ACS and IOCS are read: the 2048 bytes up to the end of IOCS (256 dwords) must be present.
  need(buf, 0, EFFECTS_IOCS_OFFSET + 256 * 4, 'effects log')
  const b = asBuffer(buf)
  const acs: number[] = []
  const iocs: number[] = []
  for (let i = 0; i < 256; i++) {
    acs.push(b.readUInt32LE(EFFECTS_ACS_OFFSET + i * 4))
    iocs.push(b.readUInt32LE(EFFECTS_IOCS_OFFSET + i * 4))
  }
  return { acs, iocs }
}
