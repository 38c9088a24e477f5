/**
 * Scenario start and finish: the paced nvme/058 example (examples/scenarios/nvme-058-paced.yaml)
 * waits for 6 connected controllers, then `afterMs`, then runs its storm with 300 ms between single
 * operations and 1 s between rounds; `finished` only once the storm's last round ended. Times come
 * from a ManualClock that the test moves; the control verb `scenarioWait` answers through the real
 * control socket.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ManualClock } from '../../lib/clock.js'
import { ConfigError } from '../../lib/errors.js'
import { attachFaults } from '../../faults/attach.js'
import { ControlClient } from '../../faults/control-client.js'
import { FaultEngine } from '../../faults/engine.js'
import { parseScenario } from '../../faults/scenario.js'
import { createTarget } from '../../target/index.js'
import { readTargetConfigFile } from '../../target/config.js'
import { RawHost } from '../helpers/raw-host.js'

const EX = new URL('../../examples/scenarios/', import.meta.url)

/** Let the target's socket work and the fault's promise chain run between clock steps. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
}

t.test('start condition parsing names the bad field', async (t) => {
  const engine = new FaultEngine({ clock: new ManualClock() })
  const sc = parseScenario(engine, await readFile(new URL('nvme-058-paced.yaml', EX), 'utf8'), 'nvme-058-paced.yaml')
  t.same(sc.start, { afterMs: 5000, onConnect: { controllers: 6 } })
  t.same(sc.faults[0]?.params, { nsids: [1, 2, 3], rounds: 11, opGapMs: 300, intervalMs: 1000 })
  t.same(parseScenario(engine, 'start: { afterMs: 10 }\n').start, { afterMs: 10 })
  t.same(parseScenario(engine, 'start: { onConnect: {} }\n').start, { afterMs: 0, onConnect: { controllers: 1 } })
  for (const [text, path] of [
    ['start: { afterMs: -1 }\n', 'start.afterMs'],
    ['start: { onConnect: { controllers: 5000 } }\n', 'start.onConnect.controllers'],
    ['start: { onConect: {} }\n', 'start.onConect'],
  ] as const) {
    const err = (() => {
      try {
        parseScenario(engine, text)
      } catch (e) {
        return e
      }
      return undefined
    })()
    t.ok(err instanceof ConfigError, `${path}: ConfigError`)
    t.equal((err as ConfigError).path, path, (err as Error | undefined)?.message ?? 'no error')
  }
})

t.test('afterMs alone: pending until the clock says so, then running, finished after the last step', async (t) => {
  const clock = new ManualClock()
  const engine = new FaultEngine({ clock })
  const { ScenarioRun } = await import('../../faults/scenario.js')
  const run = new ScenarioRun(engine, parseScenario(engine, 'start: { afterMs: 1000 }\nsteps:\n  - { atMs: 500, mark: half }\n  - { atMs: 900, mark: end }\n'))
  await run.start()
  t.equal(run.state, 'pending')
  clock.advance(999)
  await settle()
  t.equal(run.state, 'pending', 'not before afterMs')
  clock.advance(1)
  await settle()
  t.equal(run.state, 'running')
  t.equal(run.info().startedAtMs, 1000)
  clock.advance(900)
  await settle()
  await run.finished
  t.same(run.info(), { name: 'scenario', seed: '0', state: 'finished', startedAtMs: 1000, finishedAtMs: 1900 })
  const marks = engine.trace.events.filter((e) => e.action === 'mark' && e.detail?.startsWith('steps[') !== true).map((e) => [e.detail, e.timeMs])
  t.same(marks, [['half', 1500], ['end', 1900]], 'steps count from the start, not from arming')
})

/** The nvme/058 topology on free ports with the control socket; one raw host per port. */
async function fixture(t: Test): Promise<{ clock: ManualClock; client: ControlClient; socket: string; connectPath: (i: number) => Promise<void>; faults: Awaited<ReturnType<typeof attachFaults>> }> {
  const config = await readTargetConfigFile(new URL('nvme-058.target.yaml', EX).pathname)
  for (const p of config.ports) p.port = 0
  const sub = config.subsystems![0]!
  sub.namespaces = sub.namespaces!.map((n) => ({ ...n, size: '1MiB' }))
  const target = await createTarget(config)
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-start-'))
  const clock = new ManualClock()
  const faults = await attachFaults(target, { clock, control: join(dir, 'ctl.sock') })
  const client = await ControlClient.connect(join(dir, 'ctl.sock'), { timeoutMs: 60_000 })
  const hosts: RawHost[] = []
  t.teardown(async () => {
    client.close()
    for (const h of hosts) h.destroy()
    await faults.close()
    await target.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const connectPath = async (i: number): Promise<void> => {
    const port = target.ports[i]!.port
    const admin = await RawHost.connect({ port })
    hosts.push(admin)
    const cntlid = await admin.connectAdmin({ subnqn: sub.nqn })
    const io = await RawHost.connect({ port })
    hosts.push(io)
    await io.connectIo({ subnqn: sub.nqn, cntlid })
  }
  return { clock, client, socket: join(dir, 'ctl.sock'), connectPath, faults }
}

t.test('paced nvme/058: starts after 6 connected paths + 5 s, ops 300 ms apart, rounds 1 s apart, finished at the storm end', async (t) => {
  const { clock, client, connectPath, faults } = await fixture(t)
  const text = await readFile(new URL('nvme-058-paced.yaml', EX), 'utf8')
  const ran = (await client.call('scenarioRun', { text, source: 'nvme-058-paced.yaml' })).json as { state: string }
  t.equal(ran.state, 'pending', 'the run verb answers at once: pending')
  const waitRunning = client.call('scenarioWait', { state: 'running' })
  for (let i = 0; i < 5; i++) await connectPath(i)
  await settle()
  clock.advance(60_000)
  await settle()
  t.equal(faults.controller.scenarioInfo()?.state, 'pending', '5 paths connected: still pending, whatever the clock does')
  await connectPath(5)
  await settle()
  t.ok(faults.engine.trace.events.some((e) => e.action === 'connected' && e.detail === '6 controller(s) connected'), 'the 6th path is seen')
  clock.advance(4999)
  await settle()
  t.equal(faults.controller.scenarioInfo()?.state, 'pending', 'then afterMs on the clock')
  clock.advance(1)
  await settle()
  const running = (await waitRunning).json as { state: string; reached: boolean; startedAtMs: number }
  t.match(running, { state: 'running', reached: true, startedAtMs: 65_000 })

  // A wait with a limit that passes first answers reached: false.
  const short = client.call('scenarioWait', { state: 'finished', timeoutMs: 100 })
  await settle()
  clock.advance(100)
  await settle()
  t.match((await short).json, { state: 'running', reached: false })

  const waitFinished = client.call('scenarioWait', { state: 'finished' })
  for (let i = 0; i < 400 && faults.controller.scenarioInfo()?.state === 'running'; i++) {
    clock.advance(100)
    await settle()
  }
  const fin = (await waitFinished).json as { state: string; reached: boolean; startedAtMs: number; finishedAtMs: number }
  t.match(fin, { state: 'finished', reached: true })
  const ops = faults.engine.trace.events.filter((e) => e.kind === 'state' && (e.action === 'ns-disable' || e.action === 'ns-enable'))
  t.equal(ops.length, 66, '11 rounds x (3 disables + 3 enables)')
  const start = fin.startedAtMs
  // Per round: 6 operations 300 ms apart, then 300 ms + 1000 ms to the next round (the clock's times).
  const rel = ops.map((e) => e.timeMs - start)
  const expected = Array.from({ length: 11 }, (_, r) => Array.from({ length: 6 }, (_, k) => r * 2800 + k * 300)).flat()
  t.same(rel, expected, 'every operation at its paced time')
  t.equal(fin.finishedAtMs - start, 10 * 2800 + 6 * 300, 'finished when the storm ended, not when it was installed')
})

t.test('stop while pending: the wait answers stopped', async (t) => {
  const { client, socket } = await fixture(t)
  const text = await readFile(new URL('nvme-058-paced.yaml', EX), 'utf8')
  await client.call('scenarioRun', { text })
  const w = client.call('scenarioWait', { state: 'finished' })
  // A connection answers its requests in order: the stop goes over a second one.
  const other = await ControlClient.connect(socket)
  t.teardown(() => other.close())
  await other.call('scenarioStop')
  t.match((await w).json, { state: 'stopped', reached: false })
  const bad = await client.request('scenarioWait', { state: 'sideways' })
  t.match(bad.error, { code: 'ERR_NVMEOF_INVALID_ARG', path: 'state' })
})
