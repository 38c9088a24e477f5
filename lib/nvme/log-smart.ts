/** SMART / Health Information log page (LID 02h), 512 bytes (wire reference 5.2). */
import { decodeStruct, encodeFields, field, type FieldDef } from './struct.js'

export const SMART_LOG_SIZE = 512

export interface SmartLog {
  criticalWarning: number
  /** Composite temperature in kelvin. */
  compositeTemperature: number
  availableSpare: number
  availableSpareThreshold: number
  percentageUsed: number
  enduranceGroupCriticalWarning: number
  /** 128-bit counters. */
  dataUnitsRead: bigint
  dataUnitsWritten: bigint
  hostReadCommands: bigint
  hostWriteCommands: bigint
  controllerBusyTime: bigint
  powerCycles: bigint
  powerOnHours: bigint
  unsafeShutdowns: bigint
  mediaErrors: bigint
  numErrorLogEntries: bigint
  warningTempTime: number
  criticalCompositeTempTime: number
  tempSensor1: number
  tempSensor2: number
  tempSensor3: number
  tempSensor4: number
  tempSensor5: number
  tempSensor6: number
  tempSensor7: number
  tempSensor8: number
  thermalMgmtTemp1TransitionCount: number
  thermalMgmtTemp2TransitionCount: number
  thermalMgmtTemp1TotalTime: number
  thermalMgmtTemp2TotalTime: number
}

export const SMART_LOG_FIELDS: readonly FieldDef<keyof SmartLog>[] = [
  field('criticalWarning', 0, 'u8'),
  field('compositeTemperature', 1, 'u16'),
  field('availableSpare', 3, 'u8'),
  field('availableSpareThreshold', 4, 'u8'),
  field('percentageUsed', 5, 'u8'),
  field('enduranceGroupCriticalWarning', 6, 'u8'),
  field('dataUnitsRead', 32, 'u128'),
  field('dataUnitsWritten', 48, 'u128'),
  field('hostReadCommands', 64, 'u128'),
  field('hostWriteCommands', 80, 'u128'),
  field('controllerBusyTime', 96, 'u128'),
  field('powerCycles', 112, 'u128'),
  field('powerOnHours', 128, 'u128'),
  field('unsafeShutdowns', 144, 'u128'),
  field('mediaErrors', 160, 'u128'),
  field('numErrorLogEntries', 176, 'u128'),
  field('warningTempTime', 192, 'u32'),
  field('criticalCompositeTempTime', 196, 'u32'),
  field('tempSensor1', 200, 'u16'),
  field('tempSensor2', 202, 'u16'),
  field('tempSensor3', 204, 'u16'),
  field('tempSensor4', 206, 'u16'),
  field('tempSensor5', 208, 'u16'),
  field('tempSensor6', 210, 'u16'),
  field('tempSensor7', 212, 'u16'),
  field('tempSensor8', 214, 'u16'),
  field('thermalMgmtTemp1TransitionCount', 216, 'u32'),
  field('thermalMgmtTemp2TransitionCount', 220, 'u32'),
  field('thermalMgmtTemp1TotalTime', 224, 'u32'),
  field('thermalMgmtTemp2TotalTime', 228, 'u32'),
]

export function encodeSmartLog(s: Partial<SmartLog>): Buffer {
  const buf = Buffer.alloc(SMART_LOG_SIZE)
  encodeFields(buf, 0, SMART_LOG_FIELDS, s as Record<string, unknown>)
  return buf
}
export function decodeSmartLog(buf: Uint8Array): SmartLog {
  return decodeStruct(buf, 0, SMART_LOG_SIZE, SMART_LOG_FIELDS, 'smart log') as unknown as SmartLog
}
