/**
 * The exit codes of `nvmf-fault` (README, "Exit codes") and the one-line error message every failure
 * prints on stderr: `nvmf-fault: <message> [<code>]`.
 */
import { CommanderError } from 'commander'

export const EXIT = {
  /** The command did what it was asked. */
  OK: 0,
  /** It ran and failed: I/O errors, verify failures, invariant violations, an NVMe status, or the target refused a request. */
  FAILED: 1,
  /** The command line is wrong: unknown option, missing or bad option value, unreadable input file. */
  USAGE: 2,
  /** The target or control endpoint could not be reached, or stopped answering (refused, reset, timeout). */
  UNREACHABLE: 3,
} as const
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** Caller-side codes that mean "the command line or its input is wrong". */
const USAGE_CODES: ReadonlySet<string> = new Set(['ERR_NVMEOF_INVALID_ARG', 'ERR_NVMEOF_CONFIG', 'ENOENT', 'EISDIR', 'EACCES'])
const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['ERR_NVMEOF_CONNECTION', 'ERR_NVMEOF_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'])

/**
 * A control request the target refused (faults/control-client.ts ControlRequestError): it carries
 * the server's code as `remoteCode`. Recognised by shape so that the printer does not depend on
 * which control transport (socket or HTTP) raised it.
 */
function remoteCodeOf(err: unknown): string | undefined {
  const rc = (err as { remoteCode?: unknown } | null)?.remoteCode
  return typeof rc === 'string' ? rc : undefined
}

/** The stable code an error is reported with: its own `code`, the server's for a refused control request, else ERR_UNEXPECTED. */
export function errorCode(err: unknown): string {
  const remote = remoteCodeOf(err)
  if (remote !== undefined) return remote
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code !== '' ? code : 'ERR_UNEXPECTED'
}

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE
  // A request the target refused is a failed operation, whatever the reason it gives.
  if (remoteCodeOf(err) !== undefined) return EXIT.FAILED
  const code = errorCode(err)
  if (USAGE_CODES.has(code)) return EXIT.USAGE
  if (UNREACHABLE_CODES.has(code)) return EXIT.UNREACHABLE
  return EXIT.FAILED
}

/** `nvmf-fault: <message> [<code>]` on one line (commander's own "error: " prefix dropped). */
export function errorLine(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err)
  const message = raw.replace(/^error: /, '').replace(/\s*\n\s*/g, '; ').trim()
  return `nvmf-fault: ${message} [${errorCode(err)}]`
}
