/**
 * The Linux kernel host as an initiator under test: boots the kernel chosen by a kernel spec
 * (kernel/kernel-spec.ts: `default`, `6.12`, `bpo-latest`, a .deb, a build tree — the same strings
 * as the interop suite) in QEMU with the interop guest image (kernel/vm-image.ts), connects every
 * path of the DriverTarget with nvme-cli (native multipath), runs the workload on every namespace
 * (kernel/guest/conformance-host.sh) and reports:
 *  - 'ready' once every path is connected and every namespace has its head device;
 *  - 'io' per namespace about once a second (the guest's counters; ops are completed O_DIRECT I/Os);
 *  - 'error' for each I/O error or data mismatch the guest's writers saw (rate-limited in the guest);
 *  - 'log' / 'failover' from kernel console lines (linux-console.ts);
 *  - 'done' last, after stop() disconnected and powered the guest off (bounded: a guest that does
 *    not finish in time is killed).
 *
 * The guest reaches this machine's loopback only (QEMU user networking: 10.0.2.2 is 127.0.0.1
 * here), so the target's traddr must be a loopback address. The data written is reproducible: two
 * generations of the region are derived from the workload's pattern seed (AES-CTR keystream keyed
 * by the seed, so every block differs by offset and generation), and verify/randrw read every
 * block back and compare.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError, InvalidStateError } from '../../lib/errors.js'
import { parseKernelSpec } from '../../kernel/kernel-spec.js'
import { ensureVmImage, type VmImage } from '../../kernel/vm-image.js'
import { chooseAccel, guestScript, startGuest, type GuestResult, type GuestVm } from '../../kernel/vm.js'
import type { DriverEvent, DriverTarget, DriverWorkload, InitiatorDriver } from '../driver-types.js'
import type { InitiatorInfo } from '../report-types.js'
import { guestLineEvent, IoDeltas, KernelLogClassifier } from './linux-console.js'

export interface LinuxQemuDriverOptions {
  /** Kernel spec (kernel/kernel-spec.ts); default `default`. Ignored when `image` is given. */
  kernel?: string
  /** A guest image already built (tests); otherwise ensureVmImage({ kernel }). */
  image?: VmImage
  /** Size of the region written on each namespace, in MiB (default 8; capped by the namespace). */
  regionMiB?: number
  /** `nvme connect` options (default "--ctrl-loss-tmo=60 --reconnect-delay=1"). */
  connectOptions?: string
  /** Seconds for QEMU to print its first line, once retried (default 300: TCG on a loaded machine). */
  bootTimeoutSec?: number
  /** Seconds from QEMU's start to 'ready' (default 600). */
  readyTimeoutSec?: number
  /** After the workload, how long the guest waits for stop() before it disconnects (default 300 s). */
  holdSec?: number
  /** stop(): how long to wait for the guest to disconnect and power off before killing it (default 120 s). */
  stopTimeoutMs?: number
  memMiB?: number
  cpus?: number
  log?: (line: string) => void
  /** Every console line, raw (verbose test output). */
  onConsoleLine?: (line: string) => void
}

const MiB = 1024 * 1024
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/

/** Validate the target and workload at the edge (every message names the field). */
export function validate(target: DriverTarget, w: DriverWorkload): void {
  if (!LOOPBACK.test(target.traddr)) {
    throw new InvalidArgumentError('traddr', `must be a loopback address (the guest reaches this machine only through QEMU user networking), got '${target.traddr}'`)
  }
  if (!Array.isArray(target.trsvcids) || target.trsvcids.length === 0) throw new InvalidArgumentError('trsvcids', 'must list at least one port')
  for (const p of target.trsvcids) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new InvalidArgumentError('trsvcids', `has a bad port ${String(p)}`)
  if (typeof target.subnqn !== 'string' || !/^nqn\.\S+$/.test(target.subnqn)) throw new InvalidArgumentError('subnqn', 'must be an NQN')
  if (typeof target.hostnqn !== 'string' || !/^nqn\.\S+$/.test(target.hostnqn)) throw new InvalidArgumentError('hostnqn', 'must be an NQN')
  if (!['write', 'read', 'randrw', 'verify'].includes(w.rw)) throw new InvalidArgumentError('rw', 'must be write, read, randrw or verify')
  if (!Number.isInteger(w.bs) || w.bs < 512 || w.bs > MiB || w.bs % 512 !== 0) throw new InvalidArgumentError('bs', 'must be a multiple of 512 in [512, 1 MiB]')
  if (!Number.isInteger(w.qd) || w.qd < 1 || w.qd > 64) throw new InvalidArgumentError('qd', 'must be an integer in [1, 64]')
  if (!Number.isFinite(w.durationMs) || w.durationMs < 1000 || w.durationMs > 3_600_000) throw new InvalidArgumentError('durationMs', 'must be in [1000, 3600000]')
  if (w.namespaces !== 'all' && (!Array.isArray(w.namespaces) || w.namespaces.length === 0 || !w.namespaces.every((n) => Number.isInteger(n) && n >= 1 && n < 0xffffffff))) {
    throw new InvalidArgumentError('namespaces', "must be 'all' or a list of NSIDs")
  }
  patternSeed(w.pattern)
}

export function patternSeed(pattern: string): number {
  const m = /^seed:(\d{1,10})$/.exec(pattern)
  if (m?.[1] === undefined) throw new InvalidArgumentError('pattern', `must be "seed:N", got '${pattern}'`)
  return Number(m[1])
}

/** Generation `gen` of the region for a pattern seed: a keystream that depends on seed, generation and offset. */
export function regionPattern(seed: number, gen: 0 | 1, bytes: number): Buffer {
  const key = createHash('sha256').update(`nvmf-fault conformance pattern seed:${seed} gen:${gen}`).digest().subarray(0, 16)
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(bytes))
}

/** The guest image for a kernel spec (built and cached on first use), and the driver on it. */
export async function createLinuxQemuDriver(opts: LinuxQemuDriverOptions = {}): Promise<LinuxQemuDriver> {
  const spec = opts.kernel ?? 'default'
  const image = opts.image ?? (await ensureVmImage({ kernel: parseKernelSpec(spec), ...(opts.log !== undefined ? { log: opts.log } : {}) }))
  return new LinuxQemuDriver({ ...opts, image })
}

export class LinuxQemuDriver implements InitiatorDriver {
  readonly info: InitiatorInfo
  readonly #opts: LinuxQemuDriverOptions & { image: VmImage }
  #vm: GuestVm | undefined
  #share: string | undefined
  #onEvent: (e: DriverEvent) => void = () => {}
  #started = false
  #doneSent = false
  #stopping: Promise<void> | undefined
  #deltas = new IoDeltas()
  #appErrors = 0

  constructor(opts: LinuxQemuDriverOptions & { image: VmImage }) {
    const positive = (field: keyof LinuxQemuDriverOptions, v: number | undefined, max: number): void => {
      if (v !== undefined && (!Number.isFinite(v) || v <= 0 || v > max)) throw new InvalidArgumentError(field, `must be a number in (0, ${max}]`)
    }
    positive('regionMiB', opts.regionMiB, 1024)
    positive('bootTimeoutSec', opts.bootTimeoutSec, 3600)
    positive('readyTimeoutSec', opts.readyTimeoutSec, 3600)
    positive('holdSec', opts.holdSec, 3600)
    positive('stopTimeoutMs', opts.stopTimeoutMs, 3_600_000)
    this.#opts = opts
    const img = opts.image
    const accel = chooseAccel().accel
    this.info = {
      id: `linux-${img.kernelRelease}`,
      kind: 'linux',
      description: `Linux ${img.kernelRelease} (${img.kernelPackage}; kernel spec ${img.kernelSpec}) in QEMU/${accel.toUpperCase()}, nvme-cli ${/\d+\.\d+(\.\d+)?/.exec(img.nvmeCliVersion)?.[0] ?? img.nvmeCliVersion}, native multipath`,
      kernelRelease: img.kernelRelease,
    }
  }

  #emit(e: DriverEvent): void {
    if (this.#doneSent) return
    if (e.kind === 'done') this.#doneSent = true
    try {
      this.#onEvent(e)
    } catch (err) {
      this.#opts.log?.(`event handler threw: ${String(err)}`)
    }
  }

  #onConsole(classifier: KernelLogClassifier, line: string): void {
    this.#opts.onConsoleLine?.(line)
    const e = guestLineEvent(line, classifier, this.#deltas)
    if (e === undefined) return
    if (e.kind === 'error') this.#appErrors++
    this.#emit(e)
  }

  async start(target: DriverTarget, workload: DriverWorkload, onEvent: (e: DriverEvent) => void): Promise<void> {
    if (this.#started) throw new InvalidStateError('the Linux host driver runs one workload; make a new driver for the next')
    validate(target, workload)
    this.#started = true
    this.#onEvent = onEvent
    const o = this.#opts
    const seed = patternSeed(workload.pattern)
    const blocks = Math.max(workload.qd, Math.floor(((o.regionMiB ?? 8) * MiB) / workload.bs))
    const share = mkdtempSync(join(tmpdir(), 'nvmf-fault-conf-linux-'))
    this.#share = share
    writeFileSync(join(share, 'pattern0.bin'), regionPattern(seed, 0, blocks * workload.bs))
    writeFileSync(join(share, 'pattern1.bin'), regionPattern(seed, 1, blocks * workload.bs))
    const bootTimeoutSec = o.bootTimeoutSec ?? 300
    const readyTimeoutSec = o.readyTimeoutSec ?? 600
    const holdSec = o.holdSec ?? 300
    const seconds = Math.ceil(workload.durationMs / 1000)
    const classifier = new KernelLogClassifier()
    // Busybox writers are processes: more than 4 per namespace only adds fork overhead under TCG.
    const qd = Math.min(workload.qd, 4)
    const vm = await startGuest({
      script: guestScript('conformance-host.sh'),
      env: {
        CH_SUBNQN: target.subnqn,
        CH_PORTS: target.trsvcids.join(' '),
        CH_NSIDS: workload.namespaces === 'all' ? 'all' : workload.namespaces.join(' '),
        CH_RW: workload.rw,
        CH_BS: String(workload.bs),
        CH_QD: String(qd),
        CH_SECONDS: String(seconds),
        CH_HOLD_SECS: String(holdSec),
        CH_BLOCKS: String(blocks),
        CH_CONNECT_OPTS: o.connectOptions ?? '--ctrl-loss-tmo=60 --reconnect-delay=1',
      },
      share,
      image: o.image,
      hostnqn: target.hostnqn,
      ...(target.hostid !== undefined ? { hostid: target.hostid } : {}),
      timeoutSec: Math.min(3600, readyTimeoutSec + seconds + holdSec + 180),
      bootTimeoutSec,
      // 7: info and up, so reconnects and multipath messages reach the console (and the classifier).
      jobLogLevel: 7,
      memMiB: o.memMiB ?? Math.max(512, 384 + Math.ceil((2 * blocks * workload.bs) / MiB) * 2),
      cpus: o.cpus ?? 2,
      ...(o.log !== undefined ? { log: o.log } : {}),
      onConsoleLine: (line) => this.#onConsole(classifier, line),
    })
    this.#vm = vm
    o.log?.(`guest started for ${target.subnqn} on ports ${target.trsvcids.join(',')} (${this.info.description})`)
    void vm.done.then((r) => {
      // The guest ended on its own (no stop() yet): a crash, its own time limit, or it gave up waiting.
      if (this.#stopping === undefined) this.#finish(r, 'the guest ended before stop()')
    })
    let ready: { name: string; text: string }
    try {
      ready = await vm.waitAnySignal(['ready', 'failed'], readyTimeoutSec * 1000)
    } catch (e) {
      await this.stop()
      throw new Error(`Linux host not ready: ${e instanceof Error ? e.message : String(e)}`)
    }
    if (ready.name === 'failed') {
      await this.stop()
      throw new Error(`Linux host not ready: ${ready.text}`)
    }
    o.log?.(`ready: namespaces ${ready.text.trim()}`)
    this.#emit({ kind: 'ready' })
  }

  #finish(r: GuestResult, why: string): void {
    const t = this.#deltas.totals()
    const res = r.results
    const problems = Number(res.kernel_problems ?? Number.NaN)
    const ok = r.rc === 0 && res.disconnect === 'ok' && res.writers_stuck === '0'
    const detail =
      `${why}: guest rc ${r.rc}${r.timedOut ? ' (timed out)' : ''}, kernel ${r.kernelVersion}, accel ${r.accel}, ` +
      `boot-to-job ${r.bootMs === undefined ? '?' : (r.bootMs / 1000).toFixed(1)} s; ops ${t.ops}, bytes ${t.bytes}, errors ${t.errors} ` +
      `(${this.#appErrors} reported); disconnect ${res.disconnect ?? 'not reached'}; writers stuck ${res.writers_stuck ?? '?'}; ` +
      `kernel problem lines ${Number.isNaN(problems) ? '?' : problems}`
    this.#emit({ kind: 'done', ok, detail })
    if (this.#share !== undefined) rmSync(this.#share, { recursive: true, force: true })
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop(): Promise<void> {
    const vm = this.#vm
    if (vm === undefined) {
      if (this.#started) this.#emit({ kind: 'done', ok: false, detail: 'the guest never started' })
      return
    }
    try {
      vm.share.signal('stop', '')
    } catch {
      // the VM ended and its share is gone: nothing to tell
    }
    const limit = this.#opts.stopTimeoutMs ?? 120_000
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      vm.done.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), limit)
      }),
    ])
    clearTimeout(timer)
    if (timedOut) {
      this.#opts.log?.(`the guest did not finish within ${limit} ms of stop(); killing it`)
      vm.kill()
    }
    const r = await vm.done
    this.#finish(r, timedOut ? `killed ${limit} ms after stop()` : 'stopped')
  }
}
