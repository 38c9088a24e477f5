/**
 * The published package works from a tarball: `npm pack`, install it into a scratch project, then
 * import every public entry point at run time and type-check a consumer against the shipped .d.ts.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '../..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>
  dependencies: Record<string, string>
}
const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json')

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
})
