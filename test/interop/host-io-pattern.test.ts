// The data runHostIo's guest writes (fixtures/host-io-pattern.ts), without QEMU: every namespace and
// generation has its own bytes, so the target-store check of faults-linux-host.test.ts sees a write
// that reached the wrong namespace, and identifyBlock names whose data a block holds.
import t from 'tap'
import { expectedBlock, hostIoPatternFile, hostIoSeed, identifyBlock } from './fixtures/host-io-pattern.js'

t.test('seeds differ for every namespace and generation', async (t) => {
  const seeds = new Set<number>()
  for (let nsid = 1; nsid <= 64; nsid++) for (const g of [0, 1] as const) seeds.add(hostIoSeed(nsid, g))
  t.equal(seeds.size, 128)
  t.equal(hostIoSeed(0xfffffffe, 1), hostIoSeed(0xfffffffe, 1), 'deterministic')
  t.not(hostIoSeed(0xfffffffe, 0), hostIoSeed(1, 0), 'the largest NSID has its own seed')
})

t.test('a block names its namespace, generation and offset', async (t) => {
  const b = expectedBlock(2, 1, 3)
  t.equal(b.length, 1024 * 1024)
  t.ok(b.equals(expectedBlock(2, 1, 3)), 'the same block twice is the same bytes')
  t.notOk(b.equals(expectedBlock(1, 1, 3)), 'another namespace differs')
  t.notOk(b.equals(expectedBlock(2, 0, 3)), 'the other generation differs')
  t.notOk(b.equals(expectedBlock(2, 1, 4)), 'another block differs')
  t.equal(hostIoPatternFile(2, 1), 'pattern.2.1.bin')
})

t.test('identifyBlock says whose data a block holds', async (t) => {
  const nsids = [1, 2, 3]
  t.same(identifyBlock(expectedBlock(2, 1, 5), 5, nsids), { nsid: 2, generation: 1 }, "nsid 2's generation 1 found in another namespace's block 5")
  t.same(identifyBlock(expectedBlock(3, 0, 0), 0, nsids), { nsid: 3, generation: 0 })
  t.equal(identifyBlock(expectedBlock(1, 0, 4), 5, nsids), undefined, 'data of another offset is nobody of this block')
  t.equal(identifyBlock(Buffer.alloc(1024 * 1024), 5, nsids), undefined, 'zeroes are nobody')
  t.equal(identifyBlock(expectedBlock(4, 0, 5), 5, nsids), undefined, 'only the namespaces asked about')
})
