/** examples/target-two-port.ts runs by itself, changes an ANA state, prints the snapshot and exits 0. */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { withTimeout } from '../helpers/raw-host.js'
import { childEnv, scriptArgs } from '../helpers/cli-process.js'

const example = fileURLToPath(new URL('../../examples/target-two-port.ts', import.meta.url))

t.test('two-port example', async (t) => {
  const p = spawn(process.execPath, scriptArgs(example), { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() })
  t.teardown(() => {
    if (p.exitCode === null) p.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  p.stdout.on('data', (b: Buffer) => (out += b.toString()))
  p.stderr.on('data', (b: Buffer) => (err += b.toString()))
  const code = await withTimeout(new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c))), 180000, 'example exit')
  t.equal(code, 0, `exits 0 ${err}`)
  t.match(out, /port 1 group 1: inaccessible/, 'ANA change applied on port 1')
  t.match(out, /port 2 group 1: optimized/, 'port 2 unchanged')
  t.match(out, /"subsystems": \[/, 'status snapshot printed')
})
