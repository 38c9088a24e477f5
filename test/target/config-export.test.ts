/**
 * `exportConfig` (target/config-export.ts): the live configuration after run-time changes, in the
 * native and the nvmetcli format, restarts an identical target (same status but for counters and
 * connections), and exporting the restarted target gives the same document again. The control
 * socket's `configExport` (what `nvmf-fault ctl config export` calls) answers the same document.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { attachFaults } from '../../faults/attach.js'
import { ControlClient } from '../../faults/control-client.js'
import { resolveCliConfig } from '../../target/cli.js'
import type { ConfigWarning } from '../../target/config-nvmetcli.js'
import { createTarget, type TargetHandle, type TargetOptions, type TargetStatus } from '../../target/index.js'

const SUB = 'blktests-subsystem-1'
const SUB2 = 'nqn.2014-08.org.nvmf-fault:export-2'

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-export-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** What `ctl status` shows of the configuration: no connections, counters or referral ids. */
function configView(s: TargetStatus): unknown {
  return {
    ports: s.ports,
    subsystems: s.subsystems.map(({ anaChangeCount: _c, namespaces, ...rest }) => ({ ...rest, namespaces: namespaces.map(({ inflight: _i, ...n }) => n) })),
    ana: s.ana,
    referrals: s.discovery.referrals.map(({ id: _id, ...r }) => r),
  }
}

async function changedTarget(dir: string): Promise<TargetHandle> {
  const options: TargetOptions = {
    ports: [
      { id: 1, address: '127.0.0.1', port: 0, anaStates: { '1': 'optimized', '2': 'non-optimized' } },
      { id: 2, address: '127.0.0.1', port: 0, advertise: { address: '10.0.2.2' }, subsystems: [SUB] },
    ],
    subsystems: [
      {
        nqn: SUB,
        model: 'export model',
        anaGroups: [1, 2, 3],
        namespaces: [
          { nsid: 1, size: '4MiB', anaGroup: 1 },
          { nsid: 2, size: '2MiB', blockSize: 4096, anaGroup: 2, store: { type: 'file', path: join(dir, 'ns2.img') }, nguid: '00112233445566778899aabbccddeeff' },
        ],
      },
      { nqn: SUB2, allowAnyHost: false, hosts: ['fixture-host-b'], namespaces: [{ nsid: 5, size: '1MiB' }] },
    ],
    hosts: [{ nqn: 'fixture-host-b' }],
    referrals: [{ address: '127.0.0.5', port: 8009, portId: 1, remotePortId: 3 }],
    inlineDataSize: 8192,
    mdts: 6,
  }
  const target = await createTarget(options)
  // Run-time changes the export must carry.
  await target.addNamespace(SUB, { nsid: 3, size: '1MiB', anaGroup: 3 })
  target.disableNamespace(SUB, 1)
  target.setNamespaceUuid(SUB, 1, '0a0b0c0d-0e0f-4011-8213-141516171819')
  target.setNamespaceGroup(SUB, 3, 2)
  await target.resizeNamespace(SUB, 2, 1024)
  target.setAnaState({ portId: 2, grpid: 1, state: 'inaccessible' })
  target.setAnaState({ portId: 2, grpid: 3, state: 'change' })
  await target.addPort({ id: 7, address: '127.0.0.1', port: 0, anaStates: { '2': 'persistent-loss' } })
  target.addReferral({ address: '127.0.0.6', port: 4420 })
  return target
}

for (const format of ['native', 'nvmetcli'] as const) {
  t.test(`export --format ${format} -> restart -> identical status`, async (t) => {
    const dir = tmp(t)
    const first = await changedTarget(dir)
    let firstClosed = false
    t.teardown(() => (firstClosed ? undefined : first.close()))
    const warnings: ConfigWarning[] = []
    const doc = first.exportConfig({ format, onWarning: (w) => warnings.push(w) })
    t.same(warnings, [], 'the format holds everything')
    const file = join(dir, `exported.${format}.json`)
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`)
    const before = configView(first.status())
    await first.close()
    firstClosed = true

    const loadWarnings: ConfigWarning[] = []
    const config = await resolveCliConfig({ listen: [], config: file, logLevel: 'silent' }, (w) => loadWarnings.push(w))
    t.same(loadWarnings, [], 'loads without a warning')
    const second = await createTarget(config)
    t.teardown(() => second.close())
    t.same(configView(second.status()), before, 'same ports, subsystems, namespaces, ANA table, referrals')
    t.same(second.exportConfig({ format }), doc, 'exporting the restarted target gives the same document')
    const s1 = second.status().subsystems.find((s) => s.nqn === SUB)!
    t.match(s1.namespaces.find((n) => n.nsid === 1), { enabled: false, uuid: '0a0b0c0d-0e0f-4011-8213-141516171819' })
    t.match(s1.namespaces.find((n) => n.nsid === 2), { store: 'file', blockSize: 4096, sizeBytes: 4 * 1024 * 1024 })
  })
}

t.test('nvmetcli export: the shape nvmetcli reads', async (t) => {
  const dir = tmp(t)
  const target = await changedTarget(dir)
  t.teardown(() => target.close())
  const doc = target.exportConfig({ format: 'nvmetcli' }) as Record<string, unknown>
  const ports = doc.ports as Array<Record<string, unknown>>
  t.same(ports.map((p) => p.portid), [1, 2, 7])
  t.same(ports[0]!.addr, { adrfam: 'ipv4', traddr: '127.0.0.1', treq: 'not specified', trsvcid: String(target.ports[0]!.port), trtype: 'tcp' })
  t.same(ports[1]!.subsystems, [SUB])
  t.same(ports[0]!.subsystems, [SUB, SUB2], 'a port serving every subsystem links each')
  t.same(ports[1]!.ana_groups, [{ ana: { state: 'inaccessible' }, grpid: 1 }, { ana: { state: 'optimized' }, grpid: 2 }, { ana: { state: 'change' }, grpid: 3 }])
  t.match(ports[0]!.referrals, [{ addr: { traddr: '127.0.0.5', trsvcid: '8009', portid: '3', trtype: 'tcp' }, enable: 1 }])
  const subs = doc.subsystems as Array<Record<string, unknown>>
  t.match(subs[1], { nqn: SUB2, allowed_hosts: ['fixture-host-b'], attr: { allow_any_host: '0' } })
  t.match((subs[0]!.namespaces as unknown[])[1], { nsid: 2, enable: 1, ana_grpid: 2, device: { path: join(dir, 'ns2.img'), nguid: '00112233-4455-6677-8899-aabbccddeeff' } })
  t.same(doc.hosts, [{ nqn: 'fixture-host-b' }])
})

t.test('control socket: configExport', async (t) => {
  const dir = tmp(t)
  const target = await changedTarget(dir)
  const faults = await attachFaults(target, { control: join(dir, 'ctl.sock') })
  t.teardown(async () => {
    await faults.close()
    await target.close()
  })
  const c = await ControlClient.connect(join(dir, 'ctl.sock'))
  t.teardown(() => c.close())
  t.same((await c.call('configExport', { format: 'nvmetcli' })).json, JSON.parse(JSON.stringify(target.exportConfig({ format: 'nvmetcli' }))))
  t.same((await c.call('configExport', {})).json, JSON.parse(JSON.stringify(target.exportConfig())), 'native by default')
  await t.rejects(c.call('configExport', { format: 'xml' }), { code: 'ERR_NVMEOF_INVALID_ARG' })
})
