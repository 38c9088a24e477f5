/**
 * Every command in README.md runs as written from a fresh clone (README, "The README test").
 * The default suite checks that the blocks and markers parse; `npm run test:readme`
 * (NVMF_README_TEST=1) copies the repository's files into a scratch folder, as a fresh clone has
 * them, and runs every shell block there in one bash shell, in a network namespace of its own when
 * one can be made (so that the README's fixed ports are free).
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { blockCommands, controlPath, isBackground, parseMarker, readmeBlocks, readmeScript } from './helpers/readme-blocks.js'

const root = resolve(import.meta.dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')

t.test('the extraction: markers, continuations, background lines', async (t) => {
  t.same(parseMarker('<!-- readme-test: skip — needs QEMU -->', 1), { kind: 'skip', reason: 'needs QEMU' })
  t.same(parseMarker('<!-- readme-test: needs tshark -->', 1), { kind: 'needs', command: 'tshark' })
  t.same(parseMarker('<!-- readme-test: servers -->', 1), { kind: 'servers' })
  t.throws(() => parseMarker('<!-- readme-test: skip -->', 7), /line 7: "readme-test: skip" needs a reason/)
  t.throws(() => parseMarker('<!-- readme-test: sometimes -->', 3), /unknown readme-test marker "sometimes"/)
  t.same(blockCommands(['# a comment', 'a --x \\', '   --y', '', 'b   # trailing', 'c &']), ['a --x --y', 'b   # trailing', 'c &'])
  t.ok(isBackground('nvmf-fault target --control /tmp/s &'))
  t.ok(isBackground('nvmf-fault target &   # in the background'))
  t.notOk(isBackground('make && make install'))
  t.notOk(isBackground('echo "a & b"x'))
  t.equal(controlPath('nvmf-fault target --control /tmp/nvmf.sock --record-pdus &'), '/tmp/nvmf.sock')
  const md = ['text', '<!-- readme-test: skip — needs a kernel -->', '```sh', 'nvme connect', '```', '```ts', 'not shell', '```', '```sh', 'ls', '```'].join('\n')
  t.same(readmeBlocks(md), [
    { line: 3, marker: { kind: 'skip', reason: 'needs a kernel' }, commands: ['nvme connect'] },
    { line: 9, marker: { kind: 'run' }, commands: ['ls'] },
  ])
})

t.test('README.md: every shell block parses, and most of them run', async (t) => {
  const blocks = readmeBlocks(readme)
  const run = blocks.filter((b) => b.marker.kind !== 'skip')
  t.ok(run.length >= blocks.length / 2, `${run.length} of ${blocks.length} blocks run`)
  for (const b of blocks) t.ok(b.commands.length > 0, `block at line ${b.line} has commands`)
  const script = readmeScript(blocks, { serverTimeoutS: 300 })
  const check = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' })
  t.equal(check.status, 0, `the generated script is valid bash ${check.stderr}`)
})

/** The files a fresh clone has: tracked and new (not ignored) ones, as they are in the work tree. */
function copyAsClone(dest: string): number {
  const ls = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  if (ls.status !== 0) throw new Error(`git ls-files failed: ${ls.stderr}`)
  let n = 0
  for (const f of ls.stdout.split('\0')) {
    if (f === '' || !existsSync(join(root, f))) continue
    mkdirSync(dirname(join(dest, f)), { recursive: true })
    copyFileSync(join(root, f), join(dest, f))
    n++
  }
  return n
}

function canUnshareNet(): boolean {
  return spawnSync('unshare', ['-n', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' }).status === 0
}

const full = process.env['NVMF_README_TEST'] === '1'
t.test('every README command runs as written from a fresh clone', { skip: full ? false : 'opt-in: npm run test:readme', timeout: 2_700_000 }, async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'nvmf-readme-'))
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
  const clone = join(scratch, 'nvmf-fault')
  t.ok(copyAsClone(clone) > 50, 'copied the repository files')
  const script = join(scratch, 'readme.sh')
  writeFileSync(script, readmeScript(readmeBlocks(readme), { serverTimeoutS: 300 }))
  const prefix = join(scratch, 'npm-global')
  const netns = canUnshareNet()
  t.comment(netns ? 'running in a network namespace of its own' : 'no network namespace (not root?): the README ports must be free on this machine')
  const env = {
    ...process.env,
    NODE_OPTIONS: '',
    // `npm link` installs into a prefix of the test's own, whose bin is first on PATH.
    npm_config_prefix: prefix,
    PATH: `${join(prefix, 'bin')}:${process.env['PATH'] ?? ''}`,
    // Inside the namespace there is no network: npm ci works from npm's cache (filled above).
    ...(netns ? { npm_config_offline: 'true' } : {}),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  }
  if (netns) {
    // Inside the namespace there is no network, and package-lock.json names no tarball URLs: fill
    // npm's cache first (what `npm ci` on the machine's network would fetch), outside it.
    const warm = join(scratch, 'warm-cache')
    mkdirSync(warm)
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(clone, f), join(warm, f))
    const w = spawnSync('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: warm, encoding: 'utf8', timeout: 900_000 })
    t.equal(w.status, 0, `npm's cache filled ${w.stderr.slice(-2000)}`)
    rmSync(warm, { recursive: true, force: true })
  }
  const [cmd, args] = netns ? ['unshare', ['-n', 'bash', '-c', `ip link set lo up && exec bash ${script}`]] : ['bash', [script]]
  // The log is written as the run goes, so that a slow or stuck run can be watched.
  mkdirSync(join(root, '.tap'), { recursive: true })
  const logFile = join(root, '.tap', 'readme-commands.log')
  writeFileSync(logFile, '')
  const r = await new Promise<{ code: number | null; out: string }>((res) => {
    const p = spawn(cmd, args as string[], { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const add = (b: Buffer): void => {
      out += b.toString()
      appendFileSync(logFile, b)
    }
    p.stdout.on('data', add)
    p.stderr.on('data', add)
    const timer = setTimeout(() => p.kill('SIGKILL'), 2_400_000)
    p.on('close', (code) => {
      clearTimeout(timer)
      res({ code, out })
    })
  })
  t.equal(r.code, 0, `the README ran to the end (log: .tap/readme-commands.log)\n${r.out.slice(-4000)}`)
})
