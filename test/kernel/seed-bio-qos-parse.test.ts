/**
 * reproduce seed-bio-qos, the parts that need no QEMU: the oops excerpt from a recorded console,
 * the kprobe trace counts (flagged bios failed on the head = an endio of the same bio right after
 * its head entry, in the same task), the BIO_QOS mask from a kernel's blk_types.h enum, the
 * findings of the --qos drain checks.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parseKprobeTrace, parseOops, qosFindings, qosMaskForRelease, qosMaskFromBlkTypes } from '../../kernel/seed-bio-qos-parse.js'

const FX = new URL('./fixtures/', import.meta.url)

t.test('oops excerpt: BUG line, RIP, workqueue, call trace without the ? entries, uptime', async (t) => {
  const o = parseOops(readFileSync(new URL('oops-rq-qos.console', FX), 'utf8'))
  t.ok(o, 'found')
  t.equal(o!.bug, 'BUG: kernel NULL pointer dereference, address: 0000000000000000')
  t.equal(o!.rip, '__rq_qos_done_bio+0x11/0x40')
  t.equal(o!.workqueue, 'kblockd nvme_requeue_work')
  t.same(o!.callTrace.slice(0, 5), ['bio_endio', 'nvme_ns_head_submit_bio', '__submit_bio', 'submit_bio_noacct_nocheck', 'nvme_requeue_work'])
  t.equal(o!.uptimeSec, 15.031402)
  t.match(o!.lines.at(-1), /end trace/)
  t.equal(parseOops('[    1.0] nvme nvme0: new ctrl\n@@VM job-exit rc=0@@\n'), undefined, 'a clean console has none')
})

t.test('kprobe trace: failovers, flagged head entries, flagged bios failed on the head', async (t) => {
  const c = parseKprobeTrace(readFileSync(new URL('kprobe-trace.txt', FX), 'utf8'))
  t.equal(c.failovers, 2)
  t.equal(c.flaggedHeadEntries, 3)
  // 0x...d000 and 0x...f000 complete right after their head entry in the same task; 0x...e000
  // completes on another CPU (a normal completion later), which does not count.
  t.equal(c.flaggedFailedOnHead, 2)
  t.equal(c.flaggedCompletions, 4)
  t.equal(c.otherLines, 1, 'the lost-events note')
  t.same(parseKprobeTrace(''), { failovers: 0, flaggedHeadEntries: 0, flaggedFailedOnHead: 0, flaggedCompletions: 0, otherLines: 0 })
})

t.test('BIO_QOS mask from the bio flag enum, aliases included', async (t) => {
  const v612 = `struct bio { unsigned short bi_flags; };
enum {
\tBIO_PAGE_PINNED,\t/* Unpin pages */
\tBIO_CLONED,\t\t/* doesn't own data */
\tBIO_BOUNCED,\t\t/* bio is a bounce bio */
\tBIO_QUIET,
\tBIO_CHAIN,
\tBIO_REFFED,
\tBIO_BPS_THROTTLED,\t/* This bio has already been subjected to
\t\t\t\t * throttling rules. Don't do it again. */
\tBIO_TRACE_COMPLETION,
\tBIO_CGROUP_ACCT,
\tBIO_QOS_THROTTLED,
\tBIO_QOS_MERGED,
\tBIO_REMAPPED,
\tBIO_FLAG_LAST
};`
  t.equal(qosMaskFromBlkTypes(v612), 0x600, '6.12: bits 9 and 10')
  const v72 = v612.replace('\tBIO_BOUNCED,\t\t/* bio is a bounce bio */\n', '').replace('\tBIO_QOS_THROTTLED,\n', '\tBIO_QOS_THROTTLED,\n\t/* reuse */\n\tBIO_TG_BPS_THROTTLED = BIO_QOS_THROTTLED,\n')
  t.equal(qosMaskFromBlkTypes(v72), 0x300, '7.x: bits 8 and 9, the alias takes no position')
  t.equal(qosMaskFromBlkTypes('enum { BIO_X, BIO_Y };'), undefined)
  t.equal(qosMaskForRelease('6.1.0-57-amd64'), 0x600)
  t.equal(qosMaskForRelease('6.12.57+deb13-amd64'), 0x600)
  t.equal(qosMaskForRelease('6.17.13+deb13-amd64'), 0x300)
  t.equal(qosMaskForRelease('7.3.4+deb13-amd64'), 0x300)
})

t.test('a recorded oops (reproduce seed-bio-qos on Debian 6.12.117 with the rq_qos check removed)', async (t) => {
  const o = parseOops(readFileSync(new URL('oops-debian-6.12-rq-qos.console', FX), 'utf8'))
  t.equal(o?.bug, 'BUG: kernel NULL pointer dereference, address: 0000000000000000')
  t.equal(o?.rip, '__rq_qos_done_bio+0x11/0x40')
  t.equal(o?.workqueue, 'kblockd nvme_requeue_work [nvme_core]')
  t.same(o?.callTrace.slice(0, 5), ['bio_endio', 'nvme_ns_head_submit_bio', '__submit_bio', 'submit_bio_noacct_nocheck', 'nvme_requeue_work'], 'the seed trace, module names and ? entries left out')
  t.equal(o?.uptimeSec, undefined, 'no printk times in this excerpt')
})

t.test('--qos drain checks: what did not drain becomes a finding; a clean run has none', async (t) => {
  const clean = {
    'qos.writers_left': '0',
    'qos.d_state': '0',
    'qos.hung_tasks': '0',
    'qos.after_stop.inflight_nonzero': 'nvme1c1n1=1/0',
    'qos.after_drain.inflight_nonzero': '',
    'qos.after_drain.wbt_inflight_nonzero': '',
    'qos.rmdir': 'ok',
    'qos.iocost.head': 'Operation_not_supported:3',
  }
  t.same(qosFindings(clean), [], 'inflight right after the stop may still drain; tried-and-refused configs are no finding')
  t.same(qosFindings({}), [], 'no qos results: nothing to say')
  const stuck = qosFindings({ ...clean, 'qos.writers_left': '2', 'qos.d_state': '3', 'qos.hung_tasks': '1', 'qos.after_drain.inflight_nonzero': 'nvme0n1=0/1', 'qos.after_drain.wbt_inflight_nonzero': 'nvme0c0n1=2', 'qos.rmdir': 'hung: still running after 30 s', kernel_problems: '4' })
  t.equal(stuck.length, 7)
  t.match(stuck.join('\n'), /2 writer\(s\) still running/)
  t.match(stuck.join('\n'), /writeback-throttling inflight not drained .*nvme0c0n1=2/)
  t.match(stuck.join('\n'), /removing the cgroup: hung/)
})
