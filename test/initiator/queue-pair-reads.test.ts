/**
 * How a queue pair hands read data back (docs/performance.md, round 2): a read carried by one
 * C2HData comes back as that PDU's data, unchanged; a read carried by several is gathered in order
 * into one buffer of the command's length; a read that fails with no data still returns a buffer of
 * its length. And command timeouts with one timer per queue (command-deadlines.ts): each command
 * past its deadline is reported once, a completed one never, an earlier deadline re-arms the timer.
 */
import t from 'tap'
import { encodePduParts, PduType } from '../../lib/pdu/index.js'
import { encodeCqe } from '../../lib/nvme/cqe.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'
import { ManualClock } from '../../lib/clock.js'
import { NvmeStatus } from '../../lib/status.js'
import { CommandDeadlines } from '../../initiator/transport/command-deadlines.js'
import { RawTarget } from '../helpers/raw-target.js'
import { connectRawQueue, readAt, readPattern } from '../helpers/raw-queue.js'

t.test('read data: one C2HData, several C2HData, and a failed read', async (t) => {
  // The raw controller (test/helpers/raw-target.ts) answers each Read with hand-made PDUs:
  // LBA 0: one C2HData; LBA 1: 512-byte C2HData PDUs; LBA 2: no data, an error status.
  const tg = await RawTarget.listen({
    onCommand: ({ sqe }) => {
      if (sqe.opc !== IoOpcode.READ) return undefined
      const slba = sqe.cdw10
      const length = ((sqe.cdw12 & 0xffff) + 1) * 512
      const resp = (status: number): Buffer => Buffer.concat(encodePduParts({ type: PduType.CAPSULE_RESP, cqe: encodeCqe({ dw0: 0, dw1: 0, sqhd: 0, sqid: 1, cid: sqe.cid, status }) }))
      if (slba === 2) return { kind: 'raw', bytes: resp(NvmeStatus.INTERNAL) }
      const data = readPattern(slba, length)
      const step = slba === 0 ? length : 512
      const parts: Buffer[] = []
      for (let off = 0; off < length; off += step) {
        parts.push(...encodePduParts({ type: PduType.C2H_DATA, cccid: sqe.cid, datao: off, last: off + step >= length, success: false, data: data.subarray(off, off + step) }))
      }
      return { kind: 'raw', bytes: Buffer.concat([...parts, resp(0)]) }
    },
  })
  t.teardown(() => tg.close())
  const qp = await connectRawQueue(tg.port)
  t.teardown(() => qp.close())
  const read = (slba: number, length: number) => readAt(qp, slba, length)

  const one = await read(0, 4096)
  t.equal(one.cqe.status, 0)
  t.same(one.data, readPattern(0, 4096), 'one C2HData: the data as sent')
  const several = await read(1, 8192)
  t.equal(several.cqe.status, 0)
  t.equal(several.data?.length, 8192)
  t.same(several.data, readPattern(1, 8192), '16 C2HData PDUs gathered in order')
  const failed = await read(2, 4096)
  t.equal(failed.cqe.status, NvmeStatus.INTERNAL, 'status as data')
  t.equal(failed.data?.length, 4096, 'a buffer of the read length even without data')
  t.equal(qp.outstanding, 0)
})

t.test('command deadlines: one timer, each expired command reported once', (t) => {
  const clock = new ManualClock()
  const pending = new Map<number, { id: number; deadline: number }>()
  const reported: number[] = []
  const d = new CommandDeadlines<{ id: number; deadline: number }>({ clock, pending: () => pending.values(), onExpired: (p) => reported.push(p.id) })
  const add = (id: number, timeoutMs: number): void => {
    pending.set(id, { id, deadline: d.deadlineFor(timeoutMs) })
  }
  add(1, 100)
  add(2, 100)
  add(3, 0)
  clock.advance(50)
  add(4, 20) // earlier than the armed deadline: fires at 70
  pending.delete(2) // completed: never reported
  clock.advance(20)
  t.same(reported, [4], 'the later, shorter command at its own deadline')
  clock.advance(30)
  t.same(reported, [4, 1], 'the first at 100; the completed one and the one without a timeout never')
  clock.advance(1000)
  t.same(reported, [4, 1], 'each reported once')
  add(5, 10)
  d.stop()
  clock.advance(100)
  t.same(reported, [4, 1], 'nothing after stop()')
  t.end()
})
