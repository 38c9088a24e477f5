/**
 * A loopback capture of an integration run (both directions recorded from the test client into
 * lib/pcap.ts PcapWriter) decodes in tshark as NVMe/TCP with no malformed packet and no expert
 * error, with digests off and on (digests verified by the dissector).
 */
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PcapWriter } from '../../lib/pcap.js'
import { RawHost } from '../helpers/raw-host.js'
import { startTarget, portOf, SUBNQN, DISC_NQN } from './helpers/fixture.js'
import { decodeNvmeTcpPcap, expertErrors, findTshark, TSHARK_SKIP } from '../helpers/tshark.js'
import { Cns, LogPageId, IoOpcode } from '../../lib/nvme/opcodes.js'
import { makeSqe } from '../../lib/nvme/sqe.js'

const tshark = findTshark()

t.test('capture decodes in tshark without malformed packets', { skip: tshark === undefined ? TSHARK_SKIP : false }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nvmf-capture-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const target = await startTarget(t, { maxH2CData: 16384 })
  const port = portOf(target)
  const pcap = new PcapWriter({ mss: 1460 })
  let clientPort = 40000
  const client = async (o: { hdgst?: boolean; ddgst?: boolean } = {}): Promise<{ c: RawHost; close: () => void }> => {
    const flow = pcap.flow({ client: { addr: '127.0.0.1', port: clientPort++ }, server: { addr: '127.0.0.1', port } })
    const c = await RawHost.connect({ port, ...o, onTx: (b) => flow.fromClient(b), onRx: (b) => flow.fromServer(b) })
    t.teardown(() => c.destroy())
    return { c, close: () => flow.close() }
  }
  // Discovery, admin, I/O with and without digests.
  const d = await client()
  await d.c.connectAdmin({ subnqn: DISC_NQN })
  await d.c.getLogPage(LogPageId.DISCOVERY, 4096, { nsid: 0 })
  d.close()
  for (const dg of [{ hdgst: false, ddgst: false }, { hdgst: true, ddgst: true }]) {
    const a = await client(dg)
    const cntlid = await a.c.connectAdmin({ subnqn: SUBNQN })
    await a.c.identify(Cns.CONTROLLER)
    await a.c.identify(Cns.NAMESPACE, 1)
    await a.c.getLogPage(LogPageId.ANA, 4096)
    const io = await client(dg)
    await io.c.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid })
    const data = Buffer.alloc(65536)
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff
    t.equal((await io.c.write(1, 0n, data)).cqe.status, 0, 'R2T write')
    t.equal((await io.c.write(1, 200n, data.subarray(0, 4096), { inCapsule: true })).cqe.status, 0, 'in-capsule write')
    t.ok((await io.c.read(1, 0n, 128)).data.equals(data), 'read')
    await io.c.command(makeSqe({ opc: IoOpcode.FLUSH, cid: io.c.nextCid(), nsid: 1 }))
    t.equal((await io.c.read(1, 99999n, 1)).cqe.status & 0xff, 0x80, 'an error completion too')
    io.close()
    a.close()
  }
  const file = join(dir, 'target.pcap')
  await pcap.writeFile(file)
  const frames = await decodeNvmeTcpPcap(file, { ports: [port], checkDigests: true, ...(tshark !== undefined ? { tshark } : {}) })
  const types = new Set(frames.flatMap((f) => f.pduTypes))
  t.ok(frames.length > 30, `${frames.length} frames decoded`)
  for (const ty of [0, 1, 4, 5, 6, 7, 9]) t.ok(types.has(ty), `PDU type ${ty} seen`)
  t.same(frames.filter((f) => f.malformed).map((f) => f.frame), [], 'no malformed packet')
  t.same(frames.flatMap((f) => expertErrors(f).map((m) => `${f.frame}: ${m}`)), [], 'no expert errors')
  const bad = frames.flatMap((f) => [...f.hdgstStatus, ...f.ddgstStatus]).filter((s) => s !== '1')
  t.same(bad, [], 'every digest Good')
})
