/**
 * How every `nvmf-fault` command prints: the `-o, --output-format json|normal` option (nvme-cli's
 * spelling), JSON with 64-bit values as numbers where they fit, and a stdout that a reader may close
 * early (`nvmf-fault discover | head -1`).
 */
import { Option } from 'commander'

export const OUTPUT_FORMATS = ['normal', 'json'] as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

/** `-o, --output-format <format>`, default `normal`, as nvme-cli names it. */
export function outputFormatOption(): Option {
  return new Option('-o, --output-format <format>', 'output format').choices(OUTPUT_FORMATS).default('normal')
}

/** The format a command was given (commander validated the choice). */
export function outputFormatOf(opts: { outputFormat?: string }): OutputFormat {
  return opts.outputFormat === 'json' ? 'json' : 'normal'
}

/**
 * Keys whose values are 64-bit counters or sizes that the control plane carries as decimal strings
 * (JSON has no 64-bit integer): the printer turns them back into numbers when they fit.
 */
const U64_STRING_KEYS: ReadonlySet<string> = new Set(['genctr', 'numrec', 'anaChangeCount', 'seed', 'nsze', 'ncap', 'nuse', 'blocks', 'capacityBytes', 'sizeBytes', 'changeCount'])

/**
 * A JSON value as it should print: a bigint, or a decimal string under a 64-bit key, becomes a
 * number when it is at most Number.MAX_SAFE_INTEGER (2^53 - 1, the largest integer every JSON
 * reader keeps exactly); larger values stay decimal strings so that no digit is lost.
 */
export function jsonValue(key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString()
  if (typeof v === 'string' && U64_STRING_KEYS.has(key) && /^\d{1,20}$/.test(v)) {
    const n = Number(v)
    return Number.isSafeInteger(n) ? n : v
  }
  return v
}

/** Pretty-printed JSON (two-space indent, as nvme-cli prints) with {@link jsonValue} applied. */
export function jsonText(v: unknown): string {
  return JSON.stringify(v, (k, x: unknown) => jsonValue(k, x), 2) ?? 'null'
}

/** Write one block of text to stdout, newline-terminated. */
export function printText(text: string, out: NodeJS.WritableStream = process.stdout): void {
  out.write(text.endsWith('\n') ? text : `${text}\n`)
}

/** Print `v` as JSON (json format) or the normal rendering `normal()` gives. */
export function printResult(format: OutputFormat, v: unknown, normal: () => string): void {
  printText(format === 'json' ? jsonText(v) : normal())
}

/**
 * A closed stdout (the reader of a pipe went away: `| head`) ends the command quietly with the exit
 * code it has so far, as `cat` does, instead of an unhandled EPIPE stack trace. Other stdout errors
 * are left to Node.
 */
export function exitQuietlyOnEpipe(stream: NodeJS.WriteStream = process.stdout, exit: (code: number) => void = (c) => process.exit(c)): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      exit(typeof process.exitCode === 'number' ? process.exitCode : 0)
      return
    }
    throw err
  })
}
