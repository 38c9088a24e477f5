/**
 * Progress bars for long CLI work (`io`, `ctl scenario run --wait`, `ctl trace dump`), drawn by
 * cli-progress on stderr so that stdout keeps only the result. A bar is shown only to a person: when
 * both stdout and stderr are terminals and the output format is `normal`; a pipe, a file, a CI log
 * or `-o json` gets no bar at all.
 */
import cliProgress from 'cli-progress'
import type { OutputFormat } from './cli-output.js'

export interface ProgressDecision {
  stdoutIsTty: boolean
  stderrIsTty: boolean
  format: OutputFormat
}

export function shouldShowProgress(d: ProgressDecision): boolean {
  return d.stdoutIsTty && d.stderrIsTty && d.format === 'normal'
}

/** The decision for this process. */
export function showProgressHere(format: OutputFormat): boolean {
  return shouldShowProgress({ stdoutIsTty: process.stdout.isTTY === true, stderrIsTty: process.stderr.isTTY === true, format })
}

export interface ProgressBar {
  /** Move the bar to `value` of `total`; `detail` is free text after the counts. */
  update(value: number, total: number, detail?: string): void
  /** Remove the bar (it is cleared, so the result printed next stands alone). */
  stop(): void
}

const NO_BAR: ProgressBar = { update: () => undefined, stop: () => undefined }

export interface ProgressOptions {
  show: boolean
  /** What is counted, e.g. "I/Os" or "steps". */
  unit: string
  stream?: NodeJS.WritableStream
}

export function createProgressBar(o: ProgressOptions): ProgressBar {
  if (!o.show) return NO_BAR
  const bar = new cliProgress.SingleBar(
    {
      format: `{bar} {percentage}% | {value}/{total} ${o.unit} | {duration_formatted} {detail}`,
      stream: o.stream ?? process.stderr,
      clearOnComplete: true,
      hideCursor: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  return {
    update(value, total, detail = '') {
      if (!started) {
        bar.start(total, value, { detail })
        started = true
        return
      }
      bar.setTotal(total)
      bar.update(value, { detail })
    },
    stop() {
      if (started) bar.stop()
      started = false
    },
  }
}
