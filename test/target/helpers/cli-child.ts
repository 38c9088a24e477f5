/**
 * Runs the real `nvmf-fault` command line in a child process (for the CLI test). Does nothing
 * unless NVMF_CLI_CHILD=1, since the test runner also loads every file under test/.
 */
import { createProgram } from '../../../bin/program.js'

if (process.env['NVMF_CLI_CHILD'] === '1') await createProgram().parseAsync(process.argv)
