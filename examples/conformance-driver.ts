/**
 * A conformance driver (docs/conformance-driver.md) around our own initiator: the runner starts it
 * with the target's address, ports, NQNs and a workload file; it prints JSON lines (DriverEvent) on
 * stdout and disconnects on SIGTERM. Any other initiator is wrapped the same way.
 *
 *   nvmf-fault conformance --initiator 'driver:node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs examples/conformance-driver.ts'
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { NvmfFaultDriver } from '../conformance/drivers/nvmf-fault.js'
import type { DriverEvent, DriverWorkload } from '../conformance/driver-types.js'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      traddr: { type: 'string' },
      trsvcid: { type: 'string', multiple: true },
      subnqn: { type: 'string' },
      hostnqn: { type: 'string' },
      hostid: { type: 'string' },
      workload: { type: 'string' },
    },
  })
  if (values.traddr === undefined || values.trsvcid === undefined || values.subnqn === undefined || values.hostnqn === undefined || values.workload === undefined) {
    throw new Error('usage: --traddr A --trsvcid P [--trsvcid P]... --subnqn N --hostnqn H [--hostid U] --workload FILE')
  }
  const workload = JSON.parse(await readFile(values.workload, 'utf8')) as DriverWorkload
  const print = (e: DriverEvent): void => void process.stdout.write(JSON.stringify(e) + '\n')
  const driver = new NvmfFaultDriver({ seed: Number.parseInt(workload.pattern.replace(/^seed:/, ''), 10) || 1 })
  // The runner ends the run with SIGTERM: stop the workload, disconnect, print `done`, exit 0.
  const stop = (): void => {
    driver.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        print({ kind: 'done', ok: false, detail: String(err) })
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', stop)
  await driver.start(
    { traddr: values.traddr, trsvcids: values.trsvcid.map((p) => Number.parseInt(p, 10)), subnqn: values.subnqn, hostnqn: values.hostnqn, ...(values.hostid !== undefined ? { hostid: values.hostid } : {}) },
    workload,
    print,
  )
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`)
  process.exit(1)
})
