/**
 * `nvmf-fault conformance`: run the catalogue against one or more initiators and print TAP (default)
 * or the JSON report; `--json FILE` / `--html FILE` write them to files as well; `--list` prints the
 * catalogue. Exit status 1 when any check failed or erred.
 */
import { writeFile } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import { InvalidArgumentError } from '../lib/errors.js'
import { createProgressBar, showProgressHere } from '../bin/progress.js'
import { CATALOGUE, CATEGORIES, selectEntries } from './catalogue.js'
import { createDriverFactory, type DriverFactory, type DriverFactoryOptions } from './driver-factory.js'
import { kernelConsoleClean } from './checks-kernel.js'
import { loadHtmlRenderer, renderJson, renderTap, reportExitCode } from './output.js'
import { runCatalogue } from './run-catalogue.js'

interface ConformanceOpts {
  initiator: string[]
  scenario: string[]
  category: string[]
  seed: string
  output: 'tap' | 'json'
  json?: string
  html?: string
  list?: boolean
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]

export function listCatalogue(format: 'tap' | 'json'): string {
  if (format === 'json') return JSON.stringify(CATALOGUE.map((e) => ({ ...e.info, summary: e.summary, checks: e.checks.map((c) => c.id) })), null, 2) + '\n'
  return CATALOGUE.map((e) => `${e.info.id.padEnd(34)} ${e.info.category.padEnd(11)} ${e.info.title}${e.info.reference !== undefined ? ` (${e.info.reference})` : ''}\n${' '.repeat(47)}checks: ${e.checks.map((c) => c.id).join(', ')}`).join('\n') + '\n'
}

export function registerConformanceCommand(program: Command, o: { version: string; drivers?: DriverFactoryOptions }): void {
  program
    .command('conformance')
    .description('put initiators through the catalogue of fault scenarios and judge each check (TAP, JSON, HTML)')
    .option('--initiator <spec>', 'initiator under test: nvmf-fault, driver:CMD or linux:KERNELSPEC (repeatable)', collect, [])
    .option('--scenario <id>', 'run this catalogue entry (repeatable; see --list)', collect, [])
    .addOption(new Option('--category <c>', `run every entry of a category (repeatable: ${CATEGORIES.join(', ')})`).argParser(collect).default([]))
    .option('--seed <n>', 'run seed (fault PRNGs, workload data, UUIDs)', '1')
    .addOption(new Option('-o, --output <format>', 'stdout format').choices(['tap', 'json']).default('tap'))
    .option('--json <file>', 'also write the JSON report to FILE')
    .option('--html <file>', 'also write the HTML report to FILE')
    .option('--list', 'list the catalogue and exit')
    .action(async (opts: ConformanceOpts) => {
      if (opts.list === true) {
        process.stdout.write(listCatalogue(opts.output))
        return
      }
      const seed = Number(opts.seed)
      if (!Number.isSafeInteger(seed) || seed < 0) throw new InvalidArgumentError('seed', `must be a non-negative integer, got '${opts.seed}'`)
      const entries = selectEntries({ ids: opts.scenario, categories: opts.category })
      // Refuse before the run, not after minutes of it, when the HTML renderer is missing.
      const renderHtml = opts.html !== undefined ? await loadHtmlRenderer() : undefined
      const specs = opts.initiator.length > 0 ? opts.initiator : ['nvmf-fault']
      const initiators: DriverFactory[] = []
      for (const s of specs) initiators.push(await createDriverFactory(s, { version: o.version, log: (l) => process.stderr.write(`${l}\n`), ...o.drivers }))
      // A kernel host is also judged by its console (oops, BUG, WARNING, hung task); the check skips
      // for initiators without one.
      const judged = specs.some((s) => s.startsWith('linux:')) ? entries.map((e) => ({ ...e, checks: [...e.checks, kernelConsoleClean()] })) : entries
      // Two initiators with the same id would merge in the verdict table: number the repeats.
      const seen = new Map<string, number>()
      for (const f of initiators) {
        const n = (seen.get(f.info.id) ?? 0) + 1
        seen.set(f.info.id, n)
        if (n > 1) f.info.id = `${f.info.id}#${n}`
      }
      const bar = createProgressBar({ show: showProgressHere('normal'), unit: 'runs' })
      let report
      try {
        report = await runCatalogue({
          entries: judged,
          initiators,
          seed,
          version: o.version,
          onProgress: (p) => bar.update(p.done, p.total, `${p.initiator} ${p.scenario}: ${p.phase}`),
        })
      } finally {
        bar.stop()
      }
      process.stdout.write(opts.output === 'json' ? renderJson(report) : renderTap(report))
      if (opts.json !== undefined) await writeFile(opts.json, renderJson(report))
      if (opts.html !== undefined && renderHtml !== undefined) await writeFile(opts.html, renderHtml(report))
      process.exitCode = reportExitCode(report)
    })
}
