/**
 * `npm run test:interop [-- --kernels all|LIST] [--nvme-cli system|trixie] [FILES...]`
 *
 * Without --kernels: the interop suite (test/interop/*.test.ts, or FILES) on the kernel the
 * environment selects (NVMF_FAULT_KERNEL, default: this machine's linux-image-amd64), through tap.
 *
 * With --kernels: for each kernel in turn (never two at once: each file boots its own VMs), build
 * its guest image, run every interop test file against it (NVMF_FAULT_KERNEL=<spec>), and print a
 * table kernel × test with the kernel release and the guest's nvme-cli version. Logs of every run go
 * to ${NVMF_FAULT_CACHE:-~/.cache/nvmf-fault}/matrix/<time>/. Exit status 1 if any test failed.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { cacheRoot } from '../../kernel/cache.js'
import { parseKernelList } from '../../kernel/kernel-spec.js'
import { ensureVmImage } from '../../kernel/vm-image.js'
import { formatMatrix, parseTapRun, type FileResult, type KernelColumn } from './fixtures/matrix-report.js'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '..', '..')
const tapBin = join(repo, 'node_modules', '.bin', 'tap')

function run(args: readonly string[], env: NodeJS.ProcessEnv, echo: boolean): Promise<{ rc: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(tapBin, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const take = (b: Buffer): void => {
      if (output.length < 32 * 1024 * 1024) output += b.toString('utf8')
      if (echo) process.stdout.write(b)
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    // Ctrl-C: tap ends its children (and they their VMs) on SIGINT.
    const forward = (): void => {
      child.kill('SIGINT')
    }
    process.once('SIGINT', forward)
    child.on('close', (rc) => {
      process.removeListener('SIGINT', forward)
      resolve({ rc, output })
    })
  })
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      kernels: { type: 'string' },
      'nvme-cli': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: false,
  })
  if (values.help === true) {
    process.stdout.write('usage: npm run test:interop [-- --kernels all|6.1,6.12,... ] [--nvme-cli system|trixie] [test files...]\n')
    return 0
  }
  const env: NodeJS.ProcessEnv = { ...process.env }
  if (typeof values['nvme-cli'] === 'string') env.NVMF_FAULT_GUEST_NVME_CLI = values['nvme-cli']
  const files = positionals.length > 0 ? positionals : readdirSync(here).filter((f) => f.endsWith('.test.ts')).sort().map((f) => relative(repo, join(here, f)))
  if (typeof values.kernels !== 'string') {
    // One kernel: plain tap over the suite (its own reporter, its own parallelism).
    return (await run(files, env, true)).rc ?? 1
  }

  const kernels = parseKernelList(values.kernels)
  const logDir = join(cacheRoot(), 'matrix', new Date().toISOString().replace(/[:.]/g, '-'))
  mkdirSync(logDir, { recursive: true })
  process.stdout.write(`kernel matrix: ${kernels.join(', ')}; ${files.length} test files each; logs in ${logDir}\n`)
  const columns: KernelColumn[] = []
  for (const spec of kernels) {
    const col: KernelColumn = { spec, results: [] }
    columns.push(col)
    try {
      const img = await ensureVmImage({ kernel: spec, ...(typeof env.NVMF_FAULT_GUEST_NVME_CLI === 'string' ? { nvmeCli: env.NVMF_FAULT_GUEST_NVME_CLI } : {}), log: (l) => process.stdout.write(`[${spec}] ${l}\n`) })
      col.release = img.kernelRelease
      col.kernelPackage = img.kernelPackage
      col.nvmeCli = /^nvme version (\S+)/.exec(img.nvmeCliVersion)?.[1] ?? img.nvmeCliVersion
    } catch (e) {
      col.error = e instanceof Error ? e.message.split('\n')[0] ?? String(e) : String(e)
      process.stdout.write(`[${spec}] no image: ${col.error}\n`)
      continue
    }
    const kdir = join(logDir, spec.replace(/[^A-Za-z0-9.+-]/g, '_'))
    mkdirSync(kdir, { recursive: true })
    for (const file of files) {
      const t0 = performance.now()
      const r = await run(['--reporter=tap', file], { ...env, NVMF_FAULT_KERNEL: spec }, false)
      const res: FileResult = parseTapRun(file, r.rc, r.output, Math.round(performance.now() - t0))
      writeFileSync(join(kdir, `${file.replace(/\//g, '_')}.tap`), r.output)
      col.results.push(res)
      process.stdout.write(`[${spec}] ${res.status.padEnd(4)} ${file} (${res.pass}/${res.total}, ${(res.durationMs / 1000).toFixed(0)} s)${res.reason !== undefined ? ` skip: ${res.reason}` : ''}\n`)
    }
  }
  const table = formatMatrix(columns)
  writeFileSync(join(logDir, 'matrix.md'), table + '\n')
  writeFileSync(join(logDir, 'matrix.json'), JSON.stringify(columns, null, 2) + '\n')
  process.stdout.write(`\n${table}\n\n(logs: ${logDir})\n`)
  const failed = columns.some((c) => c.error !== undefined || c.results.some((r) => r.status === 'fail'))
  return failed ? 1 : 0
}

process.exitCode = await main()
