/**
 * The configuration a target runs with when none is given (`npm start`, `nvmf-fault target` without
 * a file) and its subsystem's well-known NQN.
 */
import type { TargetConfig } from './config-types.js'

export const DEFAULT_SUBSYSTEM_NQN = 'nqn.2014-08.org.nvmf-fault:default'

/** The built-in default of `npm start`: two ports, one subsystem, one 1 GiB memory namespace. */
export function defaultTargetConfig(): TargetConfig {
  return {
    ports: [
      { id: 1, address: '127.0.0.1', port: 4420 },
      { id: 2, address: '127.0.0.1', port: 4421 },
    ],
    subsystems: [
      {
        nqn: DEFAULT_SUBSYSTEM_NQN,
        allowAnyHost: true,
        anaGroups: [1],
        namespaces: [{ nsid: 1, size: '1GiB', anaGroup: 1 }],
      },
    ],
  }
}
