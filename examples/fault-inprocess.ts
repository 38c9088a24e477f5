/**
 * Fault injection from a program: a two-port target, a probabilistic path error on reads, an ANA
 * change through the in-process control API, a short inline scenario, and the event trace as JSON
 * lines. The same operations are available over the control socket (`nvmf-fault ctl`).
 *
 *   node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs examples/fault-inprocess.ts
 */
import { createTarget } from '../target/index.js'
import { attachFaults } from '../faults/index.js'

async function main(): Promise<void> {
  const target = await createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0 },
    ],
    subsystems: [{ nqn: 'nqn.2026-01.io.nvmf-fault:example', namespaces: [{ nsid: 1, size: '64MiB' }] }],
  })
  const faults = await attachFaults(target, { seed: 42 })

  // 10 % of reads on port 1 fail with ANA Inaccessible (a multipath host fails them over).
  faults.engine.add({
    id: 'flaky-path',
    type: 'status',
    match: { ports: [1], commands: ['read'] },
    schedule: { probability: 0.1 },
    params: { status: 'ANA_INACCESSIBLE' },
  })
  // Port 2's group 1 goes non-optimized (raises the ANA-change AEN on its controllers).
  await faults.controller.setAna(2, 1, 'non-optimized')
  // A scenario inline: port 1 inaccessible for 200 ms, then optimized again.
  const run = await faults.controller.runScenario(
    'steps:\n  - { atMs: 0, ana: { port: 1, group: 1, state: inaccessible } }\n  - { atMs: 200, ana: { port: 1, group: 1, state: optimized } }\n',
    { source: 'inline' },
  )
  await run.done
  process.stdout.write(JSON.stringify(target.status().ana) + '\n')
  process.stdout.write(faults.engine.trace.toJsonLines())
  await faults.close()
  await target.close()
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`)
  process.exitCode = 1
})
