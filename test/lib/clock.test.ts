import t from 'tap'
import { ManualClock, seededRandom } from '../../lib/clock.js'

t.test('ManualClock fires due timers in time order and skips cleared ones', async (t) => {
  const clock = new ManualClock(100)
  const fired: string[] = []
  clock.setTimeout(() => fired.push('b'), 20)
  const h = clock.setTimeout(() => fired.push('x'), 5)
  clock.setTimeout(() => {
    fired.push('a')
    clock.setTimeout(() => fired.push('c'), 15)
  }, 10)
  clock.clearTimeout(h)
  clock.advance(24)
  t.same(fired, ['a', 'b'])
  t.equal(clock.now(), 124)
  clock.advance(1)
  t.same(fired, ['a', 'b', 'c'])
  t.equal(clock.pending, 0)
})

t.test('seededRandom replays from its seed and stays in range', async (t) => {
  const a = seededRandom(42)
  const b = seededRandom(42)
  const c = seededRandom('other')
  const sa = Array.from({ length: 50 }, () => a.int(1000))
  const sb = Array.from({ length: 50 }, () => b.int(1000))
  const sc = Array.from({ length: 50 }, () => c.int(1000))
  t.same(sa, sb)
  t.not(sa.join(), sc.join())
  t.ok(sa.every((v) => v >= 0 && v < 1000))
  for (let i = 0; i < 1000; i++) {
    const v = a.next()
    if (v < 0 || v >= 1) t.fail(`out of range ${v}`)
  }
})
