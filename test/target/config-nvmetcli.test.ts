/**
 * nvmetcli `saveconfig` JSON as a target config (target/config-nvmetcli.ts): detection, every field
 * nvmetcli's shipped examples use (our own fixtures in test/target/fixtures/nvmetcli-*.json), a
 * warning for every field the target does not honour, nvmet's defaults (allow_any_host 0, groups a
 * port does not list inaccessible), file-backed namespaces sized from the file, and a target
 * started from it serving `blktests-subsystem-1`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { readTargetConfigFile, parseTargetConfig } from '../../target/config.js'
import { detectConfigFormat, fromNvmetcli, type ConfigWarning } from '../../target/config-nvmetcli.js'
import { readConfigSource } from '../../target/config-source.js'
import { resolveCliConfig } from '../../target/cli.js'
import { createTarget } from '../../target/index.js'
import { RawHost } from '../helpers/raw-host.js'

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

t.test('format detection', async (t) => {
  t.equal(detectConfigFormat(await readTargetConfigFile(fixture('nvmetcli-tcp.json'))), 'nvmetcli')
  t.equal(detectConfigFormat(await readTargetConfigFile(fixture('nvmetcli-transports.json'))), 'nvmetcli')
  t.equal(detectConfigFormat({ ports: [{ id: 1, address: '127.0.0.1', port: 0 }] }), 'native')
  t.equal(detectConfigFormat({ ports: [], subsystems: [{ nqn: 'x', attr: {} }] }), 'nvmetcli')
  t.equal(detectConfigFormat({ ports: [], subsystems: [{ nqn: 'x', namespaces: [{ nsid: 1, device: { path: '' } }] }] }), 'nvmetcli')
  t.equal(detectConfigFormat(null), 'native')
})

t.test('every field of the tcp fixture: converted or named in a warning', async (t) => {
  const { config, warnings } = await fromNvmetcli(await readTargetConfigFile(fixture('nvmetcli-tcp.json')))
  const byPath = new Map(warnings.map((w) => [w.path, w.message]))
  t.same([...byPath.keys()].sort(), ['subsystems[0].attr.version', 'subsystems[0].namespaces[0].device.path', 'subsystems[0].namespaces[1].device.path'], `warnings: ${JSON.stringify(warnings)}`)
  t.match(byPath.get('subsystems[0].attr.version'), /"1\.3".*2\.0/)
  t.match(byPath.get('subsystems[0].namespaces[0].device.path'), /not there here: served from memory, 1073741824 bytes/)
  t.match(byPath.get('subsystems[0].namespaces[1].device.path'), /no device path/)
  const r = parseTargetConfig(config)
  t.same(r.ports.map((p) => [p.id, p.address, p.port, p.subsystems]), [
    [1, '127.0.0.1', 4420, ['blktests-subsystem-1', 'fixture-subsys-2']],
    [2, '127.0.0.1', 4421, ['blktests-subsystem-1']],
  ])
  t.same(Object.fromEntries(r.ports[0]!.anaStates), { 1: 'optimized', 2: 'non-optimized' })
  // Port 2 lists only group 1: nvmet keeps every other group inaccessible there.
  t.same(Object.fromEntries(r.ports[1]!.anaStates), { 1: 'inaccessible', 2: 'inaccessible' })
  t.same(r.hosts, ['fixture-host-a', 'nqn.2014-08.org.nvmexpress:uuid:5a1c0c3e-7b7e-4c2a-9f0d-3d2b9c1e8a11'])
  t.same(r.referrals, [{ portId: 1, address: '127.0.0.2', port: 8009, remotePortId: 7 }])
  t.equal(r.inlineDataSize, 16384)
  const [s1, s2] = r.subsystems
  t.match(s1, { nqn: 'blktests-subsystem-1', serial: 'f1x7ure0001', model: 'fixture model', allowAnyHost: true, hosts: [], anaGroups: [1, 2] })
  t.match(s1!.namespaces[0], { nsid: 1, enabled: true, anaGroup: 1, uuid: '3f0e9a52-8c1d-4b6e-a7f2-61c4d8e9b035', nguid: undefined, store: { type: 'memory' } })
  t.match(s1!.namespaces[1], { nsid: 2, enabled: false, anaGroup: 2, uuid: '9c7d6e5f-4a3b-4c2d-8e1f-0a9b8c7d6e5f', nguid: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' })
  t.match(s2, { nqn: 'fixture-subsys-2', allowAnyHost: false, hosts: ['fixture-host-a'], namespaces: [] })
})

t.test('other transports and unsupported fields are named, never dropped silently', async (t) => {
  const { config, warnings } = await fromNvmetcli(await readTargetConfigFile(fixture('nvmetcli-transports.json')))
  const paths = warnings.map((w) => w.path)
  t.same(paths, ['subsystems[0].namespaces[0].device.path', 'ports[0].addr.trtype', 'ports[1].addr.trtype', 'ports[2].addr.trtype'])
  t.match(warnings[1]!.message, /"loop" is not supported.*port 11 is not served/)
  t.match(warnings[2]!.message, /"rdma"/)
  t.match(warnings[3]!.message, /"fc"/)
  t.same(config.ports.map((p) => p.id), [14], 'the tcp port is served')
  const r = parseTargetConfig(config)
  t.match(r.subsystems[0], { nqn: 'fixture-subsys', allowAnyHost: false, hosts: ['fixture-host'] })
  t.equal(r.subsystems[0]!.namespaces[0]!.nguid, '0f1e2d3c4b5a69788796a5b4c3d2e1f0')

  const odd: ConfigWarning[] = (
    await fromNvmetcli({
      discovery: { nqn: 'nqn.2014-08.org.example:my-discovery' },
      future: 1,
      hosts: [{ nqn: 'h', dhchap: { key: 'DHHC-1:00:abc:', hash: 'hmac(sha512)' } }],
      ports: [
        {
          portid: 1,
          addr: { trtype: 'tcp', adrfam: 'ipv4', traddr: '127.0.0.1', trsvcid: '0', treq: 'required', tsas: 'tls1.3', extra: 'x' },
          param: { pi_enable: '1', inline_data_size: '8192', max_queue_size: '128', mdts: '-1' },
          subsystems: [],
          referrals: [{ name: 'r', enable: 0, addr: { trtype: 'tcp', traddr: '127.0.0.9', trsvcid: '8009' } }, { name: 'q', addr: { trtype: 'rdma', traddr: '1', trsvcid: '1' } }],
        },
      ],
      subsystems: [
        {
          nqn: 's',
          attr: { allow_any_host: '1', cntlid_min: '5', cntlid_max: '100', ieee_oui: '0x123456', pi_enable: '1', qid_max: '4', firmware: 'fw1', mystery: '1' },
          passthru: [{ device: { path: '/dev/nvme0' } }],
          namespaces: [{ nsid: 3, enable: 1, device: { path: '', p2pmem: 'pci0' }, ana_grpid: 2, ana: { grpid: '3' }, resv: { enable: '1' } }],
        },
      ],
    })
  ).warnings
  const op = new Map(odd.map((w) => [w.path, w.message]))
  for (const p of [
    'discovery.nqn', 'future', 'hosts[0].dhchap.key', 'hosts[0].dhchap.hash', 'ports[0].addr.treq', 'ports[0].addr.tsas', 'ports[0].addr.extra', 'ports[0].param.pi_enable',
    'ports[0].subsystems', 'ports[0].referrals[0].enable', 'ports[0].referrals[1].addr.trtype', 'subsystems[0].attr.cntlid_min', 'subsystems[0].attr.cntlid_max',
    'subsystems[0].attr.ieee_oui', 'subsystems[0].attr.pi_enable', 'subsystems[0].attr.mystery', 'subsystems[0].passthru', 'subsystems[0].namespaces[0].device.p2pmem',
    'subsystems[0].namespaces[0].ana.grpid', 'subsystems[0].namespaces[0].resv.enable', 'subsystems[0].namespaces[0].device.path',
  ]) t.ok(op.has(p), `warning for ${p}${op.has(p) ? `: ${op.get(p)}` : ''}`)
  t.equal(op.size, 21, `no other warnings: ${JSON.stringify(odd)}`)
  await t.rejects(fromNvmetcli({ ports: [{ portid: 'x' }] }), { code: 'ERR_NVMEOF_CONFIG', path: 'ports[0].portid' })
  await t.rejects(fromNvmetcli({ ports: [{ portid: 1, addr: { trtype: 'tcp', traddr: '::1', trsvcid: '1' }, ana_groups: [{ grpid: 1, ana: { state: 'sleepy' } }] }] }), {
    code: 'ERR_NVMEOF_CONFIG',
    path: 'ports[0].ana_groups[0].ana.state',
  })
})

t.test("nvmet's port mdts: 0 (no limit, what an enabled tcp port reads back) and values above ours are named", async (t) => {
  const port = (portid: number, mdts: string) => ({ portid, addr: { trtype: 'tcp', traddr: '127.0.0.1', trsvcid: '0' }, param: { mdts }, subsystems: ['s'] })
  const subsystems = [{ nqn: 's', attr: { allow_any_host: '1' }, namespaces: [] }]
  const zero = await fromNvmetcli({ ports: [port(1, '0')], subsystems })
  t.equal(zero.config.mdts, undefined, 'mdts 0 leaves our default')
  t.match(zero.warnings, [{ path: 'ports[0].param.mdts', message: /no transfer-size limit/ }])
  t.equal(parseTargetConfig(zero.config).mdts, 8, 'and the config loads')
  const big = await fromNvmetcli({ ports: [port(1, '20')], subsystems })
  t.equal(big.config.mdts, 12, 'clamped to the largest we announce')
  t.match(big.warnings, [{ path: 'ports[0].param.mdts', message: /above nvmf-fault's largest, 12/ }])
  const ok = await fromNvmetcli({ ports: [port(1, '5')], subsystems })
  t.equal(ok.config.mdts, 5)
  t.same(ok.warnings, [])
})

t.test('a file-backed namespace is sized from its file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-nvmetcli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const disk = join(dir, 'disk.img')
  writeFileSync(disk, Buffer.alloc(3 * 1024 * 1024 + 100))
  const { config, warnings } = await fromNvmetcli({
    ports: [],
    subsystems: [{ nqn: 'file-backed', attr: { allow_any_host: '1' }, namespaces: [{ nsid: 1, enable: 1, device: { path: disk } }] }],
  })
  t.same(warnings, [])
  t.match(parseTargetConfig(config).subsystems[0]!.namespaces[0], { sizeBytes: 3 * 1024 * 1024, store: { type: 'file', path: disk } })
})

t.test('target --config nvmet.json --port-base 0: serves blktests-subsystem-1', async (t) => {
  const warnings: ConfigWarning[] = []
  const config = await resolveCliConfig({ listen: [], config: fixture('nvmetcli-tcp.json'), portBase: 0, logLevel: 'silent' }, (w) => warnings.push(w))
  t.equal(warnings.length, 3, 'warnings reach the caller')
  t.same(config.ports.map((p) => p.port), [0, 0], '--port-base 0: free ports')
  const forced = await readConfigSource(fixture('nvmetcli-tcp.json'), { format: 'nvmetcli' })
  t.equal(forced.ports.length, 2, '--config-format nvmetcli')
  const asNative = await readConfigSource(fixture('nvmetcli-tcp.json'), { format: 'native' })
  t.throws(() => parseTargetConfig(asNative), { code: 'ERR_NVMEOF_CONFIG', path: 'discovery' }, 'read as native it is refused, naming a field')
  const target = await createTarget(config)
  t.teardown(() => target.close())
  const st = target.status()
  t.same(st.subsystems.map((s) => s.nqn), ['blktests-subsystem-1', 'fixture-subsys-2'])
  t.same(
    st.ana.filter((a) => a.subnqn === 'blktests-subsystem-1').map((a) => `${a.portId}:${a.grpid}:${a.state}`),
    ['1:1:optimized', '1:2:non-optimized', '2:1:inaccessible', '2:2:inaccessible'],
  )
  t.equal(st.discovery.referrals.length, 1)
  const host = await RawHost.connect({ port: target.ports[0]!.port })
  t.teardown(() => host.close())
  t.ok((await host.connectAdmin({ subnqn: 'blktests-subsystem-1' })) > 0, 'a host connects to blktests-subsystem-1')
})

// fixtures/nvmetcli-kernel-saved.json was written by nvmetcli itself (its `nvmet` package, commit
// 7a94d92, `Root().save_to_file()`) from the kernel target of Debian's 6.1.0-57 in the interop
// guest, configured by test/interop/nvmetcli/guest-nvmetcli.sh (test/interop/nvmetcli-kernel.test.ts
// with NVMF_FAULT_NVMETCLI_SAVE_TO). Its shape is the kernel's: no discovery_nqn on 6.1, empty
// dhchap and resv groups, directories in configfs order, nvmet's defaults (model Linux, qid_max 128).
t.test('a file nvmetcli wrote from a real kernel target', async (t) => {
  const warnings: ConfigWarning[] = []
  const config = await readConfigSource(fixture('nvmetcli-kernel-saved.json'), { portBase: 0, onWarning: (w) => warnings.push(w) })
  t.same(warnings.map((w) => w.path).sort(), [
    'subsystems[0].attr.version',
    'subsystems[1].attr.version',
    'subsystems[1].namespaces[0].device.path',
    'subsystems[1].namespaces[1].device.path',
  ], JSON.stringify(warnings))
  const target = await createTarget(config)
  t.teardown(() => target.close())
  const st = target.status()
  t.match(st.subsystems.find((s) => s.nqn === 'fixture-subsys-2'), { allowAnyHost: false, hosts: ['fixture-host-a'], namespaces: [] })
  const s1 = st.subsystems.find((s) => s.nqn === 'blktests-subsystem-1')!
  t.match(s1, { allowAnyHost: true, anaGroups: [1, 2] })
  t.match(s1.namespaces.find((n) => n.nsid === 1), { enabled: true, anaGroup: 1, uuid: '3f0e9a52-8c1d-4b6e-a7f2-61c4d8e9b035', nguid: '0'.repeat(32) })
  t.match(s1.namespaces.find((n) => n.nsid === 2), { enabled: false, anaGroup: 2, uuid: '360b4350-fd96-4ea1-a8be-4543c14589aa', nguid: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' })
  t.same(
    st.ana.filter((a) => a.subnqn === 'blktests-subsystem-1').map((a) => `${a.portId}:${a.grpid}:${a.state}`).sort(),
    ['1:1:optimized', '1:2:non-optimized', '2:1:inaccessible', '2:2:inaccessible'],
    'the ANA table as nvmet had it (group 2 not created on port 2: inaccessible)',
  )
  t.match(st.discovery.referrals, [{ portId: 1, address: '127.0.0.2', port: 8009, remotePortId: 7 }])
  t.same(st.ports.map((p) => [p.id, p.subsystems.sort()]).sort(), [[1, ['blktests-subsystem-1', 'fixture-subsys-2']], [2, ['blktests-subsystem-1']]])
  const host = await RawHost.connect({ port: st.ports.find((p) => p.id === 1)!.port })
  t.teardown(() => host.close())
  t.ok((await host.connectAdmin({ subnqn: 'blktests-subsystem-1' })) > 0, 'a host connects to blktests-subsystem-1')
})
