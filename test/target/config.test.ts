/**
 * Configuration: validation errors name the field path and the reason; YAML and JSON files load;
 * defaults fill in; the built-in default matches `npm start`; CLI flags build the config.
 */
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseTargetConfig, loadTargetConfigFile, readTargetConfigFile, defaultTargetConfig, parseSize, DEFAULT_SUBSYSTEM_NQN } from '../../target/config.js'
import { parseListen, resolveCliConfig } from '../../target/cli.js'
import { createTarget } from '../../target/index.js'

const NQN = 'nqn.2014-08.org.nvmf-fault:cfg'

t.test('validation errors name the field', async (t) => {
  const cases: [unknown, string, RegExp][] = [
    [null, '(root)', /must be an object/],
    [{ ports: [{ id: 1, address: '127.0.0.1', port: 70000 }] }, 'ports[0].port', /\[0, 65535\]/],
    [{ ports: [{ id: 1, address: '127.0.0.1', port: 1, bogus: 1 }] }, 'ports[0].bogus', /unknown field/],
    [{ ports: [{ id: 1, address: '', port: 1 }] }, 'ports[0].address', /non-empty/],
    [{ ports: [{ id: 1, address: 'a', port: 1 }, { id: 1, address: 'a', port: 2 }] }, 'ports[1].id', /duplicate/],
    [{ ports: [{ id: 1, address: 'a', port: 1, anaStates: { '1': 'sleepy' } }] }, 'ports[0].anaStates.1', /optimized/],
    [{ ports: [{ id: 1, address: 'a', port: 1, anaStates: { '0': 'optimized' } }] }, 'ports[0].anaStates.0', /\[1, 128\]/],
    [{ ports: [], subsystems: [{ nqn: 'bad/name' }] }, 'subsystems[0].nqn', /must not contain '\/'/],
    [{ ports: [], subsystems: [{ nqn: 'x'.repeat(224) }] }, 'subsystems[0].nqn', /224 bytes; nvmet keeps at most 223/],
    [{ ports: [], subsystems: [{ nqn: NQN, namespaces: [{ nsid: 1, size: '3 bananas' }] }] }, 'subsystems[0].namespaces[0].size', /cannot parse/],
    [{ ports: [], subsystems: [{ nqn: NQN, namespaces: [{ nsid: 1, size: 1000 }] }] }, 'subsystems[0].namespaces[0].size', /multiple of the block size/],
    [{ ports: [], subsystems: [{ nqn: NQN, namespaces: [{ nsid: 1, size: 4096, blockSize: 1024 }] }] }, 'subsystems[0].namespaces[0].blockSize', /512 or 4096/],
    [{ ports: [], subsystems: [{ nqn: NQN, namespaces: [{ nsid: 1, size: 4096 }, { nsid: 1, size: 4096 }] }] }, 'subsystems[0].namespaces[1].nsid', /duplicate/],
    [{ ports: [], subsystems: [{ nqn: NQN, namespaces: [{ nsid: 1, size: 4096, uuid: 'xyz' }] }] }, 'subsystems[0].namespaces[0].uuid', /UUID/],
    [{ ports: [], subsystems: [{ nqn: NQN, namespaces: [{ nsid: 1, size: 4096, store: { type: 'disk' } }] }] }, 'subsystems[0].namespaces[0].store.type', /memory.*file/],
    [{ ports: [], subsystems: [{ nqn: NQN, hosts: [''] }] }, 'subsystems[0].hosts[0]', /non-empty/],
    [{ ports: [], subsystems: [{ nqn: NQN, hosts: ['..'] }] }, 'subsystems[0].hosts[0]', /not a directory name/],
    [{ ports: [{ id: 1, address: 'a', port: 1, subsystems: [NQN] }] }, 'ports[0].subsystems[0]', /no subsystem/],
    [{ ports: [], referrals: [{ address: 'x', port: 8009, portId: 4 }] }, 'referrals[0].portId', /no port/],
    [{ ports: [], maxH2CData: 4098 }, 'maxH2CData', /multiple of 4/],
    [{ ports: [], subsystems: [{ nqn: 'nqn.2014-08.org.nvmexpress.discovery' }] }, 'subsystems[0].nqn', /discovery NQN/],
  ]
  for (const [cfg, path, reason] of cases) {
    try {
      parseTargetConfig(cfg)
      t.fail(`accepted a bad config for ${path}`)
    } catch (err) {
      const e = err as { code?: string; path?: string; message: string }
      t.equal(e.code, 'ERR_NVMEOF_CONFIG', `${path}: ConfigError`)
      t.equal(e.path, path, `path ${path}`)
      t.match(e.message, reason, `reason for ${path}`)
    }
  }
  await t.rejects(createTarget({ ports: [{ id: 1, address: '127.0.0.1', port: -1 }] }), { code: 'ERR_NVMEOF_CONFIG', path: 'ports[0].port' }, 'createTarget validates too')
})

t.test('sizes, defaults, files', async (t) => {
  t.equal(parseSize('1GiB'), 1073741824)
  t.equal(parseSize('512MiB'), 536870912)
  t.equal(parseSize('64M'), 64_000_000)
  t.equal(parseSize(4096), 4096)
  const def = parseTargetConfig(defaultTargetConfig())
  t.same(def.ports.map((p) => `${p.address}:${p.port}`), ['127.0.0.1:4420', '127.0.0.1:4421'], 'default ports')
  t.ok(def.ports.every((p) => p.discovery), 'discovery on both')
  t.equal(def.subsystems[0]?.nqn, DEFAULT_SUBSYSTEM_NQN)
  t.equal(def.subsystems[0]?.allowAnyHost, true)
  t.equal(def.subsystems[0]?.namespaces[0]?.sizeBytes, 1 << 30, '1 GiB namespace')
  t.equal(def.subsystems[0]?.namespaces[0]?.anaGroup, 1)
  t.equal(def.icReqTimeoutMs, 10000)

  const dir = await mkdtemp(join(tmpdir(), 'nvmf-cfg-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const yaml = join(dir, 't.yaml')
  await writeFile(
    yaml,
    `ports:\n  - { id: 1, address: 127.0.0.1, port: 0, anaStates: { "1": optimized, "2": inaccessible } }\nsubsystems:\n  - nqn: ${NQN}\n    hosts: [nqn.2014-08.org.example:h1]\n    namespaces:\n      - { nsid: 1, size: 1MiB, anaGroup: 2 }\n`,
  )
  const y = await loadTargetConfigFile(yaml)
  t.equal(y.subsystems[0]?.allowAnyHost, false, 'hosts listed → allowAnyHost defaults to false')
  t.same(y.subsystems[0]?.anaGroups, [1, 2])
  t.equal(y.ports[0]?.anaStates.get(2), 'inaccessible')
  const json = join(dir, 't.json')
  await writeFile(json, JSON.stringify({ ports: [{ id: 3, address: '127.0.0.1', port: 0 }] }))
  t.equal((await loadTargetConfigFile(json)).ports[0]?.id, 3, 'JSON file')
  const broken = join(dir, 'broken.yaml')
  await writeFile(broken, 'ports: [ {')
  await t.rejects(loadTargetConfigFile(broken), { code: 'ERR_NVMEOF_CONFIG' }, 'syntax error reported')
  await t.rejects(loadTargetConfigFile(join(dir, 'missing.yaml')), { code: 'ERR_NVMEOF_CONFIG' }, 'missing file reported')

  // A target from the YAML applies the per-port ANA states.
  const target = await createTarget(await readTargetConfigFile(yaml))
  t.teardown(() => target.close())
  t.same(target.status().ana.map((a) => [a.grpid, a.state]), [[1, 'optimized'], [2, 'inaccessible']])

  // CLI flag handling.
  t.same(parseListen('127.0.0.1:0'), { address: '127.0.0.1', port: 0 })
  t.same(parseListen('[::1]:4420'), { address: '::1', port: 4420 })
  t.throws(() => parseListen('localhost'), /ADDR:PORT/)
  const cli = await resolveCliConfig({ listen: ['127.0.0.1:0', '127.0.0.1:0'], logLevel: 'info' })
  t.same(cli.ports.map((p) => p.id), [1, 2], '--listen replaces the ports')
  t.equal(cli.subsystems?.[0]?.nqn, DEFAULT_SUBSYSTEM_NQN, 'default subsystem kept')
  const fromFile = await resolveCliConfig({ listen: [], config: yaml, logLevel: 'info' })
  t.equal(fromFile.subsystems?.[0]?.nqn, NQN, '--config')
})
