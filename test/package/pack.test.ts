/**
 * The published package works from a tarball: `npm pack --dry-run` lists what ships (LICENSE, the
 * docs the README points to, no tests); `npm pack`, install it into a scratch project, then import
 * every public entry point at run time, type-check a consumer against the shipped .d.ts, and run the
 * CLI on a terminal without the optional pino-pretty.
 */
import t, { type Test } from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '../..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>
  dependencies: Record<string, string>
}
const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json')

/** Files the README names that live in the repository only (it says so where it names them). */
const REPOSITORY_ONLY = /^(test\/|\.ci\/|bench\/|package-lock\.json$|tsconfig)/

/** Repository files the README names: markdown link targets and `code` spans that are existing files. */
export function readmeFilePaths(readme: string): string[] {
  const tokens = [...readme.matchAll(/\]\(([^)#\s]+)\)/g), ...readme.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!.replace(/^\.\//, ''))
  return [...new Set(tokens)].filter((p) => /^[\w.][\w./-]*\.[a-z]+$/i.test(p) && existsSync(join(root, p)) && statSync(join(root, p)).isFile()).sort()
}

t.test('npm pack --dry-run: the files that ship', async (t) => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as [{ files: { path: string }[] }]
  const files = new Set(info.files.map((f) => f.path))
  for (const f of ['LICENSE', 'README.md', 'package.json', 'docs/design.md', 'target/README.md', 'faults/README.md', 'initiator/README.md', 'proto/scenario.proto']) t.ok(files.has(f), `ships ${f}`)
  t.notOk([...files].some((f) => f.startsWith('test/') || f.startsWith('node_modules/') || f.startsWith('.tap/')), 'no tests, node_modules or tap state')
})

/** Every file the README names ships: as itself, or a TypeScript module as its compiled dist/ file. */
function checkReadmeFilesShip(t: Test, files: ReadonlySet<string>): void {
  const named = readmeFilePaths(readFileSync(join(root, 'README.md'), 'utf8'))
  t.ok(named.length > 5, `the README names files (${named.join(', ')})`)
  for (const p of named) {
    if (REPOSITORY_ONLY.test(p)) continue
    const shipped = files.has(p) || (p.endsWith('.ts') && files.has(`dist/${p.replace(/\.ts$/, '.js')}`))
    t.ok(shipped, `the README names ${p}, and the package ships it`)
  }
}

t.test('npm pack, install into a scratch project, import and type-check', async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'nvmf-fault-pack-'))
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }))

  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as [{ filename: string; files: { path: string }[] }]
  const files = info.files.map((f) => f.path)
  t.ok(files.includes('dist/index.js'), 'tarball has dist/index.js')
  t.ok(files.includes('dist/index.d.ts'), 'tarball has type declarations')
  t.ok(files.includes('dist/bin/nvmf-fault.js'), 'tarball has the CLI')
  t.notOk(files.some((f) => f.startsWith('test/')), 'tarball has no tests')
  checkReadmeFilesShip(t, new Set(files))

  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }))
  // Install the tarball. Its dependencies come from the npm cache/registry as for any user.
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(scratch, info.filename)], {
    cwd: scratch,
    stdio: ['ignore', 'pipe', 'pipe'],
  })

  // Run time: every exported subpath imports.
  const importLines = subpaths.map((s, i) => `import * as m${i} from '${s === '.' ? 'nvmf-fault' : `nvmf-fault/${s.slice(2)}`}'`)
  writeFileSync(
    join(scratch, 'run.mjs'),
    `${importLines.join('\n')}\nconsole.log(JSON.stringify([${subpaths.map((_, i) => `Object.keys(m${i}).length`).join(',')}]))\n`,
  )
  const counts = JSON.parse(execFileSync(process.execPath, ['run.mjs'], { cwd: scratch, encoding: 'utf8' })) as number[]
  t.equal(counts.length, subpaths.length)
  counts.forEach((n, i) => t.ok(n > 0, `${subpaths[i]} exports something (${n} names)`))

  // Type-check a consumer with the project's own TypeScript (NodeNext, skipLibCheck off).
  writeFileSync(
    join(scratch, 'consumer.ts'),
    `import { FES, NvmeTcpProtocolError, seededRandom } from 'nvmf-fault'\n` +
      `import type { Clock } from 'nvmf-fault/lib'\n` +
      `const e: NvmeTcpProtocolError = new NvmeTcpProtocolError(FES.INVALID_HEADER_FIELD, 2, 'bad hlen')\n` +
      `const n: number = e.fes + seededRandom(1).int(10)\n` +
      `const c: Clock | undefined = undefined\n` +
      `export { n, c }\n`,
  )
  writeFileSync(
    join(scratch, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
      files: ['consumer.ts'],
    }),
  )
  symlinkSync(join(root, 'node_modules', '@types'), join(scratch, 'node_modules', '@types'), 'dir')
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  let tscOut = ''
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: scratch, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    tscOut = String((err as { stdout?: string }).stdout ?? err)
  }
  t.equal(tscOut, '', 'consumer type-checks against the packed declarations')

  // The CLI answers --version from the installed package.
  const version = execFileSync(process.execPath, [join(scratch, 'node_modules', 'nvmf-fault', 'dist', 'bin', 'nvmf-fault.js'), '--version'], {
    encoding: 'utf8',
  }).trim()
  t.match(version, /^\d+\.\d+\.\d+$/, 'installed CLI prints its version')

  // pino-pretty is optional: without it, on a terminal (where it would be used), the CLI still
  // logs (JSON) and reports a bad config file as one line with its code and exit code 2.
  rmSync(join(scratch, 'node_modules', 'pino-pretty'), { recursive: true, force: true })
  const cli = join(scratch, 'node_modules', 'nvmf-fault', 'dist', 'bin', 'nvmf-fault.js')
  const script = spawnSync('script', ['-qec', `'${process.execPath}' '${cli}' target --config '${join(scratch, 'missing.yaml')}'`, '/dev/null'], { encoding: 'utf8', timeout: 120_000 })
  if (script.error !== undefined) {
    t.comment(`util-linux script unavailable (${script.error.message}): the terminal case is not checked`)
  } else {
    t.equal(script.status, 2, `exit 2 for a missing config file (${script.stdout})`)
    t.match(script.stdout, /nvmf-fault: .*missing\.yaml.* \[\w+\]/, 'one error line with its code')
    t.notMatch(script.stdout, /pino-pretty|transport target/, 'no complaint about the missing pretty printer')
  }
})
