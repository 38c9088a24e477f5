/**
 * Read data that spans memory-store chunks is copied into a buffer the connection reuses once the
 * response was written (target/transport/read-buffer-pool.ts): a reused buffer never shows a later
 * read's bytes to an earlier one, and a buffer whose PDU went through an onPduSend decision is never
 * reused (the hook may keep it).
 */
import t, { type Test } from 'tap'
import { ReadBufferPool } from '../../target/transport/read-buffer-pool.js'
import { RawHost } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN } from './helpers/fixture.js'
import { PduType } from '../../lib/pdu/index.js'
import type { TargetHooks } from '../../target/index.js'

const KIB = 1024

t.test('the pool: small reads are not pooled, a given-back buffer is reused, the free bytes are bounded', (t) => {
  const pool = new ReadBufferPool({ maxFreeBytes: 256 * KIB })
  const small = pool.take(4 * KIB)
  t.notOk(pool.lent(small), 'a 4 KiB read uses Node’s shared pool')
  const a = pool.take(128 * KIB)
  const b = pool.take(128 * KIB)
  const c = pool.take(128 * KIB)
  t.ok(pool.lent(a) && pool.lent(b) && pool.lent(c))
  pool.giveBack(a)
  pool.giveBack(a)
  t.notOk(pool.lent(a), 'given back once')
  pool.giveBack(b)
  pool.giveBack(c)
  const again = [pool.take(128 * KIB), pool.take(128 * KIB), pool.take(128 * KIB)]
  t.ok(again.includes(a) && again.includes(b), 'the two that fit in 256 KiB are reused')
  t.notOk(again.includes(c), 'the third was beyond the bound and left to the collector')
  pool.giveBack(Buffer.alloc(128 * KIB))
  t.not(pool.take(128 * KIB).length, 0)
  t.end()
})

function pattern(tag: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes)
  for (let i = 0; i < bytes; i += 4) b.writeUInt32LE((tag * 0x10000 + i / 4) >>> 0, i)
  return b
}

async function ioQueue(t: Test, hooks?: TargetHooks): Promise<RawHost> {
  const target = await startTarget(t, hooks !== undefined ? { hooks } : {})
  const admin = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => admin.destroy())
  const cntlid = await admin.connectAdmin({ subnqn: SUBNQN })
  const io = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => io.destroy())
  if ((await io.connectIo({ subnqn: SUBNQN, cntlid })).cqe.status !== 0) throw new Error('I/O connect failed')
  return io
}

t.test('128 KiB reads across chunks: each returns its own range while buffers are reused', async (t) => {
  const io = await ioQueue(t)
  const ranges = 6
  for (let r = 0; r < ranges; r++) t.equal((await io.write(1, BigInt(r * 256 + 64), pattern(r, 128 * KIB))).cqe.status, 0)
  for (let round = 0; round < 3; round++) {
    // Several at once (buffers in flight together), then one by one (a given-back buffer reused).
    const all = await Promise.all(Array.from({ length: ranges }, (_, r) => io.read(1, BigInt(r * 256 + 64), 256)))
    for (let r = 0; r < ranges; r++) t.same(all[r]!.data, pattern(r, 128 * KIB), `round ${round}, concurrent read of range ${r}`)
    for (let r = ranges - 1; r >= 0; r--) t.same((await io.read(1, BigInt(r * 256 + 64), 256)).data, pattern(r, 128 * KIB), `round ${round}, read of range ${r}`)
    // A write between rounds: the next reads return the new bytes.
    t.equal((await io.write(1, 64n, pattern(100 + round, 128 * KIB))).cqe.status, 0)
    t.same((await io.read(1, 64n, 256)).data, pattern(100 + round, 128 * KIB), `round ${round}, read after write`)
    t.equal((await io.write(1, 64n, pattern(0, 128 * KIB))).cqe.status, 0)
  }
})

t.test('a read buffer an onPduSend hook has seen is never reused', async (t) => {
  const kept: { data: Buffer; copy: Buffer }[] = []
  const io = await ioQueue(t, {
    onPduSend: (_ctx, tx) => {
      // Keeps the data view itself, as a recording fault could.
      if (tx.pdu.type === PduType.C2H_DATA && tx.pdu.data.length === 128 * KIB) kept.push({ data: tx.pdu.data, copy: Buffer.from(tx.pdu.data) })
      return { action: 'pass' }
    },
  })
  for (let r = 0; r < 4; r++) t.equal((await io.write(1, BigInt(r * 256 + 64), pattern(r, 128 * KIB))).cqe.status, 0)
  for (let round = 0; round < 3; round++) for (let r = 0; r < 4; r++) t.same((await io.read(1, BigInt(r * 256 + 64), 256)).data, pattern(r, 128 * KIB))
  t.equal(kept.length, 12, 'the hook saw every 128 KiB C2HData')
  t.ok(
    kept.every((k) => k.data.equals(k.copy)),
    'what the hook kept still holds the bytes it saw',
  )
  t.equal(new Set(kept.map((k) => k.data.buffer)).size, 12, 'no buffer was handed out twice')
})
