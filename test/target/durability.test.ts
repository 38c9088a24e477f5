/**
 * File store durability with real processes: writes acknowledged before a completed Flush, and
 * FUA writes, are on the file after `kill -9` of the target and a restart on the same file. With
 * strace available, the Flush and each FUA write are also seen to reach fdatasync(2) before they
 * complete (kill -9 alone keeps the page cache, so only the syscall shows the disk is asked).
 */
import t, { type Test } from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RawHost, withTimeout } from '../helpers/raw-host.js'
import { makeSqe, rwDwords } from '../../lib/nvme/sqe.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'
import { DURABLE_NQN } from './helpers/durable-child.js'

const child = fileURLToPath(new URL('./helpers/durable-child.ts', import.meta.url))
const loader = import.meta.resolve('@tapjs/typescript/import')
const WAIT = 120_000
const hasStrace = spawnSync('strace', ['-V']).status === 0

async function startChild(t: Test, file: string, straceLog?: string): Promise<{ p: ChildProcess; port: number; pid: number }> {
  const node = [process.execPath, '--import', loader, child]
  const argv = straceLog !== undefined ? ['strace', '-f', '-qq', '-e', 'trace=fdatasync,fsync', '-o', straceLog, ...node] : node
  const p = spawn(argv[0]!, argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', TS_NODE_TRANSPILE_ONLY: '1', NVMF_DURABLE_CHILD: '1', NVMF_DURABLE_FILE: file },
  })
  t.teardown(() => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  p.stderr!.on('data', (b: Buffer) => (err += b.toString()))
  const [port, pid] = await withTimeout(
    new Promise<[number, number]>((resolve) => {
      p.stdout!.on('data', (b: Buffer) => {
        out += b.toString()
        const m = /PORT (\d+) PID (\d+)/.exec(out)
        if (m) resolve([Number(m[1]), Number(m[2])])
      })
    }),
    WAIT,
    'the target child to listen',
  ).catch((e: Error) => {
    throw new Error(`${e.message}\nstdout: ${out}\nstderr: ${err}`)
  })
  // The target itself (under strace, `p` is strace): killed too if the test ends early.
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  })
  return { p, port, pid }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function connectIo(t: Test, port: number): Promise<RawHost> {
  const admin = await RawHost.connect({ port })
  t.teardown(() => admin.destroy())
  const cntlid = await admin.connectAdmin({ subnqn: DURABLE_NQN })
  const io = await RawHost.connect({ port })
  t.teardown(() => io.destroy())
  await io.connectIo({ subnqn: DURABLE_NQN, cntlid })
  return io
}

function pattern(i: number): Buffer {
  const b = Buffer.alloc(4096)
  for (let o = 0; o < b.length; o += 4) b.writeUInt32LE(((i + 1) * 2654435761 + o) >>> 0, o)
  return b
}

const fuaWrite = (io: RawHost, slba: bigint, data: Buffer) =>
  io.command(makeSqe({ opc: IoOpcode.WRITE, cid: io.nextCid(), nsid: 1, ...rwDwords({ slba, nlb: data.length / 512 - 1, fua: true }) }), { data, timeoutMs: WAIT })
const flush = (io: RawHost) => io.command(makeSqe({ opc: IoOpcode.FLUSH, cid: io.nextCid(), nsid: 1 }), { timeoutMs: WAIT })
const syncCalls = (log: string): number => readFileSync(log, 'utf8').split('\n').filter((l) => /\b(fdatasync|fsync)\(/.test(l)).length

t.test('kill -9 after Flush and FUA writes: every acknowledged write is on the file after a restart', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'ns1.img')
  const log = hasStrace ? join(dir, 'strace.log') : undefined
  const first = await startChild(t, file, log)
  const io = await connectIo(t, first.port)
  // 24 writes at distinct LBAs, then a Flush that completes: all 24 must survive.
  for (let i = 0; i < 24; i++) t.equal((await io.write(1, BigInt(i * 8), pattern(i), { timeoutMs: WAIT })).cqe.status, 0)
  const before = log !== undefined ? syncCalls(log) : 0
  t.equal((await flush(io)).cqe.status, 0, 'Flush completed')
  if (log !== undefined) t.ok(syncCalls(log) > before, 'Flush reached fdatasync before completing')
  // 8 FUA writes after the Flush: each acknowledged one must survive too.
  for (let i = 24; i < 32; i++) {
    const n = log !== undefined ? syncCalls(log) : 0
    t.equal((await fuaWrite(io, BigInt(i * 8), pattern(i))).cqe.status, 0)
    if (log !== undefined && i === 24) t.ok(syncCalls(log) > n, 'a FUA write reached fdatasync before completing')
  }
  const exited = new Promise((r) => first.p.once('exit', r))
  process.kill(first.pid, 'SIGKILL')
  await withTimeout(exited, WAIT, 'kill -9')
  t.notOk(alive(first.pid), 'target process killed with SIGKILL')
  const second = await startChild(t, file)
  const io2 = await connectIo(t, second.port)
  let intact = 0
  for (let i = 0; i < 32; i++) {
    const r = await io2.read(1, BigInt(i * 8), 8, 512, WAIT)
    if (r.cqe.status === 0 && r.data.equals(pattern(i))) intact++
  }
  t.equal(intact, 32, 'all 24 flushed and 8 FUA writes read back intact after the restart')
  if (!hasStrace) t.comment('strace not installed: the fdatasync(2) checks were skipped')
})
