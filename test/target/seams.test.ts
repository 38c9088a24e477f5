/**
 * target/seams: one decision type per seam (a decision that does not apply is `pass`, with a
 * warning naming the seam), and the dispatch written once — synchronous `pass` with no hook,
 * the hook's decision on a later microtask with one, `pass` when the hook fails.
 */
import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { narrowDecision, SEAMS, SEAM_ACTIONS, type Decision, type HookSlot, type TargetHooks } from '../../target/seams/index.js'
import { makeSqe } from '../../lib/nvme/sqe.js'

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    },
  })
  return { logger: pino({ level: 'debug' }, stream), lines }
}
const flush = (): Promise<void> => new Promise((r) => setImmediate(r))

t.test('each seam carries out its own actions; anything else is pass with a warning', (t) => {
  const { logger, lines } = capture()
  const hold: Decision = { action: 'hold' }
  t.same(narrowDecision('onPduSend', hold, logger), hold, 'hold applies when sending')
  t.same(narrowDecision('onPduReceived', hold, logger), { action: 'pass' }, 'hold means nothing for bytes already received')
  t.same(narrowDecision('onCommand', { action: 'segment', sizes: [1] }, logger), { action: 'pass' })
  t.same(narrowDecision('onCommand', { action: 'nonsense' } as unknown as Decision, logger), { action: 'pass' })
  t.same(narrowDecision('onPduSend', { action: 'complete', status: 6 }, logger), { action: 'pass' }, 'a command status at a PDU seam changes nothing')
  t.same(narrowDecision('onCompletion', { action: 'complete', status: 6 }, logger), { action: 'complete', status: 6 })
  t.same(
    lines.map((l) => `${String(l.seam)}:${String(l.action)}`),
    ['onPduReceived:hold', 'onCommand:segment', 'onCommand:nonsense'],
    'one warning per decision that does not apply (complete at a PDU seam is silent, as before)',
  )
  for (const seam of Object.keys(SEAM_ACTIONS) as (keyof typeof SEAM_ACTIONS)[]) t.ok(SEAM_ACTIONS[seam].has('pass') && SEAM_ACTIONS[seam].has('close'), `${seam}: pass and close apply`)
  t.end()
})

t.test('the dispatch: synchronous pass without a hook, the narrowed decision with one', async (t) => {
  const { logger, lines } = capture()
  const slot: HookSlot = { hooks: undefined }
  const ctx = { portId: 1, connectionId: 1 }
  const req = { hookCommand: { sqe: makeSqe({ opc: 2 }), opc: 2, kind: 'io' as const, nsid: 1 }, status: 0, dw0: 0, dw1: 0 }
  const seen: string[] = []
  SEAMS.command.run(slot, logger, ctx, req, (d) => seen.push(d.action))
  t.same(seen, ['pass'], 'no hook: next ran before run() returned')

  const hooks: TargetHooks = {
    onCommand: () => ({ action: 'drop' }),
    onCompletion: async (_c, _cmd, completion) => ({ action: 'complete', status: completion.status + 1 }),
    onPduReceived: () => {
      throw new Error('hook bug')
    },
  }
  slot.hooks = hooks
  t.ok(SEAMS.command.installed(slot) && !SEAMS.send.installed(slot))
  SEAMS.command.run(slot, logger, ctx, req, (d) => seen.push(d.action))
  t.same(seen, ['pass'], 'with a hook the decision comes later (the hook may answer with a promise)')
  await flush()
  t.same(seen, ['pass', 'drop'])

  req.status = 4
  let completion: Decision | undefined
  SEAMS.completion.run(slot, logger, ctx, req, (d) => (completion = d))
  await flush()
  t.same(completion, { action: 'complete', status: 5 }, 'the completion hook sees the status and its promise is awaited')

  let rx: Decision | undefined
  SEAMS.received.run(slot, logger, ctx, { pdu: { type: 6 } as never, raw: Buffer.alloc(0) }, (d) => (rx = d))
  await flush()
  t.same(rx, { action: 'pass' }, 'a hook that throws counts as pass')
  t.ok(lines.some((l) => l.seam === 'onPduReceived' && l.level === 50), 'and is logged as an error naming the seam')
})
