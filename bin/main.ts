/**
 * Run the `nvmf-fault` command line: parse, run, and turn any failure into one stderr line with its
 * code and the documented exit code (bin/exit-codes.ts). A closed stdout ends the run quietly.
 */
import { CommanderError } from 'commander'
import { exitQuietlyOnEpipe } from './cli-output.js'
import { EXIT, errorLine, exitCodeFor } from './exit-codes.js'
import { createProgram } from './program.js'

/** Commander's own exits that already printed what the user asked for (help, version). */
const SILENT_EXITS: ReadonlySet<string> = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help', 'commander.executeSubCommandAsync'])

export async function main(argv: readonly string[]): Promise<void> {
  exitQuietlyOnEpipe()
  try {
    await createProgram().parseAsync([...argv])
  } catch (err) {
    if (err instanceof CommanderError && SILENT_EXITS.has(err.code)) {
      // `nvmf-fault` or `nvmf-fault ctl` without a verb prints the help and is a usage error.
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE
      return
    }
    process.stderr.write(`${errorLine(err)}\n`)
    process.exitCode = exitCodeFor(err)
  }
}
