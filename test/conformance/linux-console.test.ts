// The Linux-host driver without QEMU: reading the guest console (our @@NVMF lines and kernel
// messages) into DriverEvents, the reproducible data pattern, and the driver's input validation.
import t from 'tap'
import { InvalidArgumentError } from '../../lib/errors.js'
import { IoDeltas, KernelLogClassifier, parseGuestLine, stripKernelStamp } from '../../conformance/drivers/linux-console.js'
import { LinuxQemuDriver, regionPattern } from '../../conformance/drivers/linux-qemu.js'
import type { DriverTarget, DriverWorkload } from '../../conformance/driver-types.js'
import type { VmImage } from '../../kernel/vm-image.js'

t.test('guest protocol lines', async (t) => {
  t.same(parseGuestLine('@@NVMF io 1 120 491520 3@@'), { kind: 'io', totals: { nsid: 1, ops: 120, bytes: 491520, errors: 3 } })
  t.same(parseGuestLine('@@NVMF path 4420 nvme0@@'), { kind: 'path', port: 4420, ctrl: 'nvme0' })
  t.same(parseGuestLine('@@NVMF error 2 write block 7: dd: error writing /dev/nvme0n2: Input/output error (error 1 of writer 0)@@'), {
    kind: 'error',
    nsid: 2,
    detail: 'write block 7: dd: error writing /dev/nvme0n2: Input/output error (error 1 of writer 0)',
  })
  t.same(parseGuestLine('@@NVMF connect-failed 4421 could not add new controller@@'), { kind: 'connect-failed', port: 4421, detail: 'could not add new controller' })
  t.same(parseGuestLine('@@NVMF io 1 x 2 3@@'), { kind: 'other' }, 'a malformed counter line is not io')
  t.same(parseGuestLine('@@NVMF path 4420 sda@@'), { kind: 'other' })
  t.same(parseGuestLine('[   3.1] nvme nvme0: new ctrl'), { kind: 'other' })
})

t.test('io deltas from cumulative counters', async (t) => {
  const d = new IoDeltas()
  t.same(d.next({ nsid: 1, ops: 10, bytes: 40960, errors: 0 }), { kind: 'io', nsid: 1, ops: 10, bytes: 40960, errors: 0 })
  t.same(d.next({ nsid: 2, ops: 4, bytes: 16384, errors: 1 }), { kind: 'io', nsid: 2, ops: 4, bytes: 16384, errors: 1 })
  t.same(d.next({ nsid: 1, ops: 25, bytes: 102400, errors: 2 }), { kind: 'io', nsid: 1, ops: 15, bytes: 61440, errors: 2 })
  t.same(d.totals(), { ops: 29, bytes: 118784, errors: 3 })
})

t.test('kernel console lines', async (t) => {
  const k = new KernelLogClassifier()
  k.setPath('nvme1', 4421)
  t.equal(stripKernelStamp('[   41.377903] WARNING: CPU: 1'), 'WARNING: CPU: 1')
  t.equal(k.classify('[   12.000001] nvme nvme0: new ctrl: NQN "nqn.x", addr 10.0.2.2:4420'), undefined, 'informational lines are dropped')
  t.same(k.classify('[   20.1] nvme nvme1: I/O tag 3 (1003) type 4 opcode 0x1 (I/O Cmd) QID 1 timeout'), {
    kind: 'log',
    level: 'warn',
    detail: 'nvme nvme1: I/O tag 3 (1003) type 4 opcode 0x1 (I/O Cmd) QID 1 timeout',
  })
  t.same(k.classify('[   21.5] block nvme0n1: no available path - failing I/O'), { kind: 'failover', detail: 'block nvme0n1: no available path - failing I/O' })
  t.same(k.classify('[   21.6] nvme nvme1: failover: requeuing'), { kind: 'failover', detail: 'nvme nvme1: failover: requeuing', path: '4421' }, 'a controller line is attributed to its path')
  t.same(k.classify('[   30.0] nvme nvme0: starting error recovery'), { kind: 'log', level: 'warn', detail: 'nvme nvme0: starting error recovery' })
  // A splat: its first line and the lines up to the end marker are errors.
  const splat = [
    '[   41.377903] WARNING: CPU: 1 PID: 212 at block/blk-mq.c:1573 __blk_mq_run_hw_queue+0x82/0xb0',
    '[   41.377950] Modules linked in: nvme_tcp',
    '[   41.377951] Call Trace:',
    '[   41.377960] ---[ end trace 0000000000000000 ]---',
  ].map((l) => k.classify(l))
  t.ok(splat.every((e) => e?.kind === 'log' && e.level === 'error'), 'every splat line is a log error')
  t.equal(k.classify('[   42.0] random line after the splat'), undefined, 'the splat ended')
  t.same(k.classify('[  130.0] INFO: task dd:311 blocked for more than 60 seconds.'), { kind: 'log', level: 'error', detail: 'INFO: task dd:311 blocked for more than 60 seconds.' })
  t.equal(k.classify('@@NVMF io 1 2 3 4@@'), undefined, 'protocol lines are not kernel lines')
  t.equal(k.classify('[guest] workload verify bs=4096'), undefined)
  t.same(k.classify('BUG: kernel NULL pointer dereference, address: 0000000000000008'), { kind: 'log', level: 'error', detail: 'BUG: kernel NULL pointer dereference, address: 0000000000000008' })
})

t.test('the data pattern is reproducible and differs by seed, generation and offset', async (t) => {
  const a = regionPattern(58, 0, 8192)
  t.ok(a.equals(regionPattern(58, 0, 8192)), 'same seed and generation, same bytes')
  t.notOk(a.equals(regionPattern(58, 1, 8192)), 'the other generation differs')
  t.notOk(a.equals(regionPattern(59, 0, 8192)), 'another seed differs')
  t.notOk(a.subarray(0, 4096).equals(a.subarray(4096)), 'two blocks of one generation differ')
  t.ok(regionPattern(58, 0, 4096).equals(a.subarray(0, 4096)), 'a prefix is the same whatever the length')
})

t.test('bad input: a typed error naming the field, before anything boots', async (t) => {
  // A VmImage is plain data; this one is never booted (validation comes first).
  const image: VmImage = {
    dir: '/nonexistent', kernel: '/nonexistent/vmlinux', bootMode: 'pvh', initramfs: '/nonexistent/initramfs.cpio',
    kernelRelease: '6.1.0-test', kernelPackage: 'test', kernelSpec: 'default', nvmeCliVersion: '2.4', busyboxVersion: 'v1',
    modules: [], fingerprint: 'x', buildMs: 0,
  }
  const target: DriverTarget = { traddr: '127.0.0.1', trsvcids: [4420], subnqn: 'nqn.2014-08.org.nvmf-fault:t', hostnqn: 'nqn.2014-08.org.nvmf-fault:h' }
  const workload: DriverWorkload = { rw: 'verify', bs: 4096, qd: 2, durationMs: 5000, namespaces: 'all', pattern: 'seed:1' }
  const cases: [Partial<DriverTarget>, Partial<DriverWorkload>, string][] = [
    [{ traddr: '192.0.2.1' }, {}, 'traddr'],
    [{ trsvcids: [] }, {}, 'trsvcids'],
    [{ trsvcids: [70000] }, {}, 'trsvcids'],
    [{ subnqn: 'not-an-nqn' }, {}, 'subnqn'],
    [{}, { bs: 1000 }, 'bs'],
    [{}, { qd: 0 }, 'qd'],
    [{}, { durationMs: 10 }, 'durationMs'],
    [{}, { namespaces: [0] }, 'namespaces'],
    [{}, { pattern: 'random' }, 'pattern'],
  ]
  for (const [tp, wp, field] of cases) {
    const d = new LinuxQemuDriver({ image })
    const err = await d.start({ ...target, ...tp }, { ...workload, ...wp }, () => {}).catch((e: unknown) => e)
    t.ok(err instanceof InvalidArgumentError && err.field === field, `${field}: ${String(err)}`)
  }
  t.throws(() => new LinuxQemuDriver({ image, holdSec: -1 }), InvalidArgumentError)
  const d = new LinuxQemuDriver({ image })
  t.match(d.info, { id: 'linux-6.1.0-test', kind: 'linux', kernelRelease: '6.1.0-test' })
  await d.stop()
  t.pass('stop() before start() is a no-op')
})

t.test('a normal disconnect is not trouble', async (t) => {
  const k = new KernelLogClassifier()
  t.equal(k.classify('[   36.018356] nvme nvme1: Removing ctrl: NQN "nqn.2014-08.org.nvmf-fault:x"'), undefined)
  t.equal(k.classify('[    7.104947] nvme nvme0: new ctrl: NQN "nqn.x", addr 10.0.2.2:46863'), undefined)
})

t.test('words inside an NQN do not classify a line (real 6.1 lines from an all-paths-inaccessible run)', async (t) => {
  const k = new KernelLogClassifier()
  k.setPath('nvme0', 43725)
  t.equal(k.classify('[    7.1] nvme nvme0: new ctrl: NQN "nqn.2014-08.org.nvmf-fault:conformance-linux-failover", addr 10.0.2.2:43725'), undefined)
  t.equal(k.classify('[   36.0] nvme nvme0: Removing ctrl: NQN "nqn.2014-08.org.nvmf-fault:timeout-and-reconnect"'), undefined)
  t.same(k.classify('[   18.2] block nvme0n1: no usable path - requeuing I/O'), { kind: 'failover', detail: 'block nvme0n1: no usable path - requeuing I/O' })
})
