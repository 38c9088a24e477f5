/**
 * `nvmf-fault io` and `connect` (real processes) against a target that refuses an I/O-queue Connect:
 * the process exits non-zero with a one-line error (before the fix it never exited: the I/O queue's
 * socket was not among those teardown closes).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { FabricsType } from '../../lib/nvme/opcodes.js'
import { NvmeStatus } from '../../lib/status.js'
import { makeConnectInvalidParamDw0 } from '../../lib/nvme/fabrics.js'
import { RawTarget } from '../helpers/raw-target.js'
import { childEnv, cliArgs } from '../helpers/cli-process.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:cli-refused'

function run(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...cliArgs(), ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: childEnv() })
    let err = ''
    p.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const timer = setTimeout(() => {
      p.kill('SIGKILL')
      reject(new Error(`${args.join(' ')}: no exit within ${timeoutMs} ms\n${err}`))
    }, timeoutMs)
    p.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, err })
    })
  })
}

t.test('io and connect exit non-zero with one line after a refused I/O queue Connect', async (t) => {
  const target = await RawTarget.listen({
    onCommand: (c) => (c.fctype === FabricsType.CONNECT && c.qid === 1 ? { kind: 'complete', status: NvmeStatus.CONNECT_INVALID_PARAM | 0x4000, dw0: makeConnectInvalidParamDw0({ ipo: 44 }) } : undefined),
  })
  t.teardown(() => target.close())
  for (const cmd of [['io', '--count', '10'], ['connect']]) {
    const r = await run([cmd[0]!, '-a', '127.0.0.1', '-s', String(target.port), '-n', SUBNQN, ...cmd.slice(1)])
    t.not(r.code, 0, `${cmd[0]} exits non-zero`)
    const lines = r.err.trimEnd().split('\n')
    t.equal(lines.length, 1, `one line on stderr: ${r.err}`)
    t.match(lines[0], /I\/O queue Connect refused, Connect Invalid Parameters: SQSIZE/)
  }
  t.equal(target.openConnections, 0, 'no socket left open')
})
