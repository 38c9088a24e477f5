/**
 * A connection the target closes while its reading is paused (here for an onPduReceived decision
 * that never comes, with 256 KiB more behind it so the socket stops reading; also queue depth, send
 * backlog, a stall) still sees the peer's FIN, so `target.close()` resolves
 * even when nothing else keeps the process alive. Before, the FIN stayed unread, the connection
 * waited in CLOSING on an unref'd timer, and a script awaiting `target.close()` just ended (the verify
 * soak's teardown reported "test unfinished").
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { childEnv, ROOT, scriptArgs } from '../helpers/cli-process.js'

t.test('target.close() resolves with a closed connection whose reading was paused', async (t) => {
  const child = spawn(process.execPath, scriptArgs('test/target/fixtures/close-unread-fin.ts'), { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  // A generous bound, only reached if the child hangs (it kills it; the asserts below then fail).
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(killer)
  t.match(out, /^paused true$/m, 'the target paused reading the connection')
  t.match(out, /^closed$/m, `target.close() resolved before the process ended${err === '' ? '' : `\n${err}`}`)
  t.equal(code, 0, 'exit code 0')
})
