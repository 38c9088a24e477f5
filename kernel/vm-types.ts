/**
 * The shapes of a guest run: what `startGuest`/`runGuest` take (`GuestOptions`), how a run ended
 * (`GuestOutcome`, `GuestResult`) and the handle of a running guest (`GuestVm`). Kept apart from
 * the QEMU process code (kernel/vm.ts) so callers and helpers read the contract in one place.
 */
import type { BootDeath } from './guest-console.js'
import type { GuestShare } from './share.js'
import type { VmImage } from './vm-image.js'
import type { HostForward } from './vm-net.js'

export interface GuestOptions {
  /** A guest script file, or its text. Runs under busybox ash with `args` as "$@". */
  script: string | { text: string }
  args?: readonly string[]
  /** Exported in the job's environment. */
  env?: Readonly<Record<string, string>>
  hostfwd?: readonly HostForward[]
  /** Hard limit for the whole VM run. */
  timeoutSec: number
  onConsoleLine?: (line: string) => void
  /** Host directory shared with the guest at /host; default: a fresh temporary one, removed afterwards. */
  share?: string
  memMiB?: number
  cpus?: number
  hostnqn?: string
  hostid?: string
  /**
   * Seconds to wait for the guest's first line (init running) before the boot is declared stalled
   * and retried once with a fresh QEMU (default 120; under TCG on a loaded machine a boot takes
   * 4-25 s, and a silent hang in early boot has been seen once).
   */
  bootTimeoutSec?: number
  /** Time limit of the job inside the guest (default timeoutSec - 8 when above 20 s, else none). */
  jobTimeoutSec?: number
  /** Appended to the kernel command line (e.g. `oops=panic`: the first oops ends the VM). */
  cmdlineExtra?: string
  /** Kernel console log level while the job runs (default 4: errors and warnings show inline). */
  jobLogLevel?: number
  image?: VmImage
  log?: (line: string) => void
}

/**
 * How the run ended, apart from the job's status: 'job' (the job reported an exit status, `rc`),
 * 'timeout' (the VM hit `timeoutSec`), 'killed' (`kill()`), 'boot-stalled' (no guest output within
 * `bootTimeoutSec`, twice), 'boot-died' (the guest kernel oopsed or panicked before the job started,
 * twice: `bootDeaths`), 'vm-failed' (QEMU ended without a job status for another reason).
 */
export type GuestOutcome = 'job' | 'timeout' | 'killed' | 'boot-stalled' | 'boot-died' | 'vm-failed'

export interface GuestResult {
  /** The job's exit status; 124 = timed out, 125 = the VM failed (QEMU error, panic, no status). */
  rc: number
  outcome: GuestOutcome
  /**
   * The console holds the init's `@@VM job-exit@@` line, so every line the job printed arrived. False
   * with outcome 'job' means the status came but the console's tail was lost (the init drains the
   * console before it reports; a caller missing a result line should say so rather than guess).
   */
  consoleComplete: boolean
  /** Guest kernel deaths before the job started, one per boot that died (retried boots included). */
  bootDeaths: BootDeath[]
  timedOut: boolean
  console: string
  durationMs: number
  /** QEMU start to the job's start, when the job started. */
  bootMs: number | undefined
  kernelVersion: string
  nvmeCliVersion: string
  accel: 'kvm' | 'tcg'
  /** Boots that stalled or died before the job started and were retried. */
  bootRetries: number
  /** `vm_result KEY VALUE` pairs from the job. */
  results: Record<string, string>
  qemuStderr: string
}

export interface GuestVm {
  share: GuestShare
  /** The forwards in effect (free ports filled in). */
  forwards: HostForward[]
  readonly accel: 'kvm' | 'tcg'
  done: Promise<GuestResult>
  /** Stop QEMU now (idempotent). `done` then resolves. */
  kill(): void
  /** Console output so far. */
  console(): string
  /**
   * Wait for a guest `vm_signal`; fails fast if the VM ends, with how it ended (outcome, exit status,
   * QEMU's stderr) and the console tail in the error message.
   */
  waitSignal(name: string, timeoutMs: number): Promise<string>
  /** Wait for whichever of several guest signals comes first; fails like `waitSignal`. */
  waitAnySignal(names: readonly string[], timeoutMs: number): Promise<{ name: string; text: string }>
}
