/**
 * The event trace: PDUs recorded on request, exported as JSON lines, as length-delimited protobuf
 * (round trip) and as pcap that tshark decodes as NVMe/TCP without a malformed packet.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { PduType } from '../../lib/pdu/common.js'
import { decodeTraceProto } from '../../faults/trace.js'
import { decodeNvmeTcpPcap, expertErrors, findTshark, TSHARK_SKIP } from '../helpers/tshark.js'
import { fixture } from './helpers/fixture.js'

t.test('PDU trace: jsonl, protobuf round trip, pcap decoded by tshark', async (t) => {
  const f = await fixture(t, { recordPdus: true })
  f.faults.engine.add({ type: 'status', match: { commands: ['read'] }, schedule: { oneShot: true }, params: { status: 'ANA_INACCESSIBLE' } })
  const { host } = await f.io({ hdgst: true, ddgst: true })
  t.equal((await host.read(1, 0n, 8))?.cqe.status, 0x302)
  t.equal((await host.write(1, 0n, Buffer.alloc(16384, 3)))?.cqe.status, 0)
  t.equal((await host.read(1, 0n, 8))?.data.length, 4096)
  const tr = f.faults.engine.trace
  const pdus = tr.events.filter((e) => e.kind === 'pdu')
  const types = new Set(pdus.map((e) => e.pdu![0]))
  for (const ty of [PduType.IC_REQ, PduType.IC_RESP, PduType.CAPSULE_CMD, PduType.CAPSULE_RESP, PduType.R2T, PduType.H2C_DATA, PduType.C2H_DATA]) {
    t.ok(types.has(ty), `PDU type ${ty} recorded`)
  }
  const fault = tr.events.find((e) => e.kind === 'fault' && e.action === 'complete')
  t.match(fault, { port: 1, qid: 1, opc: 2, nsid: 1, detail: 'status 0x302' })
  t.ok(typeof fault?.cid === 'number' && typeof fault.connectionId === 'number' && typeof fault.cntlid === 'number', 'fault event has cid, connection and controller')

  const lines = tr.toJsonLines().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.equal(lines.length, tr.events.length)
  t.match(lines.find((l) => l.kind === 'pdu'), { pdu: /^[0-9a-f]+$/ })

  const back = decodeTraceProto(f.faults.engine.schemas, tr.toProto())
  t.equal(back.length, tr.events.length, 'protobuf trace round-trips')
  t.same(back.map((e) => [e.seq, e.kind, e.action ?? '', e.cid ?? 0]), tr.events.map((e) => [e.seq, e.kind, e.action ?? '', e.cid ?? 0]))
  const firstPdu = back.find((e) => e.kind === 'pdu')!
  t.same(firstPdu.pdu, pdus[0]!.pdu, 'PDU bytes survive')

  const tshark = findTshark()
  t.test('tshark decodes the pcap', { skip: tshark === undefined ? TSHARK_SKIP : false }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'nvmf-fault-pcap-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'trace.pcap')
    writeFileSync(file, tr.export('pcap'))
    const frames = await decodeNvmeTcpPcap(file, { ports: [f.port], tshark: tshark! })
    const decoded = frames.flatMap((fr) => fr.pduTypes)
    t.ok(decoded.includes(PduType.CAPSULE_CMD) && decoded.includes(PduType.C2H_DATA) && decoded.includes(PduType.H2C_DATA), `NVMe/TCP PDUs decoded (${[...new Set(decoded)].join(',')})`)
    t.same(frames.filter((fr) => fr.malformed), [], 'no malformed packet')
    t.same(frames.flatMap(expertErrors), [], 'no expert errors')
  })
})
