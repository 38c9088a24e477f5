/**
 * `nvmf-fault target` as a process: --listen 127.0.0.1:0 logs the bound port and the
 * nvme discover/connect lines, serves a discovery Connect, and exits cleanly on SIGTERM.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { RawHost, withTimeout } from '../helpers/raw-host.js'
import { DISC_NQN } from './helpers/fixture.js'

const child = fileURLToPath(new URL('./helpers/cli-child.ts', import.meta.url))
const loader = import.meta.resolve('@tapjs/typescript/import')

t.test('target subcommand: listen(0), hints, SIGTERM', async (t) => {
  const p = spawn(process.execPath, ['--import', loader, child, 'target', '--listen', '127.0.0.1:0', '--log-level', 'info', '--no-pretty'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', TS_NODE_TRANSPILE_ONLY: '1', NVMF_CLI_CHILD: '1' },
  })
  t.teardown(() => {
    if (p.exitCode === null) p.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  p.stderr.on('data', (b: Buffer) => (err += b.toString()))
  const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)))
  const port = await withTimeout(
    new Promise<number>((resolve) => {
      p.stdout.on('data', (b: Buffer) => {
        out += b.toString()
        const m = /"msg":"nvme discover -t tcp -a 127\.0\.0\.1 -s (\d+)"/.exec(out)
        if (m) resolve(Number(m[1]))
      })
    }),
    120000,
    'the discover hint',
  ).catch((e: Error) => {
    throw new Error(`${e.message}\nstdout: ${out}\nstderr: ${err}`)
  })
  t.ok(port > 0, `bound port ${port} logged`)
  t.match(out, /listening on 127\.0\.0\.1:\d+/, 'listening line')
  t.match(out, /nvme connect -t tcp -a 127\.0\.0\.1 -s \d+ -n nqn\.2014-08\.org\.nvmf-fault:default/, 'connect hint')
  const c = await RawHost.connect({ port })
  t.ok((await c.connectAdmin({ subnqn: DISC_NQN })) > 0, 'discovery controller served')
  p.kill('SIGTERM')
  t.equal(await withTimeout(exited, 10000, 'exit'), 0, 'clean exit on SIGTERM')
  await c.closed
  t.match(out, /shutting down/, 'shutdown logged')
})
