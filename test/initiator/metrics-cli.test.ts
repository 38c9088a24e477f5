/**
 * `nvmf-fault io --metrics ADDR:PORT` serves the initiator's Prometheus metrics for the run: scraped
 * twice during a real I/O run against a target, the head's completed I/Os grow.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createTarget } from '../../target/index.js'
import { cliArgs } from '../helpers/cli-process.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SUBNQN = 'nqn.2026-01.io.nvmf-fault:io-metrics'

const completed = (text: string): number => {
  let n = 0
  for (const m of text.matchAll(/^nvmf_host_head_ios_completed_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1])
  return n
}

t.test('io --metrics: scrape the host during a run', async (t) => {
  const target = await createTarget({ ports: [{ id: 1, address: '127.0.0.1', port: 0 }], subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '8MiB' }] }] })
  t.teardown(() => target.close())
  const child = spawn(
    process.execPath,
    [...cliArgs(), 'io', '-a', '127.0.0.1', '-s', String(target.ports[0]!.port), '-n', SUBNQN, '--rw', 'read', '--time', '300', '--metrics', '127.0.0.1:0'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise((r) => child.on('exit', r))
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const end = Date.now() + 120_000
  let url: string | undefined
  while (url === undefined && Date.now() < end && child.exitCode === null) {
    url = /metrics: (http:\/\/\S+)/.exec(err)?.[1]
    await new Promise((r) => setTimeout(r, 200))
  }
  t.ok(url, `io printed its metrics address (${err.slice(0, 300)})`)
  let first = 0
  while (first === 0 && Date.now() < end) {
    first = completed(await (await fetch(url!)).text())
    await new Promise((r) => setTimeout(r, 200))
  }
  let second = first
  while (second === first && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200))
    second = completed(await (await fetch(url!)).text())
  }
  t.ok(first > 0 && second > first, `completed I/Os grow between scrapes (${first} -> ${second})`)
})
