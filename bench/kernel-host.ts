/**
 * Opt-in (`--kernel SPEC`): the Linux kernel NVMe/TCP host in a QEMU guest reads the same amount
 * with the same job against our target (in a bench child process on the host, reached through QEMU
 * user networking) and against the kernel's own nvmet in the same guest (over the guest's loopback):
 * sequential 128 KiB reads of the namespace — one fio job (libaio, QD8, O_DIRECT) when this machine
 * has fio (kernel/guest-fio.ts copies it into the share), else `dd` (O_DIRECT when the guest's dd
 * has it); the row names the job. Reported as
 * our MB/s over nvmet's — under TCG emulation and with QEMU's user-mode network on our side only,
 * so a trend between runs, never a verdict. Skips with the reason when QEMU cannot run.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchContext, BenchRow, BenchSection } from './harness.js'
import { loadNow } from './harness.js'
import { Worker } from './rpc.js'
import { BENCH_NQN, type TargetStart } from './role-target.js'
import { ensureVmImage, interopAvailability } from '../kernel/vm-image.js'
import { describeRun, consoleTail, runGuest } from '../kernel/vm.js'
import { stageFio } from '../kernel/guest-fio.js'

const NVMET_NQN = 'nqn.2014-08.org.nvmf-fault:bench-nvmet'

/** The guest job: the same dd against each target; results as vm_result lines. */
const JOB = `
. "$VM_LIB"
MB=$BENCH_MB
# ms to read MB MiB from $1 in 128 KiB blocks: fio (sequential, libaio, QD8, O_DIRECT; its
# --minimal line's field 9 is the read runtime in ms) when the host staged it into the share, else
# dd (O_DIRECT if this dd knows it).
readjob() {
  if [ -n "$BENCH_FIO" ]; then
    _ms=$($BENCH_FIO --name=seqread --filename="$1" --rw=read --bs=128k --ioengine=libaio --iodepth=8 --direct=1 --size="$MB"M --minimal 2>/dev/null | awk -F';' '{ print $9 }')
    [ -n "$_ms" ] && [ "$_ms" -gt 0 ] || return 1
    echo "$_ms"
    return 0
  fi
  _t0=$(vm_now_ms)
  dd if="$1" of=/dev/null bs=128k count=$((MB * 8)) iflag=direct 2>/dev/null || dd if="$1" of=/dev/null bs=128k count=$((MB * 8)) 2>/dev/null || return 1
  vm_ms_since "$_t0"
}
headdev() { vm_until 30 vm_head_dev "$1" 1 >/dev/null || return 1; vm_head_dev "$1" 1; }

nvme connect -t tcp -a "$VM_HOST_IP" -s "$BENCH_PORT" -n "$BENCH_NQN" >/dev/null || { vm_say "connect to our target failed"; exit 3; }
dev=$(headdev "$BENCH_NQN") || { vm_say "no device from our target"; exit 3; }
readjob "$dev" >/dev/null
ours=$(readjob "$dev") || exit 4
nvme disconnect -n "$BENCH_NQN" >/dev/null

modprobe nvmet-tcp 2>/dev/null || true
truncate -s $((MB * 2))M /tmp/nvmet.img
nvmet_subsys "$NVMET_NQN"
nvmet_ns "$NVMET_NQN" 1 /tmp/nvmet.img "" buffered
nvmet_port 1 4420 127.0.0.1
nvmet_link 1 "$NVMET_NQN"
vm_until 10 vm_listening 4420 || { vm_say "nvmet does not listen"; exit 5; }
nvme connect -t tcp -a 127.0.0.1 -s 4420 -n "$NVMET_NQN" >/dev/null || exit 5
dev=$(headdev "$NVMET_NQN") || exit 5
readjob "$dev" >/dev/null
theirs=$(readjob "$dev") || exit 6
nvme disconnect -n "$NVMET_NQN" >/dev/null
vm_result ours_ms "$ours"
vm_result nvmet_ms "$theirs"
vm_result mib "$MB"
`

export async function runKernelHost(ctx: BenchContext, spec: string): Promise<BenchRow[]> {
  const skip = (why: string): BenchRow[] => [{ section: 'kernel', name: 'Linux host (QEMU): our target vs nvmet', value: 0, unit: '', note: `skipped: ${why}` }]
  const avail = await interopAvailability({ kernel: spec })
  if (!avail.ok) return skip(avail.reason)
  ctx.step('kernel: guest image')
  const image = await ensureVmImage({ kernel: spec })
  const share = mkdtempSync(join(tmpdir(), 'nvmf-bench-kernel-'))
  const target = new Worker({ role: 'target', ...(ctx.profileDir !== undefined ? { profileDir: ctx.profileDir } : {}) })
  try {
    const mib = ctx.quick ? 16 : 64
    const { ports } = await target.call<{ ports: number[] }>('start', { ports: 1, namespaces: 1, nsBytes: mib * 2 * (1 << 20) } satisfies TargetStart)
    ctx.step('kernel: guest run')
    const fio = await stageFio(share)
    const job = fio.ok ? `fio 128k seq read QD8 (${fio.version})` : 'dd 128k read'
    const r = await runGuest({ script: { text: JOB }, image, share, timeoutSec: 900, env: { BENCH_PORT: String(ports[0]), BENCH_NQN, NVMET_NQN, BENCH_MB: String(mib), BENCH_FIO: fio.ok ? fio.command : '' } })
    const ours = Number(r.results.ours_ms)
    const theirs = Number(r.results.nvmet_ms)
    if (r.rc !== 0 || !(ours > 0) || !(theirs > 0)) {
      process.stderr.write(`${consoleTail(r, 30)}\n`)
      return skip(`guest job failed (console tail on stderr): ${describeRun(r)}`)
    }
    const mbps = (ms: number): number => (mib * 1.048576) / (ms / 1000)
    return [
      {
        section: 'kernel',
        name: `Linux ${r.kernelVersion} host, ${mib} MiB ${job}: our target vs the guest's nvmet`,
        value: mbps(ours),
        unit: ' MB/s',
        value2: mbps(theirs),
        unit2: ' MB/s nvmet',
        ratio: ours > 0 ? theirs / ours : 0,
        baseline: 'kernel nvmet in the same guest',
        load: loadNow(),
        note: `emulated (${r.accel.toUpperCase()}); our target behind QEMU user networking; trend only${fio.ok ? '' : `; dd because ${fio.reason}`}`,
        metrics: { oursMs: ours, nvmetMs: theirs, mib, accel: r.accel, kernel: r.kernelVersion, job },
      },
    ]
  } finally {
    await target.stop()
    rmSync(share, { recursive: true, force: true })
  }
}

export function kernelSection(spec: string): BenchSection {
  return { name: 'kernel', steps: () => 2, run: (ctx) => runKernelHost(ctx, spec) }
}
