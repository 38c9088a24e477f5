/**
 * The memory store lends views of its chunks to reads (no copy) and copies a lent chunk before
 * changing it: what a read returned never changes afterwards, whether the change is a write, Write
 * Zeroes, a deallocation or a shrink.
 */
import t from 'tap'
import { MemoryStore } from '../../target/core/namespace-store.js'

const CHUNK = 64 * 1024

t.test('a view keeps the bytes it was read with across every kind of change', async (t) => {
  const s = new MemoryStore({ size: 4 * CHUNK })
  s.writeSync(0, Buffer.alloc(8192, 0xaa))
  const v = s.readView(0, 4096)
  t.same(v, Buffer.alloc(4096, 0xaa))
  s.writeSync(0, Buffer.alloc(4096, 0xbb))
  t.same(v, Buffer.alloc(4096, 0xaa), 'write after the read: the view is unchanged')
  t.same(s.readSync(0, 4096), Buffer.alloc(4096, 0xbb), 'the store has the new data')

  const w = s.readView(4096, 4096)
  await s.writeZeroes(4096, 512)
  t.same(w, Buffer.alloc(4096, 0xaa), 'Write Zeroes after the read: unchanged')
  t.same(s.readSync(4096, 1024), Buffer.concat([Buffer.alloc(512), Buffer.alloc(512, 0xaa)]))

  const x = s.readView(0, 4096)
  await s.deallocate(0, CHUNK)
  t.same(x, Buffer.alloc(4096, 0xbb), 'whole-chunk deallocation: unchanged')
  t.same(s.readSync(0, 4096), Buffer.alloc(4096), 'deallocated reads as zeroes')
})

t.test('unwritten ranges read as zeroes; a range across chunks is a copy', async (t) => {
  const s = new MemoryStore({ size: 4 * CHUNK })
  t.same(s.readView(CHUNK, 4096), Buffer.alloc(4096))
  s.writeSync(CHUNK - 512, Buffer.alloc(1024, 0x11))
  const across = s.readView(CHUNK - 1024, 2048)
  t.same(across, Buffer.concat([Buffer.alloc(512), Buffer.alloc(1024, 0x11), Buffer.alloc(512)]))
  across.fill(0xff)
  t.same(s.readSync(CHUNK - 512, 1024), Buffer.alloc(1024, 0x11), 'changing the copy leaves the store alone')
  // Writes into a chunk with no views out change it in place (no copy needed): still correct.
  s.writeSync(0, Buffer.alloc(512, 0x22))
  s.writeSync(512, Buffer.alloc(512, 0x33))
  t.same(s.readSync(0, 1024), Buffer.concat([Buffer.alloc(512, 0x22), Buffer.alloc(512, 0x33)]))
  t.equal(s.allocatedBytes(), 2 * CHUNK)
})
