/**
 * A target process for the durability test: one subsystem whose namespace 1 is the file named by
 * NVMF_DURABLE_FILE, on 127.0.0.1:0; prints `PORT <n> PID <pid>` once listening, then serves until killed.
 * Does nothing unless NVMF_DURABLE_CHILD=1, since the test runner also loads every file under test/.
 */
import { createTarget } from '../../../target/index.js'

export const DURABLE_NQN = 'nqn.2014-08.org.nvmf-fault:durable'

if (process.env['NVMF_DURABLE_CHILD'] === '1') {
  const path = process.env['NVMF_DURABLE_FILE']
  if (path === undefined) throw new Error('NVMF_DURABLE_FILE is not set')
  const target = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: DURABLE_NQN, namespaces: [{ nsid: 1, size: '4MiB', store: { type: 'file', path } }] }],
  })
  process.stdout.write(`PORT ${target.ports[0]!.port} PID ${process.pid}\n`)
}
