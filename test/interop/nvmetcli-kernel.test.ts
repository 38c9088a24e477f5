// nvmetcli itself against the kernel target (issue 9 scope 3, "a check against a real nvmetcli-written
// file"). Opt-in: needs the interop guest, a python3 to run in it (its binary, libraries and standard
// library are copied into the guest's /host share; default /usr/bin/python3.11 from Debian's
// python3.11-minimal + libpython3.11-stdlib) and an nvmetcli checkout: NVMF_FAULT_NVMETCLI_DIR=DIR
// with DIR/nvmet/nvme.py (nvmetcli's own code is never part of this repository).
//   1. The guest configures nvmet through configfs and nvmetcli's saveconfig writes it out; that
//      file loads here (every unsupported field named in a warning) and starts our target with the
//      same subsystems, namespaces, ANA table and referral.
//   2. Our `config export --format nvmetcli` of a target is restored by nvmetcli on the kernel target
//      without an error, and nvmetcli's saveconfig of the result matches what we exported.
// NVMF_FAULT_NVMETCLI_SAVE_TO=FILE keeps nvmetcli's file of step 1 (test/target/fixtures/
// nvmetcli-kernel-saved.json was made that way).
import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parseTargetConfig } from '../../target/config.js'
import { fromNvmetcli } from '../../target/config-nvmetcli.js'
import { rebasePorts } from '../../target/config-source.js'
import { createTarget } from '../../target/index.js'
import { interopAvailability } from './fixtures/vm-image.js'
import { consoleTail, describeRun, startGuest } from './fixtures/vm.js'

const NVMETCLI_DIR = process.env.NVMF_FAULT_NVMETCLI_DIR
const PYTHON = process.env.NVMF_FAULT_GUEST_PYTHON ?? '/usr/bin/python3.11'
const pyVersion = /python(\d+\.\d+)$/.exec(PYTHON)?.[1] ?? '3.11'
const STDLIB = `/usr/lib/python${pyVersion}`

function missing(): string | undefined {
  if (NVMETCLI_DIR === undefined) return 'NVMF_FAULT_NVMETCLI_DIR (an nvmetcli checkout) is not set'
  if (!existsSync(join(NVMETCLI_DIR, 'nvmet', 'nvme.py'))) return `${NVMETCLI_DIR}/nvmet/nvme.py is missing`
  if (!existsSync(PYTHON)) return `${PYTHON} is missing (Debian package python${pyVersion}-minimal)`
  if (!existsSync(join(STDLIB, 'json', '__init__.py'))) return `${STDLIB} is missing (Debian package libpython${pyVersion}-stdlib)`
  return undefined
}

/** python3, the libraries ldd names, its standard library and nvmetcli's nvmet package, under share/py. */
function preparePython(share: string): void {
  const py = join(share, 'py')
  mkdirSync(join(py, 'bin'), { recursive: true })
  mkdirSync(join(py, 'lib'), { recursive: true })
  copyFileSync(PYTHON, join(py, 'bin', 'python3'))
  const ldd = execFileSync('ldd', [PYTHON], { encoding: 'utf8' })
  for (const m of ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) {
    const lib = m[1]!
    copyFileSync(lib, join(py, 'lib', lib.includes('ld-linux') ? 'ld-linux-x86-64.so.2' : basename(lib)))
  }
  const skip = new Set(['test', 'idlelib', 'tkinter', 'turtledemo', 'ensurepip', 'lib2to3', '__pycache__', 'pydoc_data', 'site-packages', 'dist-packages'])
  cpSync(STDLIB, join(py, 'lib', `python${pyVersion}`), { recursive: true, filter: (src) => !skip.has(basename(src)) })
  cpSync(join(NVMETCLI_DIR!, 'nvmet'), join(py, 'site', 'nvmet'), { recursive: true })
}

const avail = await interopAvailability()
const why = avail.ok ? missing() : `interop suite skipped: ${avail.reason}`
t.test('nvmetcli saveconfig of a kernel target loads; our export restores on the kernel target', { skip: why ?? false }, async (t) => {
  const share = mkdtempSync(join(tmpdir(), 'nvmf-fault-nvmetcli-'))
  t.teardown(() => rmSync(share, { recursive: true, force: true }))
  preparePython(share)

  // Step 2's input: a target of ours with file namespaces at paths the guest creates too.
  const files = [1, 2].map((n) => join(tmpdir(), `nvmf-fault-nvmetcli-ns${n}-${process.pid}.img`))
  t.teardown(() => files.forEach((f) => rmSync(f, { force: true })))
  const ours = await createTarget({
    ports: [
      { id: 3, address: '127.0.0.1', port: 0, anaStates: { '1': 'non-optimized', '2': 'optimized' } },
      { id: 4, address: '127.0.0.1', port: 0, anaStates: { '1': 'optimized', '2': 'inaccessible' }, subsystems: ['ours-subsys-1'] },
    ],
    subsystems: [
      { nqn: 'ours-subsys-1', serial: 'oursserial1', model: 'nvmf-fault export', anaGroups: [1, 2], namespaces: [
        { nsid: 1, size: '8MiB', store: { type: 'file', path: files[0]! }, uuid: '11111111-2222-4333-8444-555555555555', anaGroup: 1 },
        { nsid: 7, size: '8MiB', store: { type: 'file', path: files[1]! }, nguid: '00112233445566778899aabbccddeeff', anaGroup: 2, enabled: false },
      ] },
      { nqn: 'ours-subsys-2', serial: 'oursserial2', allowAnyHost: false, hosts: ['ours-host'] },
    ],
  })
  const oursDoc = ours.exportConfig({ format: 'nvmetcli' }) as { ports: Array<Record<string, unknown>>; subsystems: Array<Record<string, unknown>> }
  await ours.close()
  writeFileSync(join(share, 'ours.json'), JSON.stringify(oursDoc, null, 2))
  writeFileSync(join(share, 'ours-files.txt'), files.join('\n'))

  const script = fileURLToPath(new URL('./nvmetcli/guest-nvmetcli.sh', import.meta.url))
  const vm = await startGuest({ script, share, timeoutSec: 900, memMiB: 768 }) // python under TCG on a loaded machine: 400 s ran out after the restore
  t.teardown(() => vm.kill())
  const r = await vm.done
  t.comment(describeRun(r))
  if (process.env.NVMF_FAULT_NVMETCLI_SAVE_TO !== undefined && existsSync(join(share, 'saved.json')))
    writeFileSync(process.env.NVMF_FAULT_NVMETCLI_SAVE_TO, readFileSync(join(share, 'saved.json')))
  t.equal(r.rc, 0, `guest rc 0${r.rc === 0 ? '' : `\n${consoleTail(r, 60)}`}`)
  if (r.rc !== 0) return

  // 1. nvmetcli's file of the kernel target.
  const saved = JSON.parse(readFileSync(join(share, 'saved.json'), 'utf8')) as unknown
  const { config, warnings } = await fromNvmetcli(saved)
  for (const w of warnings) t.comment(`warning ${w.path}: ${w.message}`)
  t.ok(warnings.every((w) => !w.path.startsWith('ports[') || w.path.includes('param') || w.path.includes('addr')), 'no port field lost')
  const resolved = parseTargetConfig(rebasePorts(config, 0))
  const target = await createTarget(rebasePorts(config, 0))
  t.teardown(() => target.close())
  const st = target.status()
  t.same(st.subsystems.map((s) => s.nqn).sort(), ['blktests-subsystem-1', 'fixture-subsys-2'])
  const s1 = st.subsystems.find((s) => s.nqn === 'blktests-subsystem-1')!
  t.match(s1.namespaces.find((n) => n.nsid === 1), { enabled: true, anaGroup: 1, uuid: '3f0e9a52-8c1d-4b6e-a7f2-61c4d8e9b035' })
  t.match(s1.namespaces.find((n) => n.nsid === 2), { enabled: false, anaGroup: 2, nguid: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' })
  t.match(st.subsystems.find((s) => s.nqn === 'fixture-subsys-2'), { allowAnyHost: false, hosts: ['fixture-host-a'] })
  t.same(
    st.ana.filter((a) => a.subnqn === 'blktests-subsystem-1').map((a) => `${a.portId}:${a.grpid}:${a.state}`),
    ['1:1:optimized', '1:2:non-optimized', '2:1:inaccessible', '2:2:inaccessible'],
    'the ANA table as nvmet had it',
  )
  t.match(st.discovery.referrals, [{ portId: 1, address: '127.0.0.2', port: 8009 }])
  t.same(resolved.hosts.sort(), ['fixture-host-a', 'nqn.2014-08.org.nvmexpress:uuid:5a1c0c3e-7b7e-4c2a-9f0d-3d2b9c1e8a11'])

  // 2. nvmetcli restored our export on nvmet; its saveconfig shows the same configuration.
  const errors = JSON.parse(readFileSync(join(share, 'restore-errors.json'), 'utf8')) as string[]
  t.same(errors, [], 'nvmetcli restore: no error')
  const resaved = JSON.parse(readFileSync(join(share, 'ours-resaved.json'), 'utf8')) as typeof oursDoc
  const withoutDefaultTsas = (a: Record<string, string>): Record<string, string> => {
    const { tsas, ...rest } = a
    return tsas === undefined || tsas === 'none' ? rest : a
  }
  const portView = (d: typeof oursDoc): unknown =>
    // nvmetcli lists directories in configfs order: compared sorted.
    [...d.ports]
      .sort((a, b) => Number(a.portid) - Number(b.portid))
      // Newer nvmet (6.12 and 7.x sources have addr_tsas) shows tsas "none" on a port without TLS; 6.1
      // saves none, and our export leaves it out: "none" and absent are the same port.
      .map((p) => ({ portid: p.portid, addr: withoutDefaultTsas(p.addr as Record<string, string>), subsystems: [...(p.subsystems as string[])].sort(), ana: [...(p.ana_groups as Array<{ grpid: number }>)].sort((a, b) => a.grpid - b.grpid) }))
  t.same(portView(resaved), portView(oursDoc), 'ports: address, linked subsystems, ANA groups')
  const subView = (d: typeof oursDoc): unknown =>
    [...d.subsystems].sort((a, b) => String(a.nqn).localeCompare(String(b.nqn))).map((s) => {
      const attr = s.attr as Record<string, string>
      return {
        nqn: s.nqn,
        allowed_hosts: s.allowed_hosts,
        attr: { allow_any_host: attr.allow_any_host, serial: attr.serial, model: attr.model },
        namespaces: [...(s.namespaces as Array<Record<string, unknown>>)].sort((a, b) => Number(a.nsid) - Number(b.nsid)).map((n) => ({ nsid: n.nsid, enable: n.enable, ana_grpid: n.ana_grpid, device: { path: (n.device as Record<string, string>).path, uuid: (n.device as Record<string, string>).uuid, nguid: (n.device as Record<string, string>).nguid } })),
      }
    })
  t.same(subView(resaved), subView(oursDoc), 'subsystems: hosts, attributes, namespaces with ids, groups and enable')
})
