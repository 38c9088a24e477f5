/** Test fixture: a target on 127.0.0.1:0 with one subsystem and small memory namespaces. */
import type { Test } from 'tap'
import { createTarget, type TargetHandle, type TargetOptions } from '../../../target/index.js'
import { seededRandom } from '../../../lib/clock.js'

export const SUBNQN = 'nqn.2014-08.org.nvmf-fault:test'
export const DISC_NQN = 'nqn.2014-08.org.nvmexpress.discovery'

export function testOptions(extra: Partial<TargetOptions> = {}): TargetOptions {
  return {
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0 },
    ],
    subsystems: [
      {
        nqn: SUBNQN,
        serial: 'TESTSERIAL01',
        anaGroups: [1, 2],
        namespaces: [
          { nsid: 1, size: '8MiB', anaGroup: 1, uuid: '11111111-2222-4333-8444-555555555555' },
          { nsid: 2, size: '4MiB', anaGroup: 2, blockSize: 4096 },
        ],
      },
    ],
    random: seededRandom('target-tests'),
    ...extra,
  }
}

export async function startTarget(t: Test, extra: Partial<TargetOptions> = {}): Promise<TargetHandle> {
  const target = await createTarget(testOptions(extra))
  t.teardown(() => target.close())
  return target
}

export function portOf(target: TargetHandle, id = 1): number {
  const p = target.ports.find((x) => x.id === id)
  if (p === undefined) throw new Error(`no port ${id}`)
  return p.port
}
