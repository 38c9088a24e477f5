/**
 * The Linux-host driver's reading of the guest console (conformance/drivers/linux-qemu.ts): our
 * guest job's `@@NVMF ...@@` lines (kernel/guest/conformance-host.sh) and the kernel's own
 * messages, turned into DriverEvents.
 *
 * Kernel lines:
 *  - oops / BUG / WARNING / general protection fault / panic / hung task ("INFO: task ... blocked
 *    for more than"), and the splat lines that follow one up to its end marker (bounded) -> 'log'
 *    level error;
 *  - the multipath head giving up or requeueing ("no available path - failing I/O", "no usable
 *    path - requeuing I/O", drivers/nvme/host/multipath.c nvme_ns_head_submit_bio) -> 'failover';
 *  - other nvme/block trouble (I/O errors, timeouts, error recovery, reconnects, identifiers
 *    changed, resets) -> 'log' level warn. Informational lines are dropped.
 * A line "nvme nvmeN: ..." is attributed to the path of controller nvmeN once the guest has said
 * which port that controller connected through (`@@NVMF path PORT nvmeN@@`).
 */
import type { DriverEvent } from '../driver-types.js'

/** Cumulative counters of one namespace, as the guest prints them. */
export interface GuestIoTotals {
  nsid: number
  ops: number
  bytes: number
  errors: number
}

export type GuestLine =
  | { kind: 'io'; totals: GuestIoTotals }
  | { kind: 'path'; port: number; ctrl: string }
  | { kind: 'connect-failed'; port: number; detail: string }
  | { kind: 'error'; nsid: number; detail: string }
  | { kind: 'other' }

const NVMF_LINE = /@@NVMF (\S+) (.*)@@/

/** Parse one of our guest job's protocol lines; anything else is `other`. */
export function parseGuestLine(line: string): GuestLine {
  const m = NVMF_LINE.exec(line)
  if (m === null) return { kind: 'other' }
  const [, verb = '', rest = ''] = m
  const words = rest.split(' ')
  const int = (s: string | undefined): number => (s !== undefined && /^\d+$/.test(s) ? Number(s) : Number.NaN)
  switch (verb) {
    case 'io': {
      const [nsid, ops, bytes, errors] = words.map(int)
      if ([nsid, ops, bytes, errors].some((n) => n === undefined || Number.isNaN(n))) return { kind: 'other' }
      return { kind: 'io', totals: { nsid: nsid as number, ops: ops as number, bytes: bytes as number, errors: errors as number } }
    }
    case 'path': {
      const port = int(words[0])
      const ctrl = words[1] ?? ''
      return Number.isNaN(port) || !/^nvme\d+$/.test(ctrl) ? { kind: 'other' } : { kind: 'path', port, ctrl }
    }
    case 'connect-failed': {
      const port = int(words[0])
      return Number.isNaN(port) ? { kind: 'other' } : { kind: 'connect-failed', port, detail: words.slice(1).join(' ') }
    }
    case 'error': {
      const nsid = int(words[0])
      return Number.isNaN(nsid) ? { kind: 'other' } : { kind: 'error', nsid, detail: words.slice(1).join(' ') }
    }
    default:
      return { kind: 'other' }
  }
}

/** Lines that start a kernel splat or are a bug report on their own. */
const KERNEL_ERROR =
  /(\bOops\b|\bBUG:|kernel BUG at|\bWARNING:|general protection fault|Kernel panic|Unable to handle kernel|INFO: task .* blocked for more than|hung_task|\bRCU: .*stall|watchdog: BUG: soft lockup|UBSAN:|KASAN:)/
/** Lines inside a splat (after its first line) worth keeping with it. */
const SPLAT_END = /---\[ end trace|end Kernel panic/
const FAILOVER = /(no available path - failing I\/O|no usable path - requeuing I\/O|failover)/i
const KERNEL_WARN =
  /(I\/O error|I\/O Cmd|blk_update_request|critical .* error|timeout|error recovery|Reconnecting in|reconnect|identifiers changed|resetting controller|failed to connect|could not|ANA group .* inaccessible|keep-alive|Buffer I\/O error|print_req_error)/i
/** How many lines of one splat are kept (the first line is always kept). */
const SPLAT_MAX_LINES = 40

/** Strip the "[   12.345678] " timestamp the kernel puts before console lines. */
export function stripKernelStamp(line: string): string {
  return line.replace(/^\s*\[\s*\d+\.\d+\]\s?/, '')
}

/**
 * Turns kernel console lines into events; keeps a little state (which controller is which port,
 * whether a splat is open). One instance per guest run.
 */
export class KernelLogClassifier {
  readonly #pathOfCtrl = new Map<string, string>()
  #splatLines = 0

  /** Record that controller `ctrl` (nvmeN) is the path through `port`. */
  setPath(ctrl: string, port: number): void {
    this.#pathOfCtrl.set(ctrl, String(port))
  }

  /** The path id for a line naming a controller ("nvme nvme1: ..."), if known. */
  pathOf(line: string): string | undefined {
    const m = /\bnvme (nvme\d+):/.exec(line)
    return m?.[1] === undefined ? undefined : this.#pathOfCtrl.get(m[1])
  }

  /** The event for one console line that is not one of our `@@` protocol lines, if any. */
  classify(raw: string): DriverEvent | undefined {
    if (/^\s*(@@VM|@@NVMF|\[guest\]|\[init\])/.test(raw)) return undefined
    const line = stripKernelStamp(raw).trimEnd()
    if (line === '') return undefined
    if (KERNEL_ERROR.test(line)) {
      this.#splatLines = 1
      return { kind: 'log', level: 'error', detail: line }
    }
    if (this.#splatLines > 0) {
      if (SPLAT_END.test(line)) {
        this.#splatLines = 0
        return { kind: 'log', level: 'error', detail: line }
      }
      if (this.#splatLines < SPLAT_MAX_LINES) {
        this.#splatLines++
        return { kind: 'log', level: 'error', detail: line }
      }
      // A splat without its end marker: stop attributing lines to it.
      this.#splatLines = 0
    }
    const path = this.pathOf(line)
    // NQNs are names the user picked ("...:conformance-failover"): never match words inside them.
    const words = line.replace(/nqn\.[^\s",]+/gi, 'NQN')
    if (FAILOVER.test(words)) return path === undefined ? { kind: 'failover', detail: line } : { kind: 'failover', detail: line, path }
    if (KERNEL_WARN.test(words)) return { kind: 'log', level: 'warn', detail: line }
    return undefined
  }
}

/**
 * Turns the guest's cumulative per-namespace totals into per-interval 'io' events (the deltas
 * since the previous line for that namespace).
 */
export class IoDeltas {
  readonly #last = new Map<number, GuestIoTotals>()

  next(t: GuestIoTotals): DriverEvent & { kind: 'io' } {
    const prev = this.#last.get(t.nsid) ?? { nsid: t.nsid, ops: 0, bytes: 0, errors: 0 }
    this.#last.set(t.nsid, t)
    // Counters only grow; a smaller value would be a restarted guest job: count from zero again.
    const d = (a: number, b: number): number => (a >= b ? a - b : a)
    return { kind: 'io', nsid: t.nsid, ops: d(t.ops, prev.ops), bytes: d(t.bytes, prev.bytes), errors: d(t.errors, prev.errors) }
  }

  /** Totals over every namespace so far. */
  totals(): { ops: number; bytes: number; errors: number } {
    let ops = 0
    let bytes = 0
    let errors = 0
    for (const t of this.#last.values()) {
      ops += t.ops
      bytes += t.bytes
      errors += t.errors
    }
    return { ops, bytes, errors }
  }
}

/**
 * One console line of a Linux host guest to the event it means, if any (shared by the one-guest
 * driver, linux-qemu.ts, and the session, linux-session.ts). `path` lines only teach the
 * classifier which controller is which port.
 */
export function guestLineEvent(line: string, classifier: KernelLogClassifier, deltas: IoDeltas): DriverEvent | undefined {
  const g = parseGuestLine(line)
  switch (g.kind) {
    case 'io':
      return deltas.next(g.totals)
    case 'path':
      classifier.setPath(g.ctrl, g.port)
      return undefined
    case 'connect-failed':
      return { kind: 'log', level: 'error', detail: `nvme connect to port ${g.port} failed: ${g.detail}` }
    case 'error':
      return { kind: 'error', detail: `nsid ${g.nsid}: ${g.detail}` }
    case 'other':
      return classifier.classify(line)
  }
}
