#!/usr/bin/env node
/**
 * `npm run fuzz -- --target|--initiator [--time S | --count N] [--seed N] [--from I] [--pcap F] [--rss-mb M] [--json]`
 *
 * Structure-aware fuzzing of the target (a live target in a child process) or of the initiator's
 * receive path (against a hostile fake target). Prints inputs/s, outcome counts per input class,
 * peak RSS and every invariant violation; exits 1 when there was one.
 */
import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { InvalidArgumentError } from '../lib/errors.js'
import { formatReport, type FuzzReport } from './report.js'
import { fuzzTarget } from './target-side.js'
import { fuzzInitiator } from './initiator-side.js'
import { hostStreamsFromCapture } from './pcap-sessions.js'

interface CliOpts {
  target?: boolean
  initiator?: boolean
  time?: string
  count?: string
  seed: string
  from?: string
  pcap?: string
  pcapPort: string
  rssMb?: string
  json?: boolean
}

function positive(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(name, `must be a positive number, got '${v}'`)
  return n
}

const program = new Command('nvmf-fault-fuzz')
  .description('fuzz the NVMe/TCP target or the initiator receive path')
  .option('--target', 'fuzz a live target in a child process')
  .option('--initiator', "fuzz the initiator's receive path against a hostile fake target")
  .option('--time <s>', 'run for this many seconds')
  .option('--count <n>', 'run this many cases (default 1000 unless --time)')
  .option('--seed <seed>', 'PRNG seed (case i replays from seed + i)', '1')
  .option('--from <i>', 'first case index (with --count 1: replay one case)')
  .option('--pcap <file>', 'also mutate the host→target streams of this capture (pcap or pcapng), e.g. a Linux host session')
  .option('--pcap-port <port>', 'target port in the capture', '4420')
  .option('--rss-mb <m>', 'RSS bound in MiB')
  .option('--json', 'print the report as JSON')
  .action(async (o: CliOpts) => {
    if (o.target === o.initiator) throw new InvalidArgumentError('target|initiator', 'choose exactly one of --target and --initiator')
    const time = positive(o.time, 'time')
    const countN = positive(o.count, 'count')
    const rss = positive(o.rssMb, 'rss-mb')
    const sessions = o.pcap === undefined ? [] : hostStreamsFromCapture(await readFile(o.pcap), positive(o.pcapPort, 'pcap-port') ?? 4420)
    if (o.pcap !== undefined) process.stderr.write(`${sessions.length} host sessions from ${o.pcap}\n`)
    const run = {
      sessions,
      seed: o.seed,
      ...(time !== undefined ? { timeMs: time * 1000 } : {}),
      ...(countN !== undefined ? { count: Math.floor(countN) } : {}),
      ...(rss !== undefined ? { rssLimitMb: rss } : {}),
      ...(o.from !== undefined ? { first: Math.floor(positive(o.from, 'from') ?? 0) } : {}),
      onProgress: (l: string) => process.stderr.write(`${l}\n`),
    }
    const report: FuzzReport = o.target === true ? await fuzzTarget(run) : await fuzzInitiator(run)
    process.stdout.write((o.json === true ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n')
    if (report.violations.length > 0) process.exitCode = 1
  })

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as { code?: string; message?: string }
  process.stderr.write(`nvmf-fault-fuzz: ${e.message ?? String(err)}${e.code !== undefined ? ` [${e.code}]` : ''}\n`)
  process.exitCode = 1
})
