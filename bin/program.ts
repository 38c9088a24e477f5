import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { registerTargetCommand } from '../target/cli.js'
import { registerCtlCommand } from '../faults/cli.js'
import { registerInitiatorCommands } from '../initiator/cli.js'
import { registerKernelCommands } from '../kernel/cli.js'
import { registerConformanceCommand } from '../conformance/cli.js'

/** The package version, read from package.json (two levels up in both the source and dist layouts). */
export function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'nvmf-fault' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // try the next layout
    }
  }
  return '0.0.0'
}

/**
 * The `nvmf-fault` command line. Each part registers its own subcommands (target, ctl, discover,
 * connect, io) so that this file stays a list.
 */
export function createProgram(): Command {
  const program = new Command()
    .name('nvmf-fault')
    .description('NVMe/TCP fault-injecting target and initiator')
    .version(packageVersion(), '-V, --version')
    // Errors are thrown to bin/main.ts, which prints each on one line with its code and exit code.
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
  registerTargetCommand(program)
  registerCtlCommand(program)
  registerInitiatorCommands(program)
  registerKernelCommands(program)
  registerConformanceCommand(program, { version: packageVersion() })
  return program
}
