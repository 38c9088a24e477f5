/**
 * The discovery subsystem through a real socket, read the way libnvme reads it: Identify (CNTRLTYPE
 * 2), the 20-byte header, entries from offset 1024 in 4 KiB chunks, GENCTR; one entry per port x
 * subsystem, advertised addresses, host filtering, referrals; keep-alive with the discovery KATO.
 */
import t from 'tap'
import { RawHost, HOSTNQN } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN, DISC_NQN } from './helpers/fixture.js'
import { Cns, LogPageId, AdminOpcode } from '../../lib/nvme/opcodes.js'
import { decodeIdentifyController } from '../../lib/nvme/identify-controller.js'
import { decodeDiscoveryLogEntry, DISCOVERY_LOG_ENTRY_SIZE } from '../../lib/nvme/log-discovery.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'

async function readDiscoveryLog(c: RawHost): Promise<{ genctr: bigint; entries: ReturnType<typeof decodeDiscoveryLogEntry>[] }> {
  const hdr = (await c.getLogPage(LogPageId.DISCOVERY, 20, { nsid: 0, rae: true })).data
  const genctr = hdr.readBigUInt64LE(0)
  const numrec = Number(hdr.readBigUInt64LE(8))
  const all: Buffer[] = []
  const total = numrec * DISCOVERY_LOG_ENTRY_SIZE
  for (let off = 0; off < total; off += 4096) {
    const len = Math.min(4096, total - off)
    const r = await c.getLogPage(LogPageId.DISCOVERY, len, { nsid: 0, offset: 1024 + off, rae: off + len < total })
    if (r.cqe.status !== 0) throw new Error(`log status ${r.cqe.status}`)
    all.push(r.data)
  }
  const buf = Buffer.concat(all)
  const entries = []
  for (let i = 0; i < numrec; i++) entries.push(decodeDiscoveryLogEntry(buf, i * DISCOVERY_LOG_ENTRY_SIZE))
  return { genctr, entries }
}

t.test('discovery log: entries per port x subsystem, advertised address, referrals', async (t) => {
  const other = 'nqn.2014-08.org.nvmf-fault:private'
  const target = await startTarget(t, {
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0, advertise: { address: '10.0.2.2', port: 14421 } },
    ],
    subsystems: [
      { nqn: SUBNQN, namespaces: [{ nsid: 1, size: '1MiB' }] },
      { nqn: other, allowAnyHost: false, hosts: ['nqn.2014-08.org.example:someone-else'], namespaces: [{ nsid: 1, size: '1MiB' }] },
    ],
    referrals: [{ address: '192.0.2.10', port: 8009, portId: 1 }],
  })
  const d = await RawHost.connect({ port: portOf(target) })
  t.teardown(() => d.destroy())
  const cntlid = await d.connectAdmin({ subnqn: DISC_NQN })
  const st = target.status().controllers.find((c) => c.cntlid === cntlid)
  t.equal(st?.discovery, true)
  t.equal(st?.kato, 120000, 'discovery KATO 0 → 120 s (nvmet)')
  const id = decodeIdentifyController((await d.identify(Cns.CONTROLLER)).data)
  t.equal(id.cntrltype, 2, 'discovery controller')
  t.equal(id.subnqn, DISC_NQN)
  t.equal(id.oaes >>> 0, 0x80000000, 'OAES discovery change')
  t.equal((await d.identify(Cns.NAMESPACE, 1)).cqe.status, NvmeStatus.INVALID_FIELD | STATUS_DNR, 'only CNS 01h on discovery')

  const log = await readDiscoveryLog(d)
  t.equal(log.entries.length, 4, 'current discovery + 2 ports x 1 visible subsystem + 1 referral')
  const [cur, p1, p2, ref] = log.entries
  t.equal(cur?.subtype, 3, 'first: current discovery subsystem')
  t.equal(cur?.subnqn, DISC_NQN)
  t.equal(p1?.subtype, 2)
  t.equal(p1?.subnqn, SUBNQN)
  t.equal(p1?.portid, 1, 'this port first')
  t.equal(p1?.trsvcid, String(portOf(target, 1)))
  t.equal(p1?.traddr, '127.0.0.1')
  t.equal(p1?.trtype, 3, 'TCP')
  t.equal(p1?.adrfam, 1, 'IPv4')
  t.equal(p1?.cntlid, 0xffff, 'dynamic controller model')
  t.equal(p2?.portid, 2)
  t.equal(p2?.traddr, '10.0.2.2', 'advertised address')
  t.equal(p2?.trsvcid, '14421', 'advertised port')
  t.equal(ref?.subtype, 1, 'referral')
  t.equal(ref?.traddr, '192.0.2.10')
  t.notOk(log.entries.some((e) => e.subnqn === other), 'subsystem the host may not use is hidden')

  // GENCTR changes when the set of entries changes.
  await target.addPort({ id: 3, address: '127.0.0.1', port: 0 })
  const log2 = await readDiscoveryLog(d)
  t.ok(log2.genctr > log.genctr, 'GENCTR bumped')
  t.equal(log2.entries.filter((e) => e.subtype === 2).length, 3, 'new port listed')
  await target.removePort(3)
  t.equal((await readDiscoveryLog(d)).entries.filter((e) => e.subtype === 2).length, 2, 'port removed')

  // Through port 2 the current entry is port 2's.
  const d2 = await RawHost.connect({ port: portOf(target, 2) })
  t.teardown(() => d2.destroy())
  await d2.connectAdmin({ subnqn: DISC_NQN, hostnqn: HOSTNQN })
  const via2 = await readDiscoveryLog(d2)
  t.equal(via2.entries[0]?.portid, 2)
  t.equal(via2.entries[0]?.traddr, '10.0.2.2')
  t.equal(via2.entries.filter((e) => e.subtype === 1).length, 0, 'referral only on port 1')

  // Odd windows, unknown log, I/O-only commands.
  const w = await d.getLogPage(LogPageId.DISCOVERY, 8, { nsid: 0, offset: 8 })
  t.equal(w.data.readBigUInt64LE(0), 4n, 'NUMREC read at offset 8')
  t.equal((await d.getLogPage(LogPageId.ANA, 4096)).cqe.status, NvmeStatus.INVALID_LOG_PAGE | STATUS_DNR, 'no ANA log on discovery')
  t.equal((await d.admin(AdminOpcode.KEEP_ALIVE)).cqe.status, 0, 'keep alive')
})
