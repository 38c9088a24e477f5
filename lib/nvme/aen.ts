/**
 * Asynchronous Event Request completion DW0 (wire reference 6.1/6.2; NVMe Base 2.0 Figure 146):
 * bits 2:0 event type, 15:8 event information, 23:16 log page to read to clear it.
 * Composed as `type | info << 8 | lid << 16`, as the Linux target does.
 */
import { checkUint } from './codec.js'

export const AenType = {
  ERROR: 0,
  SMART: 1,
  NOTICE: 2,
  IMMEDIATE: 3,
  ONESHOT: 4,
  CSS: 6,
  VENDOR: 7,
} as const

/** Event information values for AenType.NOTICE. */
export const AenNotice = {
  NS_CHANGED: 0x00,
  FW_ACTIVATION_STARTING: 0x01,
  TELEMETRY_LOG_CHANGED: 0x02,
  ANA_CHANGE: 0x03,
  PREDICTABLE_LATENCY_AGG: 0x04,
  LBA_STATUS_ALERT: 0x05,
  ENDURANCE_GROUP_EVENT_AGG: 0x06,
  DISC_CHANGE: 0xf0,
} as const

/** Complete DW0 values of the notices used for multipath and discovery. */
export const AenEvent = {
  NS_CHANGED: 0x00040002,
  FW_ACTIVATION_STARTING: 0x00030102,
  ANA_CHANGE: 0x000c0302,
  DISC_CHANGE: 0x0070f002,
} as const

/** AEC (Set Features 0Bh CDW11) / OAES bits enabling each notice. */
export const AenConfigBit = {
  NS_ATTR: 1 << 8,
  FW_ACTIVATION: 1 << 9,
  TELEMETRY: 1 << 10,
  ANA_CHANGE: 1 << 11,
  DISC_CHANGE: 1 << 31,
} as const

export interface AenDw0 {
  type: number
  info: number
  lid: number
}

export function makeAenDw0(e: AenDw0): number {
  return (checkUint(e.type, 7, 'type') | (checkUint(e.info, 0xff, 'info') << 8) | (checkUint(e.lid, 0xff, 'lid') << 16)) >>> 0
}

export function parseAenDw0(dw0: number): AenDw0 {
  return { type: dw0 & 0x7, info: (dw0 >>> 8) & 0xff, lid: (dw0 >>> 16) & 0xff }
}

/**
 * The AEC/OAES bit that enables a notice event, or undefined for events not gated by a notice bit.
 * A target only reports an event whose bit the host enabled (wire reference 6.2).
 */
export function aenConfigBitFor(dw0: number): number | undefined {
  const { type, info } = parseAenDw0(dw0)
  if (type !== AenType.NOTICE) return undefined
  switch (info) {
    case AenNotice.NS_CHANGED:
      return AenConfigBit.NS_ATTR
    case AenNotice.FW_ACTIVATION_STARTING:
      return AenConfigBit.FW_ACTIVATION
    case AenNotice.TELEMETRY_LOG_CHANGED:
      return AenConfigBit.TELEMETRY
    case AenNotice.ANA_CHANGE:
      return AenConfigBit.ANA_CHANGE
    case AenNotice.DISC_CHANGE:
      return AenConfigBit.DISC_CHANGE >>> 0
    default:
      return undefined
  }
}
