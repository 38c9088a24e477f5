/** A real target on 127.0.0.1:0 with the fault engine attached, for the fault tests. */
import type { Test } from 'tap'
import type { Clock } from '../../../lib/clock.js'
import { createTarget, type TargetConfig, type TargetHandle } from '../../../target/index.js'
import { attachFaults, type FaultsHandle } from '../../../faults/attach.js'
import { RawHost } from '../../helpers/raw-host.js'

export const SUBNQN = 'nqn.2026-01.io.nvmf-fault:faults-test'

export interface Fixture {
  target: TargetHandle
  faults: FaultsHandle
  port: number
  /** A raw host (keeping PDUs with bad digests, for corrupt faults) with an enabled admin queue on port `portIndex`. */
  admin(opts?: { hdgst?: boolean; ddgst?: boolean; portIndex?: number }): Promise<{ host: RawHost; cntlid: number }>
  /** Admin queue + one I/O queue (qid 1). */
  io(opts?: { hdgst?: boolean; ddgst?: boolean; portIndex?: number }): Promise<{ admin: RawHost; host: RawHost; cntlid: number }>
}

export async function fixture(t: Test, opts: { config?: Partial<TargetConfig>; seed?: number; clock?: Clock; recordPdus?: boolean; control?: string } = {}): Promise<Fixture> {
  const target = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '16MiB' }] }],
    ...opts.config,
  })
  const faults = await attachFaults(target, {
    seed: opts.seed ?? 1,
    ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
    ...(opts.recordPdus !== undefined ? { recordPdus: opts.recordPdus } : {}),
    ...(opts.control !== undefined ? { control: opts.control } : {}),
  })
  const hosts: RawHost[] = []
  t.teardown(async () => {
    for (const h of hosts) h.destroy()
    await faults.close()
    await target.close()
  })
  const portOf = (i = 0): number => target.ports[i]!.port
  const admin: Fixture['admin'] = async (o = {}) => {
    const host = await RawHost.connect({ port: portOf(o.portIndex), hdgst: o.hdgst === true, ddgst: o.ddgst === true, acceptBadDigests: true })
    hosts.push(host)
    // connectAdmin throws unless the Connect succeeds, then sets CC.EN and waits for CSTS.RDY.
    return { host, cntlid: await host.connectAdmin({ subnqn: SUBNQN }) }
  }
  return {
    target,
    faults,
    port: portOf(0),
    admin,
    io: async (o = {}) => {
      const a = await admin({ ...(o.portIndex !== undefined ? { portIndex: o.portIndex } : {}) })
      const host = await RawHost.connect({ port: portOf(o.portIndex), hdgst: o.hdgst === true, ddgst: o.ddgst === true, acceptBadDigests: true })
      hosts.push(host)
      await host.connectIo({ subnqn: SUBNQN, cntlid: a.cntlid, qid: 1 })
      return { admin: a.host, host, cntlid: a.cntlid }
    },
  }
}
