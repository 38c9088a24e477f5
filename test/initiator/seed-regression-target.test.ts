/**
 * The seed regression over TCP against our target: the second path is gone (its controller was
 * disconnected), a write passes path 1's write throttle and is held by the target (hook: drop), then
 * the target deletes path 1's controller. The write comes back with Command Aborted By Host (0x371),
 * fails over to the head, and the requeue finds no path: path 1's controller is reconnecting with
 * fastIoFailTmo 0, so it no longer counts as a path that may come back ("no available path - failing
 * I/O"), and the write fails. The QoS accounting must balance and the invariant checker stay silent;
 * with `internal.clearQosFlagsOnFailover: false` the checker reports the nvme/058 bug.
 */
import t from 'tap'
import { createTarget } from '../../target/index.js'
import { NvmeHost } from '../../initiator/host.js'
import type { InvariantViolation } from '../../initiator/qos/invariant-checker.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:seed-tcp'

async function scenario(clearQosFlagsOnFailover: boolean): Promise<{ outcome: PromiseSettledResult<void>; violations: InvariantViolation[]; leaks: InvariantViolation[]; throttled: number }> {
  let held = 0
  const target = await createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0 },
    ],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '1MiB', blockSize: 512 }] }],
    hooks: {
      onCommand(ctx, cmd) {
        // Hold every write on port 1 (never completed) so the controller deletion catches it in flight.
        if (ctx.portId === 1 && cmd.kind === 'io' && cmd.opc === 0x01) {
          held++
          return { action: 'drop' }
        }
        return { action: 'pass' }
      },
    },
  })
  const host = new NvmeHost({
    checkInvariants: true,
    qos: { writeThrottle: { maxDepth: 1 } },
    controllerDefaults: { reconnectDelayMs: 5000, ctrlLossTmoMs: 60_000, fastIoFailTmoMs: 0, kato: 5000 },
    internal: { clearQosFlagsOnFailover },
  })
  try {
    const ports = target.ports.map((p) => p.port)
    const c1 = await host.connect({ traddr: '127.0.0.1', trsvcid: ports[0]!, subnqn: SUBNQN, distance: 0 })
    const c2 = await host.connect({ traddr: '127.0.0.1', trsvcid: ports[1]!, subnqn: SUBNQN })
    const dev = host.devices()[0]!
    const p1 = dev.head.paths.find((p) => p.backend === c1)!
    // Every other path unusable: path 2's controller goes away cleanly.
    await host.disconnect(c2)
    const w = dev.write(0, Buffer.alloc(512, 0x42))
    for (const end = Date.now() + 30_000; Date.now() < end && held === 0; ) await new Promise((r) => setTimeout(r, 2))
    const throttled = p1.qos.policy('wbt')?.stats?.()['throttled'] as number
    target.deleteControllers({ portId: 1 })
    const [outcome] = await Promise.allSettled([w])
    const violations = [...(host.checker?.violations ?? [])]
    const leaks = host.checker?.checkQuiescent([p1.qos]) ?? []
    return { outcome: outcome!, violations, leaks, throttled }
  } finally {
    await host.close()
    await target.close()
  }
}

t.test('with the fix: the write fails (no path), accounting balanced, checker silent', async (t) => {
  const r = await scenario(true)
  t.equal(r.throttled, 1, 'the write passed the throttle hook of path 1')
  t.equal(r.outcome.status, 'rejected', 'write failed')
  if (r.outcome.status === 'rejected') t.comment(`write failed with: ${(r.outcome.reason as Error).message}`)
  if (r.outcome.status === 'rejected') t.match(String((r.outcome.reason as Error).message), /no available path/)
  t.same(r.violations, [], 'invariant checker silent')
  t.same(r.leaks, [], 'path 1 QoS back to zero')
})

t.test('without the fix: the checker reports the flagged completion on the head and the leaked charge', async (t) => {
  const r = await scenario(false)
  t.equal(r.outcome.status, 'rejected')
  t.ok(r.violations.some((v) => v.kind === 'no-qos-completion'), 'no-qos-completion reported')
  t.ok(r.leaks.some((v) => v.kind === 'leak'), 'path 1 charge leaked')
})
