/**
 * The initiator CLI with nvme-cli's spelling of the DH-HMAC-CHAP flags (`--dhchap-secret`,
 * `--dhchap-ctrl-secret`) as a real process against an in-process target that requires
 * authentication: a verified workload succeeds; a wrong secret exits non-zero with one error line.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createTarget } from '../../target/index.js'
import { generateDhchapSecret } from '../../lib/nvme/auth-secret.js'
import { childEnv, cliArgs } from '../helpers/cli-process.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:auth-cli'
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:4a3b2c1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d'

function run(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...cliArgs(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() })
    let out = ''
    let err = ''
    p.stdout.on('data', (b: Buffer) => (out += b.toString()))
    p.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const timer = setTimeout(() => {
      p.kill('SIGKILL')
      reject(new Error(`${args.join(' ')}: no exit within ${timeoutMs} ms\n${err}`))
    }, timeoutMs)
    p.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    })
  })
}

t.test('io --dhchap-secret --dhchap-ctrl-secret; connect with a wrong secret fails', async (t) => {
  const key = generateDhchapSecret({ hash: 'sha256' })
  const ctrlKey = generateDhchapSecret({ hash: 'sha256' })
  const tg = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: false, hosts: [HOSTNQN], namespaces: [{ nsid: 1, size: '1MiB' }] }],
    hosts: [{ nqn: HOSTNQN, dhchapKey: key, dhchapCtrlKey: ctrlKey, dhchapDhgroups: ['ffdhe2048'] }],
  })
  t.teardown(() => tg.close())
  const common = ['-a', '127.0.0.1', '-s', String(tg.ports[0]!.port), '-n', SUBNQN, '-q', HOSTNQN]
  const ok = await run(['io', ...common, '--dhchap-secret', key, '--dhchap-ctrl-secret', ctrlKey, '--count', '50', '--qd', '4'])
  t.equal(ok.code, 0, ok.err)
  t.match(ok.out, /50 I\/Os/)
  t.match(ok.out, /verify failures 0/)
  const bad = await run(['connect', ...common, '-S', generateDhchapSecret({ hash: 'sha256' })])
  t.not(bad.code, 0, 'wrong secret: non-zero exit')
  t.match(bad.err, /AUTH_Failure1.*Authentication failed/)
  t.ok(tg.authCounters().successes >= 2 && tg.authCounters().failures === 1, JSON.stringify(tg.authCounters()))
})
