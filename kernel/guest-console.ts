/**
 * Reading the guest console for the harness's own verdicts (kernel/vm.ts): did the guest kernel die
 * before our init started the job, and the console tail for failure messages.
 *
 * A kernel that oopses or panics before `@@VM job-start@@` (kernel/guest/init) never ran the job, so
 * its death says nothing about the job: the harness retries such a boot once and, if it dies again,
 * reports it as its own outcome ('boot-died'), not as a job status. A death after the marker is the
 * job's business (a test that provokes an oops judges it), and this module ignores it.
 */
import { parseOops } from './seed-bio-qos-parse.js'
import type { GuestResult } from './vm.js'

/** The console line guest/init prints right before it runs the job script. */
export const JOB_START_MARKER = '@@VM job-start@@'

export interface BootDeath {
  /** "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI", or the panic line when there was no oops. */
  bug: string
  /** "sched_clock_idle_wakeup_event+0x5/0x40" ('' when the console shows none). */
  rip: string
  /** Call trace functions, innermost first. */
  callTrace: string[]
  /** Kernel uptime of the first line of the death, when printk times are on. */
  uptimeSec?: number
  /** The oops or panic lines as printed (bounded). */
  lines: string[]
}

const TIME = /^\[\s*(\d+\.\d+)\]\s?/
// The leading "K" may be missing: a loaded TCG host can drop console characters (a 7.3 guest's
// panic line arrived as "[    1.832143]ernel panic - not syncing: ..."); the rest is distinctive.
const PANIC = /K?ernel panic - not syncing: (.*)$/

/**
 * The guest kernel's death before the job started (an oops, BUG or panic on the console before
 * JOB_START_MARKER), or undefined when the job started or the kernel showed no death.
 */
export function bootDeath(console: string): BootDeath | undefined {
  const at = console.indexOf(JOB_START_MARKER)
  const before = at < 0 ? console : console.slice(0, at)
  const oops = parseOops(before)
  if (oops !== undefined) {
    return { bug: oops.bug, rip: oops.rip, callTrace: oops.callTrace, lines: oops.lines, ...(oops.uptimeSec !== undefined ? { uptimeSec: oops.uptimeSec } : {}) }
  }
  // A panic without an oops first: no init, no root, a missing driver ("VFS: Unable to mount root").
  const lines = before.split('\n').map((l) => l.replace(/\r$/, ''))
  const i = lines.findIndex((l) => PANIC.test(l))
  if (i < 0) return undefined
  const line = lines[i]!
  const t = TIME.exec(line)
  return {
    bug: `Kernel panic - not syncing: ${PANIC.exec(line)![1] ?? ''}`,
    rip: '',
    callTrace: [],
    lines: lines.slice(Math.max(0, i - 5), i + 1).map((l) => l.replace(TIME, '')),
    ...(t !== null ? { uptimeSec: Number(t[1]) } : {}),
  }
}

/** One line for logs: "Oops: int3: ... at sched_clock_cpu+0x9/0x1d0 (5.68 s after boot)". */
export function describeBootDeath(d: BootDeath): string {
  const at = d.rip !== '' ? ` at ${d.rip}` : ''
  const when = d.uptimeSec !== undefined ? ` (${d.uptimeSec.toFixed(2)} s after boot)` : ''
  return `${d.bug}${at}${when}`
}

/** One-line summary of a run for test output. */
export function describeRun(r: GuestResult): string {
  const boot = r.bootMs === undefined ? '?' : (r.bootMs / 1000).toFixed(1)
  const retries = r.bootRetries > 0 ? ` (after ${r.bootRetries} retried boot${r.bootDeaths.length > 0 ? `: ${r.bootDeaths.map(describeBootDeath).join('; ')}` : ', stalled'})` : ''
  const cut = r.outcome === 'job' && !r.consoleComplete ? ' console-incomplete (job-exit line missing)' : ''
  return `rc=${r.rc} outcome=${r.outcome}${cut} accel=${r.accel} kernel=${r.kernelVersion} nvme-cli=${r.nvmeCliVersion} boot-to-job=${boot}s${retries} total=${(r.durationMs / 1000).toFixed(1)}s`
}

/** The last `n` console lines (for failure messages). */
export function consoleTail(r: GuestResult | string, n = 40): string {
  const text = typeof r === 'string' ? r : r.console
  const tail = text.split('\n').slice(-n).join('\n')
  const qemu = typeof r === 'string' || r.qemuStderr.trim() === '' ? '' : `\n--- qemu stderr ---\n${r.qemuStderr.trim()}`
  return tail + qemu
}

