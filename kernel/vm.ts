/**
 * Boot the interop guest under QEMU, run one job script in it (busybox ash), collect the result.
 *
 * - The job travels in a small cpio appended to the cached initramfs: the kernel unpacks both.
 * - The exit status comes back on the second serial port (a file here), not from the console.
 * - Network is QEMU user mode (slirp) only: the guest reaches this machine's 127.0.0.1:PORT at
 *   10.0.2.2:PORT; this machine reaches guest listeners through `hostfwd` bound to 127.0.0.1.
 * - Bounded: QEMU runs under `timeout(1)` (so it dies even if this process is killed), our own timer
 *   stops it at `timeoutSec`, the job inside gets a little less, and `kill()` ends it at once.
 *
 * This file runs the QEMU process; the run's shapes are in vm-types.ts, the accelerator choice in
 * vm-accel.ts, the user-mode network in vm-net.ts, the image in vm-image.ts, the job in vm-job.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AbortedError } from '../lib/errors.js'
import { jobArchive, validateGuestOptions } from './vm-job.js'
import { which } from './exec.js'
import { GuestShare } from './share.js'
import { KERNEL_GUEST_DIR } from './guest-dir.js'
import { ensureVmImage } from './vm-image.js'
import { bootDeath, consoleTail, describeBootDeath, describeRun, type BootDeath } from './guest-console.js'
import { chooseAccel, tcgAccel } from './vm-accel.js'
import { freePort, userNetdev, type HostForward } from './vm-net.js'
import type { GuestOptions, GuestOutcome, GuestResult, GuestVm } from './vm-types.js'

export { consoleTail, describeRun } from './guest-console.js'
export { chooseAccel, tcgAccel } from './vm-accel.js'
export { GUEST_HOST_IP, freePort, type HostForward } from './vm-net.js'
export type { GuestOptions, GuestOutcome, GuestResult, GuestVm } from './vm-types.js'

/** Path of a guest job script NAME in `dir` (default: the shipped kernel/guest directory). */
export function guestScript(name: string, dir: string = KERNEL_GUEST_DIR): string {
  return join(dir, name)
}

/** Start a guest; resolves once QEMU is running (use `done` for the result). */
export async function startGuest(opts: GuestOptions): Promise<GuestVm> {
  validateGuestOptions(opts)
  const tcg = tcgAccel()
  const qemu = which('qemu-system-x86_64')
  if (qemu === undefined) throw new Error('qemu-system-x86_64 not found (Debian package qemu-system-x86)')
  const image = opts.image ?? (await ensureVmImage(opts.log !== undefined ? { log: opts.log } : {}))
  const forwards: HostForward[] = []
  for (const f of opts.hostfwd ?? []) forwards.push({ host: f.host === 0 ? await freePort() : f.host, guest: f.guest })

  const runDir = mkdtempSync(join(tmpdir(), 'nvmf-fault-vm-'))
  const shareDir = opts.share ?? join(runDir, 'share')
  const endedCtl = new AbortController()
  const share = new GuestShare({ dir: shareDir, ended: endedCtl.signal })

  const initrd = join(runDir, 'initrd.cpio')
  writeFileSync(initrd, Buffer.concat([readFileSync(image.initramfs), jobArchive(opts)]))
  const statusFile = join(runDir, 'status')
  const pidFile = join(runDir, 'qemu.pid')

  const net = userNetdev(forwards)
  // pci=noacpi: PCI IRQ routing from the BIOS table, not ACPI AML (faster under TCG);
  // panic=-1 with -no-reboot: a guest panic ends QEMU at once.
  const loglevel = process.env.NVMF_FAULT_VM_VERBOSE === '1' ? 7 : 4
  const append =
    `console=ttyS0,115200 loglevel=${loglevel} panic=-1 pci=noacpi 8250.nr_uarts=2 tsc=reliable no_timer_check rcupdate.rcu_expedited=1${opts.cmdlineExtra !== undefined ? ` ${opts.cmdlineExtra}` : ''}`
  const qemuArgs = (accel: 'kvm' | 'tcg'): string[] => [
    '-nodefaults', '-no-user-config', '-display', 'none', '-vga', 'none', '-no-reboot',
    '-accel', accel === 'tcg' ? tcg : accel, '-cpu', accel === 'kvm' ? 'host,-arch-capabilities' : 'max', '-M', 'pc',
    '-m', String(opts.memMiB ?? 512), '-smp', String(opts.cpus ?? 2),
    '-kernel', image.kernel, '-initrd', initrd, '-append', append,
    '-chardev', 'stdio,id=con0,signal=off', '-serial', 'chardev:con0',
    '-serial', `file:${statusFile}`,
    '-netdev', net, '-device', 'virtio-net-pci,netdev=n0',
    '-fsdev', `local,id=fs0,path=${shareDir},security_model=none`, '-device', 'virtio-9p-pci,fsdev=fs0,mount_tag=vmshare',
    '-pidfile', pidFile,
  ]

  const consoleLines: string[] = []
  let consoleBytes = 0
  const results: Record<string, string> = {}
  let kernelVersion = ''
  let nvmeCliVersion = ''
  let jobStartAt: number | undefined
  let child: ChildProcess | undefined
  let killed = false
  let timedOut = false
  let booted = false

  const onLine = (raw: string): void => {
    const line = raw.replace(/\r/g, '')
    if (consoleBytes < 16 * 1024 * 1024) {
      consoleLines.push(line)
      consoleBytes += line.length + 1
    }
    const boot = /@@VM boot kernel=(\S+) nvme=(\S+)/.exec(line)
    if (boot?.[1] !== undefined && boot[2] !== undefined) {
      booted = true
      kernelVersion = boot[1]
      nvmeCliVersion = boot[2]
    }
    if (line.includes('@@VM job-start@@')) jobStartAt = performance.now()
    const res = /@@VM result ([^=@]+)=(.*)@@/.exec(line)
    if (res?.[1] !== undefined && res[2] !== undefined) results[res[1]] = res[2]
    opts.onConsoleLine?.(line)
  }

  const killQemu = (): void => {
    try {
      const pid = Number(readFileSync(pidFile, 'utf8').trim())
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGKILL')
    } catch {
      // not started or already gone
    }
    child?.kill('SIGKILL')
  }
  const onExit = (): void => killQemu()
  process.once('exit', onExit)

  const bootTimeoutMs = (opts.bootTimeoutSec ?? 120) * 1000
  interface Attempt {
    code: number | null
    stderr: string
    t0: number
    t1: number
    stalled: boolean
    /** Index of this boot's first line in consoleLines. */
    firstLine: number
  }
  const attempt = (accel: 'kvm' | 'tcg'): Promise<Attempt> =>
    new Promise((resolve) => {
      const firstLine = consoleLines.length
      writeFileSync(statusFile, '')
      rmSync(pidFile, { force: true })
      booted = false
      let stalled = false
      const bootTimer = setTimeout(() => {
        if (booted) return
        stalled = true
        killQemu()
      }, bootTimeoutMs)
      const t0 = performance.now()
      // timeout(1) bounds QEMU even if this process dies without running its exit handlers.
      const proc = spawn('timeout', ['-k', '5', String(opts.timeoutSec + 15), qemu, ...qemuArgs(accel)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      child = proc
      let pending = ''
      proc.stdout?.setEncoding('utf8')
      proc.stdout?.on('data', (s: string) => {
        pending += s
        let nl: number
        while ((nl = pending.indexOf('\n')) >= 0) {
          onLine(pending.slice(0, nl))
          pending = pending.slice(nl + 1)
        }
      })
      let stderr = ''
      proc.stderr?.setEncoding('utf8')
      proc.stderr?.on('data', (s: string) => {
        if (stderr.length < 65536) stderr += s
      })
      proc.on('error', (e) => {
        stderr += String(e)
      })
      proc.on('close', (code) => {
        clearTimeout(bootTimer)
        if (pending !== '') onLine(pending)
        resolve({ code, stderr, t0, t1: performance.now(), stalled, firstLine })
      })
    })

  const picked = chooseAccel()
  let accelInUse = picked.accel
  opts.log?.(`qemu: accel=${picked.accel} (${picked.why}) boot=${image.bootMode} forwards=${forwards.map((f) => `${f.host}->${f.guest}`).join(',')}`)

  const done = (async (): Promise<GuestResult> => {
    const timer = setTimeout(() => {
      timedOut = true
      killQemu()
    }, opts.timeoutSec * 1000)
    try {
      let accel = picked.accel
      let r = await attempt(accel)
      const status = (): string => readFileSync(statusFile, 'utf8').replace(/[^0-9]/g, '')
      if (accel === 'kvm' && !killed && !timedOut && status() === '' && /kvm/i.test(r.stderr)) {
        opts.log?.(`KVM failed (${r.stderr.split('\n')[0] ?? ''}); retrying with TCG`)
        accel = 'tcg'
        accelInUse = 'tcg'
        jobStartAt = undefined
        r = await attempt(accel)
      }
      // One retry for a boot that never got going: no output at all (stall), or a guest kernel that
      // died before our init started the job. The second happens under TCG (MTTCG) when a vCPU runs
      // code another vCPU has just patched (text_poke_bp's int3 on a static key; test/interop/README.md,
      // "Guest kernels that die during boot"); it says nothing about the job, so it must not read as its status.
      let bootRetries = 0
      const bootDeaths: BootDeath[] = []
      const deathOf = (a: Attempt): BootDeath | undefined =>
        status() === '' && !a.stalled ? bootDeath(consoleLines.slice(a.firstLine).join('\n')) : undefined
      let death = killed || timedOut ? undefined : deathOf(r)
      if ((r.stalled || death !== undefined) && !killed && !timedOut) {
        let why: string
        if (death !== undefined) {
          bootDeaths.push(death)
          why = `the guest kernel died before the job started (${describeBootDeath(death)})`
          // The dead boot's lines leave the run's console (its excerpt stays in bootDeaths): a
          // caller that looks for an oops in `console` must only find one of the job's own boot.
          consoleLines.splice(r.firstLine)
        } else why = `boot stalled: no output from the guest ${bootTimeoutMs / 1000} s after QEMU started`
        opts.log?.(`${why}; retrying once`)
        onLine(`@@VM host: ${why}; retrying@@`)
        bootRetries++
        jobStartAt = undefined
        r = await attempt(accel)
        death = killed || timedOut ? undefined : deathOf(r)
        if (death !== undefined) bootDeaths.push(death)
      }
      const st = status()
      let rc: number
      if (st !== '') rc = Number(st)
      else if (timedOut) rc = 124
      else rc = 125
      let outcome: GuestOutcome
      if (st !== '') outcome = 'job'
      else if (killed) outcome = 'killed'
      else if (timedOut) outcome = 'timeout'
      else if (r.stalled) outcome = 'boot-stalled'
      else if (death !== undefined) outcome = 'boot-died'
      else outcome = 'vm-failed'
      return {
        rc,
        outcome,
        consoleComplete: consoleLines.some((l) => l.includes('@@VM job-exit rc=')),
        bootDeaths,
        timedOut: timedOut && st === '',
        console: consoleLines.join('\n'),
        durationMs: Math.round(r.t1 - r.t0),
        bootMs: jobStartAt === undefined ? undefined : Math.round(jobStartAt - r.t0),
        kernelVersion: kernelVersion !== '' ? kernelVersion : image.kernelRelease,
        nvmeCliVersion,
        accel,
        results,
        bootRetries,
        qemuStderr: r.stderr + (r.stalled ? `\nboot stalled: no guest output within ${bootTimeoutMs / 1000} s` : ''),
      }
    } finally {
      clearTimeout(timer)
      process.removeListener('exit', onExit)
      endedCtl.abort()
      // The run directory holds the initrd, the status file and (unless the caller gave one) the share.
      rmSync(runDir, { recursive: true, force: true })
    }
  })()
  // Consumers that only use share/kill must not see an unhandled rejection.
  done.catch(() => {})
  /** A wait that failed because the VM ended says how it ended and shows the console tail. */
  const withEndReport = async <T>(wait: Promise<T>): Promise<T> => {
    try {
      return await wait
    } catch (err) {
      if (!(err instanceof AbortedError)) throw err
      const r = await done.catch(() => undefined)
      if (r === undefined) throw err
      throw new AbortedError(`${err.message} (${describeRun(r)})\n${consoleTail(r, 60)}`, { cause: err })
    }
  }
  return {
    share,
    forwards,
    get accel() {
      return accelInUse
    },
    done,
    kill: () => {
      killed = true
      killQemu()
    },
    console: () => consoleLines.join('\n'),
    waitSignal: (name, timeoutMs) => withEndReport(share.waitSignal(name, timeoutMs)),
    waitAnySignal: (names, timeoutMs) => withEndReport(share.waitAnySignal(names, timeoutMs)),
  }
}

/** Run a guest job to completion. */
export async function runGuest(opts: GuestOptions): Promise<GuestResult> {
  const vm = await startGuest(opts)
  return vm.done
}
