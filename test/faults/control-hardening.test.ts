/**
 * Control-plane hardening (issue 11, "Control plane over TCP"): a peer without the token is cut off
 * at its first frame and may not make the server buffer more than a small frame; the decoder does
 * O(n) work in the bytes received; idle connections are closed; the Unix socket is never reachable
 * by anyone else, not even between bind() and chmod().
 */
import { mkdtempSync, rmSync, statSync, chmodSync, readdirSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t, { type Test } from 'tap'
import { ControlClient } from '../../faults/control-client.js'
import { DelimitedDecoder } from '../../faults/control-codec.js'
import { startControlServer, type ControlServer } from '../../faults/control-server.js'
import { fixture } from './helpers/fixture.js'

const TOKEN = 'secret-token-1234'

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-harden-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function tcpServer(t: Test, extra: { idleTimeoutMs?: number } = {}): Promise<{ server: ControlServer; port: number }> {
  const f = await fixture(t)
  const server = await startControlServer({ controller: f.faults.controller, tcp: { host: '127.0.0.1', port: 0, token: TOKEN }, ...extra })
  t.teardown(() => server.close())
  return { server, port: server.tcpAddress!.port }
}

/** Connect, write `bytes`, and resolve with what came back once the server closed (or null after `ms`). */
async function sendAndWaitClose(port: number, bytes: Buffer[], ms: number): Promise<Buffer | null> {
  const s = net.connect({ host: '127.0.0.1', port })
  await new Promise((r) => s.once('connect', r))
  const got: Buffer[] = []
  s.on('data', (d: Buffer) => got.push(d))
  s.on('error', () => undefined)
  for (const b of bytes) s.write(b)
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    s.once('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
  s.destroy()
  return closed ? Buffer.concat(got) : null
}

/** A varint length prefix. */
function varint(n: number): Buffer {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Buffer.from(out)
}

t.test('TCP: a first frame declaring 64 MiB is refused before it is buffered', async (t) => {
  const { port } = await tcpServer(t)
  // 64 MiB declared (the old per-message limit), 64 KiB actually sent: the server must not wait for more.
  const reply = await sendAndWaitClose(port, [varint(64 * 1024 * 1024), Buffer.alloc(64 * 1024, 0x41)], 20_000)
  t.not(reply, null, 'the server closed the connection without waiting for the 64 MiB')
  t.match(reply?.toString('latin1') ?? '', /exceeds the limit of 4096/, 'and said why')
})

t.test('TCP: a first frame without the token closes the connection; nothing after it runs', async (t) => {
  const { port } = await tcpServer(t)
  const c = await ControlClient.connect(`tcp://127.0.0.1:${port}`, { token: TOKEN })
  t.teardown(() => c.close())
  const f = c as unknown as { request: ControlClient['request'] }
  t.ok(f, 'a client with the token connects')
  // A raw Request{id:1, status:{}} without a token (field 10 = status, empty message), then a second one.
  const frame = Buffer.from([0x08, 0x01, 0x52, 0x00])
  const reply = await sendAndWaitClose(port, [varint(frame.length), frame, varint(frame.length), frame], 20_000)
  t.not(reply, null, 'connection closed after the unauthenticated first frame')
  t.match(reply?.toString('latin1') ?? '', /token/, 'the error names the token')
  t.notMatch(reply?.toString('latin1') ?? '', /"ports"/, 'no status was answered')
  t.equal((await c.request('status')).ok, true, 'an authenticated client is still served')
})

t.test('TCP: an idle connection is closed after idleTimeoutMs', async (t) => {
  const { port } = await tcpServer(t, { idleTimeoutMs: 200 })
  // Generous bound (100x the timeout): the machine may be loaded.
  t.not(await sendAndWaitClose(port, [], 20_000), null, 'idle connection closed by the server')
})

t.test('decoder: O(n) bytes copied for a message arriving in many small chunks', async (t) => {
  const size = 1024 * 1024
  const body = Buffer.alloc(size, 7)
  const wire = Buffer.concat([varint(size), body])
  let copied = 0
  const origConcat = Buffer.concat
  const origAlloc = Buffer.allocUnsafe
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    const r = origConcat(list, total)
    copied += r.length
    return r
  }) as typeof Buffer.concat
  Buffer.allocUnsafe = ((n: number) => {
    copied += n
    return origAlloc(n)
  }) as typeof Buffer.allocUnsafe
  let got: Buffer | undefined
  try {
    const d = new DelimitedDecoder({ onMessage: (m) => (got = Buffer.from(m)) })
    for (let off = 0; off < wire.length; off += 1024) d.push(wire.subarray(off, off + 1024))
  } finally {
    Buffer.concat = origConcat
    Buffer.allocUnsafe = origAlloc
  }
  t.ok(got?.equals(body), 'the message is delivered intact')
  t.ok(copied <= 2 * size + 4096, `bytes copied while decoding (${copied}) stay within 2x the message (${size})`)
})

t.test('decoder: a 4 MiB request in 1-byte-prefix + small chunks works after authentication', async (t) => {
  const { port } = await tcpServer(t)
  const c = await ControlClient.connect(`tcp://127.0.0.1:${port}`, { token: TOKEN })
  t.teardown(() => c.close())
  const big = `# ${'x'.repeat(4 * 1024 * 1024)}\nsteps:\n  - { atMs: 0, mark: big }\n`
  const r = await c.call('scenarioRun', { text: big, source: 'big' })
  t.match(r.json, { state: /running|finished/ }, 'a large authenticated request is accepted')
})

t.test('Unix socket: bound where nobody else can reach it, then 0600 in place', async (t) => {
  const dir = tmp(t)
  chmodSync(dir, 0o755) // a directory others can search: the socket itself must protect the target
  const path = join(dir, 'ctl.sock')
  const f = await fixture(t)
  // Record, at the instant of bind, whether another user could reach the socket being bound.
  const origListen = net.Server.prototype.listen
  const seen: Array<{ at: string; dirMode: number; umask: number }> = []
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    const o = args[0] as { path?: string } | undefined
    if (typeof o === 'object' && o !== null && typeof o.path === 'string') {
      const umask = process.umask()
      process.umask(umask)
      seen.push({ at: o.path, dirMode: statSync(dirname(o.path)).mode & 0o777, umask })
    }
    return (origListen as (...a: unknown[]) => net.Server).apply(this, args)
  } as typeof net.Server.prototype.listen
  let server: ControlServer
  try {
    server = await startControlServer({ controller: f.faults.controller, path })
  } finally {
    net.Server.prototype.listen = origListen
  }
  t.teardown(() => server.close())
  t.equal(seen.length, 1, 'one Unix listen')
  const s = seen[0]!
  const private_ = (s.dirMode & 0o077) === 0 || (s.umask & 0o077) === 0o077
  t.ok(private_, `at bind time the socket's directory (${s.dirMode.toString(8)}) or the umask (${s.umask.toString(8)}) keeps others out`)
  t.equal(statSync(path).mode & 0o777, 0o600, 'the socket is 0600 at its final path')
  t.same(readdirSync(dir), ['ctl.sock'], 'no temporary directory left behind')
  const c = await ControlClient.connect(path)
  t.equal((await c.request('status')).ok, true, 'served at the final path')
  c.close()
})
