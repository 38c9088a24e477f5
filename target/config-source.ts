/**
 * Where a target's configuration comes from: a config document in the native format or nvmetcli's
 * (detected, or named with `--config-format`), then moved to other TCP ports with `--port-base`.
 * The result is a native {@link TargetConfig} for `parseTargetConfig`/`createTarget`.
 */
import { ConfigError } from '../lib/errors.js'
import { readTargetConfigFile, type TargetConfig } from './config.js'
import { detectConfigFormat, fromNvmetcli, type ConfigFormat, type ConfigWarning } from './config-nvmetcli.js'

export type ConfigFormatOption = 'auto' | ConfigFormat
export const CONFIG_FORMAT_OPTIONS: readonly ConfigFormatOption[] = ['auto', 'native', 'nvmetcli']

export interface ConfigSourceOptions {
  /** Format of the document (default auto: {@link detectConfigFormat}). */
  format?: ConfigFormatOption
  /** Move the ports ({@link rebasePorts}). */
  portBase?: number
  /** Each field the target does not honour as written (nvmetcli documents). */
  onWarning?: (w: ConfigWarning) => void
}

/** A parsed config document (YAML/JSON object) → a native config, converted and rebased. */
export async function configFromDocument(doc: unknown, o: ConfigSourceOptions = {}): Promise<TargetConfig> {
  const wanted = o.format ?? 'auto'
  if (!CONFIG_FORMAT_OPTIONS.includes(wanted)) throw new ConfigError('format', `must be one of ${CONFIG_FORMAT_OPTIONS.join(', ')}, got '${String(wanted)}'`)
  const format = wanted === 'auto' ? detectConfigFormat(doc) : wanted
  let config: TargetConfig
  if (format === 'nvmetcli') {
    const imported = await fromNvmetcli(doc)
    for (const w of imported.warnings) o.onWarning?.(w)
    config = imported.config
  } else {
    config = doc as TargetConfig
  }
  return o.portBase === undefined ? config : rebasePorts(config, o.portBase)
}

/** Reads a YAML or JSON config file in either format (see {@link configFromDocument}). */
export async function readConfigSource(file: string, o: ConfigSourceOptions = {}): Promise<TargetConfig> {
  return configFromDocument(await readTargetConfigFile(file), o)
}

/**
 * The same topology on other TCP ports: the lowest configured port moves to `base` and every other
 * keeps its distance from it (4420..4425 with base 5420 → 5420..5425), so port ids, per-port ANA
 * tables, subsystem lists and referrals by port id stay as written. `base` 0 puts every port on a
 * free port (listen(0)). Ports configured as 0 stay 0; advertised ports are left as written (they
 * describe a NAT in front, not the bound port).
 */
export function rebasePorts(config: TargetConfig, base: number): TargetConfig {
  if (!Number.isInteger(base) || base < 0 || base > 65535) throw new ConfigError('portBase', `must be an integer in [0, 65535], got ${String(base)}`)
  if (!Array.isArray(config.ports)) return config
  const fixed = config.ports.map((p) => p.port).filter((n): n is number => typeof n === 'number' && n > 0)
  const lowest = fixed.length === 0 ? 0 : Math.min(...fixed)
  const highest = fixed.length === 0 ? 0 : Math.max(...fixed)
  if (base > 0 && base + (highest - lowest) > 65535)
    throw new ConfigError('portBase', `${base} + the span of the configured ports (${highest - lowest}) exceeds 65535`)
  return {
    ...config,
    ports: config.ports.map((p) => {
      if (typeof p.port !== 'number' || p.port <= 0) return p
      return { ...p, port: base === 0 ? 0 : base + (p.port - lowest) }
    }),
  }
}
