/** A real target on 127.0.0.1:0 with the fault engine attached, for the fault tests. */
import type { Test } from 'tap'
import type { Clock } from '../../../lib/clock.js'
import { createTarget, type TargetConfig, type TargetHandle } from '../../../target/index.js'
import { attachFaults, type FaultsHandle } from '../../../faults/attach.js'
import { RawHost } from './raw-host.js'

export const SUBNQN = 'nqn.2026-01.io.nvmf-fault:faults-test'

export interface Fixture {
  target: TargetHandle
  faults: FaultsHandle
  port: number
  /** A raw host with an enabled admin queue on port `portIndex` (cntlid returned). */
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
    for (const h of hosts) h.close()
    await faults.close()
    await target.close()
  })
  const portOf = (i = 0): number => target.ports[i]!.port
  const admin: Fixture['admin'] = async (o = {}) => {
    const host = await RawHost.open(portOf(o.portIndex))
    hosts.push(host)
    const r = await host.connectAdmin(SUBNQN, { ...(o.hdgst !== undefined ? { hdgst: o.hdgst } : {}), ...(o.ddgst !== undefined ? { ddgst: o.ddgst } : {}) })
    if (r.cqe.status !== 0) throw new Error(`admin Connect failed: status 0x${r.cqe.status.toString(16)}`)
    await host.enable()
    return { host, cntlid: r.cqe.dw0 & 0xffff }
  }
  return {
    target,
    faults,
    port: portOf(0),
    admin,
    io: async (o = {}) => {
      const a = await admin({ ...(o.portIndex !== undefined ? { portIndex: o.portIndex } : {}) })
      const host = await RawHost.open(portOf(o.portIndex))
      hosts.push(host)
      const r = await host.connectIo(SUBNQN, a.cntlid, 1, { ...(o.hdgst !== undefined ? { hdgst: o.hdgst } : {}), ...(o.ddgst !== undefined ? { ddgst: o.ddgst } : {}) })
      if (r.cqe.status !== 0) throw new Error(`I/O Connect failed: status 0x${r.cqe.status.toString(16)}`)
      return { admin: a.host, host, cntlid: a.cntlid }
    },
  }
}
