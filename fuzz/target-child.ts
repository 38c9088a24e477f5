/**
 * The target under fuzz, in its own process (forked by fuzz/target-side.ts) so that a crash is seen
 * as an exit. It logs at `warn` to stderr (the parent counts lines: a warning flood is a finding),
 * reports its port once listening, and answers `stats` requests over the IPC channel with its RSS
 * and the unhandled rejections it saw.
 */
import { pino } from 'pino'
import { createTarget } from '../target/index.js'
import { seededRandom } from '../lib/clock.js'

export const FUZZ_SUBNQN = 'nqn.2026-01.io.nvmf-fault:fuzz'

interface StatsReply {
  type: 'stats'
  rss: number
  unhandled: number
}

if (process.send !== undefined && process.env['NVMF_FUZZ_CHILD'] === '1') {
  let unhandled = 0
  process.on('unhandledRejection', (err) => {
    unhandled++
    process.stderr.write(`unhandled rejection: ${String(err)}\n`)
  })
  const target = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [
      {
        nqn: FUZZ_SUBNQN,
        allowAnyHost: true,
        namespaces: [
          { nsid: 1, size: '4MiB', blockSize: 512 },
          { nsid: 2, size: '4MiB', blockSize: 4096 },
        ],
      },
    ],
    icReqTimeoutMs: 2000,
    random: seededRandom('fuzz-target'),
    logger: pino({ level: 'warn' }, pino.destination(2)),
  })
  const port = target.ports[0]?.port
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stats') process.send?.({ type: 'stats', rss: process.memoryUsage().rss, unhandled } satisfies StatsReply)
    if (m.type === 'stop') void target.close().then(() => process.exit(0))
  })
  process.send({ type: 'ready', port })
}
