/**
 * The initiator CLI (`discover`, `connect`, `io`) and examples/initiator-basic.ts as real processes
 * against an in-process target on 127.0.0.1.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createTarget } from '../../target/index.js'
import { childEnv, scriptArgs } from '../helpers/cli-process.js'

const bin = fileURLToPath(new URL('../../bin/nvmf-fault.ts', import.meta.url))
const example = fileURLToPath(new URL('../../examples/initiator-basic.ts', import.meta.url))
const SUBNQN = 'nqn.2026-01.io.nvmf-fault:initiator-cli'

function run(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...scriptArgs(args[0]!), ...args.slice(1)], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() })
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

t.test('discover, connect, io against a two-port target', async (t) => {
  const target = await createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: 0, anaStates: { '1': 'optimized' } },
      { id: 2, address: '127.0.0.1', port: 0, anaStates: { '1': 'non-optimized' } },
    ],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '2MiB', blockSize: 512 }] }],
  })
  t.teardown(() => target.close())
  const [p1, p2] = target.ports.map((p) => String(p.port)) as [string, string]

  const d = await run([bin, 'discover', '-a', '127.0.0.1', '-s', p1])
  t.equal(d.code, 0, `discover exits 0 ${d.err}`)
  t.match(d.out, new RegExp(`nvme trtype=3 traddr=127\\.0\\.0\\.1 trsvcid=${p1} .*subnqn=${SUBNQN}`))
  t.match(d.out, new RegExp(`trsvcid=${p2} .*subnqn=${SUBNQN}`))

  const c = await run([bin, 'connect', '-a', '127.0.0.1', '-s', p1])
  t.equal(c.code, 0, `connect exits 0 ${c.err}`)
  t.match(c.out, /device .*nsid 1 {2}4096 blocks × 512 B/)
  t.match(c.out, /path .* live +ana optimized \(grp 1\)/, 'optimized path listed')
  t.match(c.out, /path .* degraded +ana non-optimized \(grp 1\)/, 'non-optimized path listed')

  const io = await run([bin, 'io', '-a', '127.0.0.1', '-s', p1, '-n', SUBNQN, '--count', '300', '--qd', '4', '--bs', '4', '--check-invariants'])
  t.equal(io.code, 0, `io exits 0 ${io.err}`)
  t.match(io.out, /300 I\/Os in [\d.]+ s: \d+ IOPS/)
  t.match(io.out, /latency ms: p50 [\d.]+ {2}p99 [\d.]+ {2}p99\.9 [\d.]+/)
  t.match(io.out, /errors 0 {2}verify failures 0 {2}failovers 0/)
  t.match(io.out, /QoS invariant violations: 0/)
  // stdout and stderr are pipes here, not a terminal: no progress bar at all (bin/progress.ts).
  t.notMatch(io.err, /[█░]|I\/Os \|/, 'no progress bar when not on a terminal')

  const reads = await run([bin, 'io', '-a', '127.0.0.1', '-s', p1, '-n', SUBNQN, '--rw', 'read', '--count', '200', '--qd', '2', '--disable-sqflow'])
  t.equal(reads.code, 0, `io --rw read --disable-sqflow exits 0 ${reads.err}`)
  t.match(reads.out, /200 I\/Os in [\d.]+ s: \d+ IOPS/)
  t.match(reads.out, /errors 0 {2}verify failures 0/)

  const bad = await run([bin, 'io', '-a', '127.0.0.1', '-s', p1, '-n', SUBNQN, '--rw', 'sideways'])
  t.equal(bad.code, 2, 'a bad option value is a usage error: exit 2')
  t.match(bad.err, /^nvmf-fault: 'rw' must be one of read, write, randrw, verify \[ERR_NVMEOF_INVALID_ARG\]\n$/, 'one line with its code')
})

t.test('examples/initiator-basic.ts runs by itself', async (t) => {
  const r = await run([example])
  t.equal(r.code, 0, `exits 0 ${r.err}`)
  t.match(r.out, /connected 2 controller\(s\)/)
  t.match(r.out, /wrote and read back 32768 bytes at LBA 128: match/)
  t.match(r.out, /path .*: state live, ANA state 1 .*latency p50 [\d.]+ ms p99 [\d.]+ ms p99\.9 [\d.]+ ms/)
  t.match(r.out, /QoS invariant violations: 0/)
})
