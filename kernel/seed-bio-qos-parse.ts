/**
 * Reading what a Linux host showed in `reproduce seed-bio-qos`: the kernel oops on the console
 * (BUG line, RIP, call trace), the tracefs kprobe trace (failovers, QoS-flagged bios entering the
 * multipath head, flagged bios failed there), and the BIO_QOS bit numbers of a kernel's source.
 */

export interface OopsExcerpt {
  /** "BUG: kernel NULL pointer dereference, address: 0000000000000008" (or Oops / GPF line). */
  bug: string
  /** "__rq_qos_done_bio+0x11/0x40" */
  rip: string
  /** "kblockd nvme_requeue_work" */
  workqueue?: string
  /** Call trace functions, innermost first, without the `?` (unreliable) entries. */
  callTrace: string[]
  /** Kernel uptime of the BUG line (seconds), when the console has printk times. */
  uptimeSec?: number
  /** The oops lines as printed (bounded). */
  lines: string[]
}

const TIME = /^\[\s*(\d+\.\d+)\]\s?/
const BUG = /(BUG: .*|kernel BUG at .*|general protection fault.*|Oops: .*|Unable to handle kernel .*)$/

/** The first oops on a console, or undefined. */
export function parseOops(console: string): OopsExcerpt | undefined {
  const lines = console.split('\n').map((l) => l.replace(/\r$/, ''))
  const start = lines.findIndex((l) => BUG.test(l.replace(TIME, '')))
  if (start < 0) return undefined
  const body = (l: string): string => l.replace(TIME, '')
  const bug = BUG.exec(body(lines[start]!))![1]!
  const t = TIME.exec(lines[start]!)
  const ex: OopsExcerpt = { bug, rip: '', callTrace: [], lines: [] }
  if (t !== null) ex.uptimeSec = Number(t[1])
  let inTrace = false
  for (let i = start; i < Math.min(lines.length, start + 120); i++) {
    const l = body(lines[i]!)
    ex.lines.push(l)
    if (/---\[ end trace|Kernel panic - not syncing/.test(l)) break
    const rip = /^RIP: [0-9a-f]{4}:(\S+)/.exec(l)
    if (rip !== null && ex.rip === '') ex.rip = rip[1]!
    const wq = /^Workqueue: (.*)$/.exec(l)
    if (wq !== null) ex.workqueue = wq[1]!.trim()
    if (/^Call Trace:/.test(l)) {
      inTrace = true
      continue
    }
    if (inTrace) {
      if (/^\s*<\/?(TASK|IRQ|NMI|SOFTIRQ)>/.test(l)) continue
      const fn = /^\s+(\?\s+)?([A-Za-z0-9_.]+)\+0x[0-9a-f]+\/0x[0-9a-f]+/.exec(l)
      if (fn !== null) {
        if (fn[1] === undefined) ex.callTrace.push(fn[2]!)
        continue
      }
      inTrace = false
    }
  }
  return ex
}

export interface KprobeCounts {
  /** nvme_failover_req hits (a path failed a request that then went to the head's requeue list). */
  failovers: number
  /** nvme_ns_head_submit_bio entries whose bio carries BIO_QOS_THROTTLED / BIO_QOS_MERGED. */
  flaggedHeadEntries: number
  /** Of those, completed by bio_endio right after the entry, in the same task: failed on the head. */
  flaggedFailedOnHead: number
  /** bio_endio of flagged bios anywhere (normal completions on the path disks): the probe works. */
  flaggedCompletions: number
  /** Trace lines that were no probe event (headers, lost-events notes). */
  otherLines: number
}

// "  kworker/u4:1-45      [001] d..1.   123.456789: head_in: (nvme_ns_head_submit_bio+0x0/0x1c0) bio=0xffff888003a4c300 flags=0x641"
const EVENT = /^\s*(.+)-(\d+)\s+\[(\d+)\]\s+(?:\S+\s+)?(\d+\.\d+):\s+(\w+):\s+\(([^)]*)\)(.*)$/

/** Count the events of the tracefs trace written by kernel/guest/seed-bio-qos.sh. */
export function parseKprobeTrace(text: string): KprobeCounts {
  const c: KprobeCounts = { failovers: 0, flaggedHeadEntries: 0, flaggedFailedOnHead: 0, flaggedCompletions: 0, otherLines: 0 }
  /** Per task (pid + cpu): the bio of its last flagged head entry. */
  const lastHead = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue
    const m = EVENT.exec(line)
    if (m === null) {
      c.otherLines++
      continue
    }
    const task = `${m[2]}/${m[3]}`
    const event = m[5]!
    const bio = /\bbio=(0x[0-9a-f]+)/.exec(m[7]!)?.[1]
    switch (event) {
      case 'failover':
        c.failovers++
        break
      case 'head_in':
        c.flaggedHeadEntries++
        if (bio !== undefined) lastHead.set(task, bio)
        break
      case 'endio':
        c.flaggedCompletions++
        if (bio !== undefined && lastHead.get(task) === bio) {
          c.flaggedFailedOnHead++
          lastHead.delete(task)
        }
        break
      default:
        c.otherLines++
    }
  }
  return c
}

/**
 * The bi_flags mask of BIO_QOS_THROTTLED | BIO_QOS_MERGED from a kernel's
 * include/linux/blk_types.h: the position of each in the `enum { BIO_... }` of bio flags
 * (aliases such as `BIO_TG_BPS_THROTTLED = BIO_QOS_THROTTLED` take no new position).
 */
export function qosMaskFromBlkTypes(header: string): number | undefined {
  const start = header.search(/enum\s*\{\s*(?:\/\*[^]*?\*\/\s*)?BIO_/)
  if (start < 0) return undefined
  const end = header.indexOf('};', start)
  const body = header
    .slice(start, end)
    .replace(/\/\*[^]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
  const names = body
    .slice(body.indexOf('{') + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  const pos = new Map<string, number>()
  let next = 0
  for (const n of names) {
    const alias = /^(\w+)\s*=\s*(\w+)$/.exec(n)
    if (alias !== null) {
      const v = pos.get(alias[2]!) ?? Number(alias[2])
      pos.set(alias[1]!, v)
      next = v + 1
      continue
    }
    pos.set(n, next++)
  }
  const t = pos.get('BIO_QOS_THROTTLED')
  const m = pos.get('BIO_QOS_MERGED')
  if (t === undefined || m === undefined) return undefined
  return (1 << t) | (1 << m)
}

/**
 * The mask for a kernel release when no source is at hand (Debian packages): BIO_BOUNCED was
 * removed from the enum in 6.16 ("block: remove bounce buffering support"), moving both bits down.
 * 6.1 and 6.12: bits 9 and 10; 6.16 on: bits 8 and 9.
 */
export function qosMaskForRelease(release: string): number {
  const m = /^(\d+)\.(\d+)/.exec(release)
  const v = m === null ? 0 : Number(m[1]) * 1000 + Number(m[2])
  return v >= 6016 ? 0x300 : 0x600
}

/** `reproduce seed-bio-qos --qos`: which rq_qos / cgroup io policies the guest sets up. */
export const QOS_MODES = ['wbt', 'iocost', 'throttle', 'all'] as const
export type QosMode = (typeof QOS_MODES)[number]

/**
 * What the guest's cgroup checks (kernel/guest/seed-bio-qos.sh, `qos.*` results) say went wrong
 * after the storm, once the writers were told to stop and the paths were back: writers still
 * running or tasks in D state (stuck in throttling), request or writeback-throttling inflight
 * counts that do not drain, a cgroup that cannot be removed, hung-task reports. Empty: nothing.
 */
export function qosFindings(results: Readonly<Record<string, string>>): string[] {
  const out: string[] = []
  const n = (k: string): number => Number(results[k] ?? 0)
  if (n('qos.writers_left') > 0) out.push(`${n('qos.writers_left')} writer(s) still running 90 s after the stop`)
  if (n('qos.d_state') > 0) out.push(`${n('qos.d_state')} task(s) in D state after the writers stopped`)
  if (n('qos.hung_tasks') > 0) out.push(`${n('qos.hung_tasks')} hung-task report(s) in the kernel log`)
  const inflight = results['qos.after_drain.inflight_nonzero'] ?? ''
  if (inflight !== '') out.push(`request inflight counts not drained 10 s after the stop: ${inflight}`)
  const wbt = results['qos.after_drain.wbt_inflight_nonzero'] ?? ''
  if (wbt !== '') out.push(`writeback-throttling inflight not drained 10 s after the stop: ${wbt}`)
  if (n('kernel_problems') > 0) out.push(`${n('kernel_problems')} WARNING/BUG/Oops/Call Trace line(s) in the kernel log`)
  const rmdir = results['qos.rmdir']
  if (rmdir !== undefined && rmdir !== 'ok') out.push(`removing the cgroup: ${rmdir}`)
  return out
}
