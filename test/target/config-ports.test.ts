/**
 * `--port-base N` (target/config-source.ts rebasePorts) and the shipped examples/target.yaml: a
 * topology moves to other ports without editing it, keeping port ids, the per-port ANA table and
 * each port's subsystems; examples/target.yaml loads and serves.
 */
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parseTargetConfig, readTargetConfigFile } from '../../target/config.js'
import { readConfigSource, rebasePorts } from '../../target/config-source.js'
import { resolveCliConfig } from '../../target/cli.js'
import { createTarget } from '../../target/index.js'
import { RawHost } from '../helpers/raw-host.js'

const example = (p: string): string => fileURLToPath(new URL(`../../examples/${p}`, import.meta.url))

t.test('--port-base moves nvme-058.target.yaml, keeping its per-port ANA table', async (t) => {
  const file = example('scenarios/nvme-058.target.yaml')
  const original = parseTargetConfig(await readTargetConfigFile(file))
  const moved = parseTargetConfig(await resolveCliConfig({ listen: [], config: file, portBase: 5420, logLevel: 'silent' }))
  t.same(original.ports.map((p) => p.port), [4420, 4421, 4422, 4423, 4424, 4425])
  t.same(moved.ports.map((p) => p.port), [5420, 5421, 5422, 5423, 5424, 5425], 'lowest to N, distances kept')
  t.same(moved.ports.map((p) => [p.id, Object.fromEntries(p.anaStates), p.subsystems]), original.ports.map((p) => [p.id, Object.fromEntries(p.anaStates), p.subsystems]), 'ids, ANA tables, subsystems unchanged')
  t.same(moved.subsystems, original.subsystems)
  const free = parseTargetConfig(await resolveCliConfig({ listen: [], config: file, portBase: 0, logLevel: 'silent' }))
  t.ok(free.ports.every((p) => p.port === 0), '--port-base 0: every port on a free port')
  await t.rejects(resolveCliConfig({ listen: ['127.0.0.1:0'], config: file, portBase: 1, logLevel: 'silent' }), /cannot be combined with --listen/)
  t.throws(() => rebasePorts({ ports: [{ id: 1, address: 'a', port: 4420 }, { id: 2, address: 'a', port: 4425 }] }, 65532), { code: 'ERR_NVMEOF_CONFIG', path: 'portBase' })
  t.throws(() => rebasePorts({ ports: [] }, -1), { code: 'ERR_NVMEOF_CONFIG', path: 'portBase' })
  t.same(rebasePorts({ ports: [{ id: 1, address: 'a', port: 0 }, { id: 2, address: 'a', port: 9000, advertise: { port: 9000 } }] }, 100).ports, [
    { id: 1, address: 'a', port: 0 },
    { id: 2, address: 'a', port: 100, advertise: { port: 9000 } },
  ], 'port 0 stays free; advertised ports are left as written')
})

t.test('examples/nvmet.json (nvmetcli format) loads, its block device named in a warning', async (t) => {
  const warnings: string[] = []
  const config = await readConfigSource(example('nvmet.json'), { portBase: 0, onWarning: (w) => warnings.push(`${w.path}: ${w.message}`) })
  t.equal(warnings.length, 1, warnings.join('; '))
  t.match(warnings[0], /^subsystems\[0\]\.namespaces\[0\]\.device\.path: \/dev\/nullb0 is not (there|a regular file) here: served from memory/)
  const target = await createTarget(config)
  t.teardown(() => target.close())
  t.same(target.status().ana.map((a) => `${a.portId}:${a.grpid}:${a.state}`), ['1:1:optimized', '2:1:non-optimized'])
})

t.test('examples/target.yaml loads and serves (on free ports)', async (t) => {
  const file = example('target.yaml')
  const r = parseTargetConfig(await readTargetConfigFile(file))
  t.same(r.ports.map((p) => p.port), [4420, 4421])
  t.same(r.subsystems.map((s) => s.nqn), ['blktests-subsystem-1', 'nqn.2014-08.org.nvmf-fault:only-known-hosts'])
  const target = await createTarget(await resolveCliConfig({ listen: [], config: file, portBase: 0, logLevel: 'silent' }))
  t.teardown(() => target.close())
  const st = target.status()
  t.same(
    st.ana.filter((a) => a.subnqn === 'blktests-subsystem-1').map((a) => `${a.portId}:${a.grpid}:${a.state}`),
    ['1:1:optimized', '1:2:non-optimized', '2:1:non-optimized', '2:2:optimized'],
  )
  t.equal(st.discovery.referrals.length, 1)
  const host = await RawHost.connect({ port: target.ports[1]!.port })
  t.teardown(() => host.close())
  t.ok((await host.connectAdmin({ subnqn: 'blktests-subsystem-1' })) > 0, 'a host connects')
})
