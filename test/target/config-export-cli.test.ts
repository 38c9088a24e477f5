/**
 * The commands, as processes: `nvmf-fault target --config nvmet.json --port-base 0 --control SOCK`
 * (an nvmetcli file, its warnings logged), a run-time change with `ctl ns disable`, then
 * `ctl config export --format nvmetcli -o FILE`, the target stopped and started again from FILE:
 * `ctl status` shows the same configuration.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { parse as parseYaml } from 'yaml'
import type { TargetStatus } from '../../target/index.js'
import { cliArgs, runCli as runCliFor, waitFor } from '../helpers/cli-process.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const FIXTURE = fileURLToPath(new URL('./fixtures/nvmetcli-tcp.json', import.meta.url))

/** A target process; resolves once its control socket exists. */
async function startTarget(t: Test, args: string[], sock: string): Promise<{ stdout: () => string; stop: () => Promise<number | null> }> {
  const p: ChildProcess = spawn(process.execPath, [...cliArgs(), 'target', ...args, '--control', sock, '--no-pretty', '--log-level', 'info'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)))
  t.teardown(async () => {
    if (p.exitCode === null) {
      p.kill('SIGKILL')
      await exited
    }
  })
  t.ok(await waitFor(() => existsSync(sock) || p.exitCode !== null, 120_000), 'control socket appears')
  if (!existsSync(sock)) throw new Error(`target did not start: ${err}\n${out}`)
  return {
    stdout: () => out,
    stop: async () => {
      p.kill('SIGTERM')
      return exited
    },
  }
}

function configView(s: TargetStatus): unknown {
  return {
    ports: s.ports,
    subsystems: s.subsystems.map(({ anaChangeCount: _c, namespaces, ...rest }) => ({ ...rest, namespaces: namespaces.map(({ inflight: _i, ...n }) => n) })),
    ana: s.ana,
    referrals: s.discovery.referrals.map(({ id: _id, ...r }) => r),
  }
}

t.test('ctl config export -> restart -> identical ctl status', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-export-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const sock1 = join(dir, 'one.sock')
  const first = await startTarget(t, ['--config', FIXTURE, '--port-base', '0'], sock1)
  t.match(first.stdout(), /config: subsystems\[0\]\.attr\.version: \\"1\.3\\" is not supported/, 'the nvmetcli file\'s warnings are logged')

  const dis = await runCli(['ctl', '--control', sock1, 'ns', 'disable', '--nsid', '1', '--subnqn', 'blktests-subsystem-1'])
  t.equal(dis.code, 0, dis.stderr)
  const before = await runCli(['ctl', '--control', sock1, 'status', '-o', 'json'])
  t.equal(before.code, 0, before.stderr)
  const file = join(dir, 'nvmet.json')
  const exp = await runCli(['ctl', '--control', sock1, 'config', 'export', '--format', 'nvmetcli', '-o', file])
  t.equal(exp.code, 0, exp.stderr)
  t.equal(exp.stdout.trim(), `configuration written to ${file} (nvmetcli)`, 'a one-line confirmation')
  const yamlFile = join(dir, 'live.yaml')
  const expYaml = await runCli(['ctl', '--control', sock1, 'config', 'export', '-o', yamlFile])
  t.equal(expYaml.code, 0, expYaml.stderr)
  const native = parseYaml(readFileSync(yamlFile, 'utf8')) as { subsystems: Array<{ nqn: string; namespaces: Array<{ nsid: number; enabled: boolean }> }> }
  t.equal(native.subsystems[0]!.nqn, 'blktests-subsystem-1', 'native export as YAML')
  t.equal(native.subsystems[0]!.namespaces.find((n) => n.nsid === 1)!.enabled, false)
  t.equal(await first.stop(), 0, 'first target stopped')

  const sock2 = join(dir, 'two.sock')
  const second = await startTarget(t, ['--config', file], sock2)
  t.notMatch(second.stdout(), /"config: /, 'the exported file loads without a warning')
  const after = await runCli(['ctl', '--control', sock2, 'status', '-o', 'json'])
  t.equal(after.code, 0, after.stderr)
  const a = JSON.parse(before.stdout) as { target: TargetStatus }
  const b = JSON.parse(after.stdout) as { target: TargetStatus }
  t.same(configView(b.target), configView(a.target), 'same ports, subsystems, namespaces, ANA table, referrals')
  t.equal(b.target.subsystems[0]!.namespaces.find((n) => n.nsid === 1)!.enabled, false, 'the run-time change survived')
  t.ok(readFileSync(file, 'utf8').includes('"portid"'), 'nvmetcli shape')
  t.equal(await second.stop(), 0)
})

function runCli(args: string[]): ReturnType<typeof runCliFor> {
  return runCliFor(args, 120_000)
}
