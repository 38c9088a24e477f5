/**
 * Subsystem names as nvmet takes them, through the target API and the CLI argument parsers: names
 * like `blktests-subsystem-1` and `testnqn` work everywhere; a name nvmet refuses is refused with
 * its reason (not "no such subsystem"), and the discovery NQN is never a subsystem.
 */
import t from 'tap'
import { nqnArg } from '../../faults/cli.js'
import { createTarget } from '../../target/index.js'

t.test('target API', async (t) => {
  const target = await createTarget({ ports: [{ id: 1, address: '127.0.0.1', port: 0 }], subsystems: [{ nqn: 'testnqn', namespaces: [{ nsid: 1, size: '1MiB' }] }] })
  t.teardown(() => target.close())
  target.disableNamespace('testnqn', 1)
  t.equal(target.status().subsystems[0]!.namespaces[0]!.enabled, false, 'a short nvmet-style name works')
  t.throws(() => target.enableNamespace('a/b', 1), { name: 'InvalidArgumentError', field: 'subnqn', message: /must not contain '\/'/ })
  t.throws(() => target.enableNamespace('nqn.2014-08.org.nvmexpress.discovery', 1), { field: 'subnqn', message: /discovery NQN/ })
  t.throws(() => target.enableNamespace('other-name', 1), { field: 'subnqn', message: /no subsystem other-name/ })
  await t.rejects(target.addPort({ id: 2, address: '127.0.0.1', port: 0, subsystems: ['x'.repeat(224)] }), { code: 'ERR_NVMEOF_CONFIG', path: 'ports[0].subsystems[0]' })
  const bound = await target.addPort({ id: 3, address: '127.0.0.1', port: 0, subsystems: ['testnqn'] })
  t.ok(bound.port > 0)
})

t.test('CLI argument parsers', async (t) => {
  t.equal(nqnArg('--subnqn')('blktests-subsystem-1'), 'blktests-subsystem-1')
  t.equal(nqnArg('--hostnqn', 'host')('hostnqn'), 'hostnqn')
  t.throws(() => nqnArg('--subnqn')('nqn.2014-08.org.nvmexpress.discovery'), /--subnqn: NQN .* is the discovery NQN/)
  t.throws(() => nqnArg('--subnqn')('..'), /not a directory name/)
})
