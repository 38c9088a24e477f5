/**
 * The verbs added for the HTTP API exist on the protobuf socket too (one implementation behind
 * both): subsystems with hosts, fault get, scenario state, referrals, status sections, config export.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ControlClient } from '../../faults/control-client.js'
import { fixture } from './helpers/fixture.js'

t.test('protobuf socket: subsystem, faultGet, scenarioState, referral, status sections, configExport', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-verbs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'ctl.sock')
  const f = await fixture(t, { control: path })
  const c = await ControlClient.connect(path)
  t.teardown(() => c.close())
  const nqn = 'nqn.2026-01.io.test:verbs'
  t.match((await c.call('subsystem', { op: 'add', nqn, config: { hosts: ['nqn.2014-08.org.nvmexpress:uuid:h1'], namespaces: [{ nsid: 1, size: '1MiB' }] } })).json, { nqn, allowAnyHost: false })
  t.match((await c.request('subsystem', { op: 'add', nqn })).error, { code: 'ERR_NVMEOF_INVALID_ARG', path: 'nqn' }, 'a duplicate is refused, naming the field')
  t.match((await c.request('subsystem', { op: 'grow', nqn })).error, { path: 'subsystem.op' })
  await c.call('subsystem', { op: 'host-add', nqn, hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:h2' })
  t.same(f.target.status().subsystems.find((s) => s.nqn === nqn)?.hosts, ['nqn.2014-08.org.nvmexpress:uuid:h1', 'nqn.2014-08.org.nvmexpress:uuid:h2'])
  t.match((await c.call('status', { section: 'subsystems' })).json, [{}, { nqn }])
  t.match((await c.request('status', { section: 'nope' })).error, { path: 'section' })

  await c.call('faultAdd', { id: 'd', type: 'delay', params: { delay: { ms: 1 } } })
  t.match((await c.call('faultGet', { id: 'd' })).json, { id: 'd', seen: 0, fired: 0 })
  t.match((await c.request('faultGet', { id: 'x' })).error, { path: 'id' })
  t.same((await c.call('scenarioState')).json, { state: 'idle', name: null, seed: null })
  await c.call('scenarioRun', { text: 'name: s\nsteps:\n  - { atMs: 0, mark: m }\n', seed: 4 })
  t.match((await c.call('scenarioState')).json, { name: 's', seed: '4' })

  t.match((await c.call('referral', { op: 'add', address: '127.0.0.9', trsvcid: 8009 })).json, [{ address: '127.0.0.9', port: 8009 }])
  t.match((await c.call('status', { section: 'referrals' })).json, [{ address: '127.0.0.9' }])
  t.same((await c.call('referral', { op: 'remove', address: '127.0.0.9', trsvcid: 8009 })).json, { removed: 1 })
  t.match((await c.call('configExport')).json, { subsystems: [{}, { nqn, allowAnyHost: false, namespaces: [{ nsid: 1, size: 1048576 }] }] })
  await c.call('subsystem', { op: 'remove', nqn })
  t.equal(f.target.status().subsystems.length, 1)
})
