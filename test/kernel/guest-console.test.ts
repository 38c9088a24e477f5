/**
 * The harness's reading of a guest console, without QEMU: a guest kernel that died before our init
 * started the job (a recorded Debian 6.12 boot that took an int3 oops under TCG) is a boot death; an
 * oops after the job-start marker is the job's (a test that provokes one judges it); a panic with no
 * oops before the marker counts too; a clean boot has none.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { bootDeath, describeBootDeath, JOB_START_MARKER } from '../../kernel/guest-console.js'

const FX = new URL('./fixtures/', import.meta.url)
const int3 = readFileSync(new URL('boot-oops-int3-6.12.console', FX), 'utf8')
const rqQos = readFileSync(new URL('oops-rq-qos.console', FX), 'utf8')

t.test('an oops before the job started is a boot death, with its excerpt', async (t) => {
  const d = bootDeath(int3)
  t.ok(d, 'found')
  t.equal(d!.bug, 'Oops: int3: 0000 [#1] PREEMPT SMP NOPTI')
  t.equal(d!.rip, 'sched_clock_idle_wakeup_event+0x5/0x40')
  t.same(d!.callTrace.slice(0, 2), ['tick_irq_enter', 'sysvec_apic_timer_interrupt'])
  t.equal(d!.uptimeSec, 2.626775)
  t.equal(describeBootDeath(d!), 'Oops: int3: 0000 [#1] PREEMPT SMP NOPTI at sched_clock_idle_wakeup_event+0x5/0x40 (2.63 s after boot)')
})

t.test('an oops after the job-start marker belongs to the job', async (t) => {
  const during = `[    3.1] Run /init as init process\n@@VM boot kernel=6.12.117+deb13-amd64 nvme=2.3 accel=tcg cpus=2 share=/host@@\n${JOB_START_MARKER}\n${rqQos}`
  t.equal(bootDeath(during), undefined, 'the seed crash during the job is not a boot death')
  const both = `${int3.split('\n').slice(0, 1).join('\n')}\n${JOB_START_MARKER}\n${int3}`
  t.equal(bootDeath(both), undefined, 'only what comes before the marker counts')
})

t.test('a panic without an oops before the job is a boot death', async (t) => {
  const con = [
    '[    1.900000] VFS: Cannot open root device "" or unknown-block(0,0): error -6',
    '[    1.900100] Please append a correct "root=" boot option; here are the available partitions:',
    '[    1.900200] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
    '[    1.900300] Kernel Offset: disabled',
  ].join('\n')
  const d = bootDeath(con)
  t.ok(d, 'found')
  t.equal(d!.bug, 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)')
  t.equal(d!.rip, '')
  t.equal(d!.uptimeSec, 1.9002)
  t.match(d!.lines[0], /^VFS: Cannot open root device/)
})

t.test('a panic line that lost characters on a loaded serial console is still a boot death', async (t) => {
  // As a 7.3.4 guest's console arrived at load 7 (the space and the "K" dropped).
  const con = [
    '[    1.819488] VFS: Cannot open root device "" or unknown-block(0,0): error -19',
    '[    1.832143]ernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
    '[    1.882353] Kernel Offset: disabled',
  ].join('\n')
  const d = bootDeath(con)
  t.ok(d, 'found')
  t.equal(d!.bug, 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)')
})

t.test('a clean boot, or one cut short without a death, has none', async (t) => {
  t.equal(bootDeath('[    0.000000] Linux version 6.12.117\n[    2.6] Loading compiled-in X.509 certificates\n[init] started at 3.10 s\n'), undefined)
  t.equal(bootDeath(''), undefined)
  t.equal(bootDeath(`[init] modules loaded\n${JOB_START_MARKER}\n@@VM job-exit rc=0@@\n`), undefined)
})
