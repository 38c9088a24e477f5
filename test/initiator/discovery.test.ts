/**
 * Discovery against our target: the log read in pages with the generation check, referrals followed
 * to a second target, connect-all, and a persistent discovery controller reacting to the
 * discovery-change AEN (a port added at run time is connected automatically).
 */
import t from 'tap'
import { createTarget } from '../../target/index.js'
import { NvmeHost } from '../../initiator/host.js'

const A = 'nqn.2026-01.io.nvmf-fault:disc-a'
const B = 'nqn.2026-01.io.nvmf-fault:disc-b'
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
// Positive waits only: a generous bound (loaded 2-core machines); it costs time only when a test fails.
async function waitFor(cond: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end && !cond()) await sleep(5)
  return cond()
}

t.test('discover, referrals, connect-all, persistent discovery', async (t) => {
  const tb = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: B, allowAnyHost: true, namespaces: [{ nsid: 1, size: '256KiB', blockSize: 512 }] }],
  })
  t.teardown(() => tb.close())
  const ta = await createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0 },
    ],
    subsystems: [{ nqn: A, allowAnyHost: true, namespaces: [{ nsid: 1, size: '256KiB', blockSize: 512 }] }],
    referrals: [{ address: '127.0.0.1', port: tb.ports[0]!.port }],
  })
  t.teardown(() => ta.close())
  const host = new NvmeHost({ checkInvariants: true })
  t.teardown(() => host.close())
  const pa = ta.ports[0]!.port

  // Small windows (1 entry per Get Log Page) exercise the paged read.
  const entries = await host.discover({ traddr: '127.0.0.1', trsvcid: pa, entriesPerRead: 1 })
  const nvme = entries.filter((e) => e.subtype === 2)
  t.same(nvme.filter((e) => e.subnqn === A).map((e) => Number(e.trsvcid)).sort(), ta.ports.map((p) => p.port).sort(), 'both ports of A listed')
  t.ok(entries.some((e) => e.subtype === 1 && Number(e.trsvcid) === tb.ports[0]!.port), 'referral to the second target listed')
  t.ok(nvme.some((e) => e.subnqn === B && e.source === `127.0.0.1:${tb.ports[0]!.port}`), 'referral followed: B found through it')
  t.equal(host.controllers().length, 0, 'discovery controllers are gone afterwards')

  const r = await host.connectAll({ traddr: '127.0.0.1', trsvcid: pa })
  t.equal(r.failed.length, 0)
  t.equal(r.connected.length, 3, 'A twice (two ports), B once')
  t.equal(host.device(1, A)?.head.paths.length, 2, 'A is one device with two paths')
  t.equal(host.device(1, B)?.head.paths.length, 1)
  const again = await host.connectAll({ traddr: '127.0.0.1', trsvcid: pa })
  t.equal(again.connected.length, 0, 'connect-all skips what is already connected')

  // Persistent discovery: a new port of A appears → discovery-change AEN → re-read → auto-connect.
  const changes: number[] = []
  const pd = await host.connectPersistentDiscovery({ traddr: '127.0.0.1', trsvcid: pa, autoConnect: true, onChange: (e) => changes.push(e.length) })
  t.teardown(() => pd.close())
  const before = changes.length
  const np = await ta.addPort({ id: 3, address: '127.0.0.1', port: 0 })
  t.ok(await waitFor(() => changes.length > before), 'discovery log re-read after the change AEN')
  t.ok(await waitFor(() => host.device(1, A)?.head.paths.length === 3), 'new port connected automatically: three paths')
  t.ok(host.controllers(A).some((c) => c.options.trsvcid === np.port))
})
