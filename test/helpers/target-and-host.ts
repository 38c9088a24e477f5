/**
 * Our target on 127.0.0.1 (one port, one 4 MiB namespace of 512-byte blocks, any host allowed) and
 * our host connected to it, both closed at the end of the test: the rig of the tests that drive I/O
 * through the whole stack.
 */
import type { Test } from 'tap'
import { createTarget } from '../../target/index.js'
import { NvmeHost } from '../../initiator/host.js'
import type { ControllerConnectOptions } from '../../initiator/index.js'

export async function targetAndHost(t: Test, subnqn: string, connect: Partial<ControllerConnectOptions> = {}) {
  const target = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: subnqn, allowAnyHost: true, namespaces: [{ nsid: 1, size: '4MiB', blockSize: 512 }] }],
  })
  const host = new NvmeHost({ checkInvariants: true })
  t.teardown(async () => {
    await host.close()
    await target.close()
  })
  await host.connect({ traddr: '127.0.0.1', trsvcid: target.ports[0]!.port, subnqn, ...connect })
  return { target, host, dev: host.device(1, subnqn)! }
}
