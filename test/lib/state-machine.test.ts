import t from 'tap'
import { StateMachine } from '../../lib/state-machine.js'
import { InvalidStateTransitionError } from '../../lib/errors.js'
import { ControllerStateMachine } from '../../initiator/controller-state.js'
import { PathStateMachine } from '../../initiator/path-state.js'

type S = 'a' | 'b' | 'c'
const table = { a: ['b'], b: ['c', 'a'], c: [] } as const

t.test('the table is the whole truth; listeners see every move', (t) => {
  const moves: string[] = []
  const sm = new StateMachine<S>({ name: 'demo', initial: 'a', table, onTransition: (f, to) => moves.push(`${f}>${to}`) })
  sm.transition('b')
  sm.transition('b') // self-move: a no-op, no listener call
  t.ok(sm.is('b'))
  t.throws(() => sm.transition('b' === sm.state ? ('x' as S) : 'a'), InvalidStateTransitionError)
  t.equal(sm.tryTransition('c'), true)
  t.equal(sm.tryTransition('a'), false, 'c is final')
  t.same(moves, ['a>b', 'b>c'])
  t.end()
})

t.test('the initiator machines share the base: strict controller, idempotent path', (t) => {
  const c = new ControllerStateMachine({ name: 'c1' })
  t.ok(c instanceof StateMachine)
  c.transition('connecting')
  t.throws(() => c.transition('connecting'), InvalidStateTransitionError, 'controller self-move is refused (nvme_change_ctrl_state)')
  const p = new PathStateMachine({ name: 'p1' })
  t.ok(p instanceof StateMachine)
  t.equal(p.transition('live'), true)
  t.equal(p.transition('live'), false, 'path self-move is a no-op')
  t.end()
})
