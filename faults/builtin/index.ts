import type { FaultSchemas } from '../proto.js'
import type { FaultRegistry } from '../registry.js'
import { registerHookFaults } from './hook-faults.js'
import { registerPduFaults } from './pdu-faults.js'
import { registerTimerFaults } from './timer-faults.js'

export { resolveStatus } from './hook-faults.js'
export { corruptPdu } from './pdu-faults.js'
export { shuffled } from './timer-faults.js'

/** Register every built-in fault type into `registry` (a fresh one per engine). */
export function registerBuiltinFaults(registry: FaultRegistry, schemas: FaultSchemas): FaultRegistry {
  registerHookFaults(registry, schemas)
  registerPduFaults(registry, schemas)
  registerTimerFaults(registry, schemas)
  return registry
}
