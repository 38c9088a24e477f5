/**
 * Target configuration: one YAML or JSON document (ports, subsystems, hosts, namespaces, ANA groups,
 * per-port ANA states, referrals). `parseTargetConfig` validates a plain object and fills defaults;
 * every error is a `ConfigError` whose `path` names the field (`subsystems[0].namespaces[1].size`).
 * This module reads config files and is the one entry to the rest: the shapes (config-types.ts),
 * validation (config-validate.ts), sizes (config-size.ts) and the built-in default (config-defaults.ts).
 */
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../lib/errors.js'
import type { ResolvedConfig, TargetConfig } from './config-types.js'
import { parseTargetConfig } from './config-validate.js'

export { ANA_STATE_NAMES, type AnaStateName } from '../lib/nvme/log-ana.js'
export type {
  PortConfig,
  NamespaceConfig,
  SubsystemConfig,
  HostConfig,
  ReferralConfig,
  TargetConfig,
  ResolvedNamespace,
  ResolvedSubsystem,
  ResolvedPort,
  ResolvedConfig,
} from './config-types.js'
export { MAX_MDTS, MAX_IO_QUEUES_LIMIT, parseNamespaceConfig, parseTargetConfig, parseReferral } from './config-validate.js'
export { DEFAULT_SUBSYSTEM_NQN, defaultTargetConfig } from './config-defaults.js'
export { parseSize } from './config-size.js'

/** Reads a YAML or JSON file (JSON is YAML) and validates it. */
export async function loadTargetConfigFile(file: string): Promise<ResolvedConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(file, `cannot read: ${(err as Error).message}`)
  }
  let obj: unknown
  try {
    obj = parseYaml(text)
  } catch (err) {
    throw new ConfigError(file, `not valid YAML/JSON: ${(err as Error).message}`)
  }
  return parseTargetConfig(obj)
}

/** Reads a config file as a plain (unvalidated) object. */
export async function readTargetConfigFile(file: string): Promise<TargetConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(file, `cannot read: ${(err as Error).message}`)
  }
  try {
    return parseYaml(text) as TargetConfig
  } catch (err) {
    throw new ConfigError(file, `not valid YAML/JSON: ${(err as Error).message}`)
  }
}
