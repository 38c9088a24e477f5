// Kernel specs: one parser for NVMF_FAULT_KERNEL, --kernels and `reproduce --kernel`; Debian
// version ordering used to pick the newest kernel of a series; the matrix's TAP judging and table.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { compareDebVersions } from '../../kernel/deb-version.js'
import { bzImageRelease, chooseKernel } from '../../kernel/kernel-fetch.js'
import { formatKernelSpec, kernelSpecFromEnv, MATRIX_KERNELS, parseKernelList, parseKernelSpec } from '../../kernel/kernel-spec.js'
import { formatMatrix, parseTapRun } from '../interop/fixtures/matrix-report.js'

t.test('aliases, packages, .debs and trees parse; anything else is a typed error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-kspec-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const deb = join(dir, 'linux-image-7.3.4+deb13-amd64_7.3.4-1~bpo13+1_amd64.deb')
  const deb2 = join(dir, 'linux-binary-7.3.4+deb13-amd64_7.3.4-1~bpo13+1_amd64.deb')
  writeFileSync(deb, '')
  writeFileSync(deb2, '')
  mkdirSync(join(dir, 'tree'))
  t.same(parseKernelSpec(''), { kind: 'default' })
  t.same(parseKernelSpec('default'), { kind: 'default' })
  t.same(parseKernelSpec('6.1'), { kind: 'series', series: '6.1' })
  t.same(parseKernelSpec('6.17.8'), { kind: 'series', series: '6.17.8' })
  t.same(parseKernelSpec('bpo-latest'), { kind: 'suite', suite: 'trixie-backports' })
  t.same(parseKernelSpec('sid'), { kind: 'suite', suite: 'sid' })
  t.same(parseKernelSpec('linux-image-6.17.8+deb13-amd64'), { kind: 'package', pkg: 'linux-image-6.17.8+deb13-amd64' })
  t.same(parseKernelSpec('linux-image-6.17.8+deb13-amd64=6.17.8-1~bpo13+1'), { kind: 'package', pkg: 'linux-image-6.17.8+deb13-amd64', version: '6.17.8-1~bpo13+1' })
  t.same(parseKernelSpec(deb), { kind: 'debs', paths: [deb] })
  t.same(parseKernelSpec(`${deb},${deb2}`), { kind: 'debs', paths: [deb, deb2] })
  t.same(parseKernelSpec(join(dir, 'tree')), { kind: 'tree', dir: join(dir, 'tree') })
  for (const bad of ['6', 'linux', join(dir, 'nope.deb'), join(dir, 'nope'), 'LINUX-IMAGE-X']) {
    t.throws(() => parseKernelSpec(bad), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'kernel' }, bad)
  }
  t.equal(formatKernelSpec(parseKernelSpec('bpo-latest')), 'bpo-latest')
  t.equal(formatKernelSpec(parseKernelSpec('linux-image-x-amd64=1.0')), 'linux-image-x-amd64=1.0')
})

t.test('build:SOURCE[+PATCH], image:DIR and pkg:NAME are kernel specs too (reproduce and the matrix share them)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-kspec-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const src = join(dir, 'linux-source-6.12_6.12.117-1_all.deb')
  writeFileSync(src, '')
  mkdirSync(join(dir, 'img'))
  writeFileSync(join(dir, 'img', 'image.json'), '{}')
  t.same(parseKernelSpec('build:6.12'), { kind: 'build', source: '6.12' })
  t.same(parseKernelSpec('build:6.12+none'), { kind: 'build', source: '6.12' })
  t.same(parseKernelSpec('build:7.2+seed-bio-qos'), { kind: 'build', source: '7.2', patch: 'seed-bio-qos' })
  t.same(parseKernelSpec(`build:${src}+seed-bio-qos`), { kind: 'build', source: src, patch: 'seed-bio-qos' })
  t.same(parseKernelSpec(`image:${join(dir, 'img')}`), { kind: 'image', dir: join(dir, 'img') })
  t.same(parseKernelSpec('pkg:linux-image-6.12.117+deb13-amd64'), { kind: 'package', pkg: 'linux-image-6.12.117+deb13-amd64' })
  t.equal(formatKernelSpec(parseKernelSpec('build:6.12+seed-bio-qos')), 'build:6.12+seed-bio-qos')
  t.equal(formatKernelSpec(parseKernelSpec(`image:${join(dir, 'img')}`)), `image:${join(dir, 'img')}`)
  t.same(parseKernelList('6.1,build:6.12+seed-bio-qos'), ['6.1', 'build:6.12+seed-bio-qos'], 'the matrix takes build specs')
  for (const bad of ['build:', 'build:+seed-bio-qos', 'build:6.12+nosuchpatch', 'build:6', 'build:linux.zip', `build:${join(dir, 'missing.deb')}`, `image:${dir}`, 'pkg:linux']) {
    t.throws(() => parseKernelSpec(bad), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'kernel' }, bad)
  }
})

t.test('a kernel build cache directory resolves to its tree, with the release and the tree dir', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmf-kspec-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const tree = join(dir, 'tree')
  mkdirSync(join(tree, 'include', 'config'), { recursive: true })
  writeFileSync(join(dir, 'build.json'), '{}')
  writeFileSync(join(tree, 'vmlinux'), 'ELF')
  writeFileSync(join(tree, '.config'), 'CONFIG_PVH=y\n')
  writeFileSync(join(tree, 'include', 'config', 'kernel.release'), '6.12.117\n')
  for (const spec of [dir, tree]) {
    const c = await chooseKernel(parseKernelSpec(spec), { vmDebsDir: join(dir, 'debs') })
    t.match(c, { kind: 'tree', tree: { dir: tree, vmlinux: join(tree, 'vmlinux'), config: join(tree, '.config'), release: '6.12.117' } }, spec)
  }
  await t.rejects(chooseKernel({ kind: 'image', dir }, { vmDebsDir: dir }), { code: 'ERR_NVMEOF_CONFIG' }, 'an image is no kernel to build from')
})

t.test('the environment selects the kernel; NVMF_FAULT_KERNEL wins over the older variables', async (t) => {
  t.same(kernelSpecFromEnv({}), { kind: 'default' })
  t.same(kernelSpecFromEnv({ NVMF_FAULT_KERNEL_PKG: 'linux-image-6.12.117+deb13-amd64' }), { kind: 'package', pkg: 'linux-image-6.12.117+deb13-amd64' })
  t.same(kernelSpecFromEnv({ NVMF_FAULT_KERNEL: '6.12', NVMF_FAULT_KERNEL_PKG: 'linux-image-x-amd64' }), { kind: 'series', series: '6.12' })
  t.throws(() => kernelSpecFromEnv({ NVMF_FAULT_KERNEL_DEB: '/nonexistent/k.deb' }), { code: 'ERR_NVMEOF_INVALID_ARG' })
})

t.test('--kernels lists', async (t) => {
  t.same(parseKernelList('all'), MATRIX_KERNELS)
  t.same(parseKernelList('6.1, 6.12,6.1'), ['6.1', '6.12'])
  t.throws(() => parseKernelList(''), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'kernels' })
  t.throws(() => parseKernelList('6.1,bogus'), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'kernel' })
})

t.test('Debian version order (dpkg --compare-versions)', async (t) => {
  const ascending = ['6.1.176-1', '6.1.192-3', '6.12.107-1', '6.12.117-1', '6.17.8-1~bpo13+1', '6.17.13-1~bpo13+1', '7.3.4-1~bpo13+1', '7.3.4-1', '1:0.1-1']
  for (let i = 1; i < ascending.length; i++) {
    t.ok(compareDebVersions(ascending[i - 1] as string, ascending[i] as string) < 0, `${ascending[i - 1]} < ${ascending[i]}`)
    t.ok(compareDebVersions(ascending[i] as string, ascending[i - 1] as string) > 0)
  }
  t.equal(compareDebVersions('2.4+really2.3-3', '2.4+really2.3-3'), 0)
  t.ok(compareDebVersions('1.0~rc1', '1.0') < 0)
  t.ok(compareDebVersions('1.0a', '1.0+') < 0, 'letters sort before other characters')
})

t.test('the release string of a bzImage setup header', async (t) => {
  const b = Buffer.alloc(0x1000)
  b.write('HdrS', 0x202, 'latin1')
  b.writeUInt16LE(0x800 - 0x200, 0x20e)
  b.write('6.12.117+deb13-amd64 (debian-kernel@lists.debian.org) #1 SMP\0', 0x800, 'latin1')
  t.equal(bzImageRelease(b), '6.12.117+deb13-amd64')
  t.equal(bzImageRelease(Buffer.alloc(0x300)), undefined, 'no HdrS: not a bzImage')
})

t.test('matrix: a file is judged from tap exit code and summary; the table lists versions', async (t) => {
  const ok = parseTapRun('test/interop/a.test.ts', 0, 'ok 1 - a\n# { total: 40, pass: 40 }\n', 61_000)
  t.match(ok, { status: 'pass', total: 40, pass: 40, fail: 0 })
  const bad = parseTapRun('test/interop/b.test.ts', 1, 'not ok 1 - b\n# { total: 5, pass: 4, fail: 1 }\n', 1000)
  t.match(bad, { status: 'fail', fail: 1 })
  const skip = parseTapRun('test/interop/c.test.ts', 0, 'ok 1 - c # SKIP interop suite skipped: no qemu\n# { total: 1, skip: 1 }\n', 10)
  t.match(skip, { status: 'skip', reason: 'interop suite skipped: no qemu' })
  t.match(parseTapRun('x', 0, 'garbage', 1), { status: 'fail' }, 'no summary: the runner crashed')
  const table = formatMatrix([
    { spec: '6.1', release: '6.1.0-57-amd64', kernelPackage: 'p', nvmeCli: '2.3', results: [ok, bad, skip] },
    { spec: '7.9', error: 'no such kernel', results: [] },
  ])
  t.match(table, /\| kernel release \| 6\.1\.0-57-amd64 +\| \(no such kernel\) +\|/)
  t.match(table, /\| a\.test\.ts +\| pass 40\/40 \(61 s\) +\| - +\|/)
  t.match(table, /\| \*\*total\*\* +\| 1 pass, 1 fail, 1 skip +\| 0 pass, 0 fail, 0 skip \|/)
})
