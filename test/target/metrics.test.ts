/**
 * /metrics scraped during I/O and parsed with a real Prometheus text-format parser
 * (parse-prometheus-text-format): target counters (commands by opcode and status, bytes, latency
 * histogram, R2Ts, fault counters, ANA state, AENs) and the initiator's (head and path I/Os, QoS
 * in-flight, AENs) move as the I/O and the control actions say they should.
 */
import { createRequire } from 'node:module'
import t from 'tap'
import { attachFaults } from '../../faults/attach.js'
import { InitiatorMetrics } from '../../initiator/metrics.js'
import { serveMetrics } from '../../initiator/metrics-server.js'
import { NvmeHost } from '../../initiator/host.js'
import { createTarget } from '../../target/index.js'
import { createTargetMetrics } from '../../target/metrics.js'

interface Family {
  name: string
  type: string
  metrics: Array<{ labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string; sum?: string }>
}
const parseProm = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[]

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:metrics'

/** Sum of a family's samples whose labels include `match`. */
function total(fams: Family[], name: string, match: Record<string, string> = {}): number {
  const f = fams.find((x) => x.name === name)
  if (f === undefined) return 0
  let n = 0
  for (const m of f.metrics) {
    if (!Object.entries(match).every(([k, v]) => m.labels?.[k] === v)) continue
    n += Number(m.value ?? m.count ?? 0)
  }
  return n
}

t.test('target and initiator metrics move during I/O (scraped over HTTP, parsed)', async (t) => {
  const target = await createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0 },
    ],
    subsystems: [{ nqn: SUBNQN, namespaces: [{ nsid: 1, size: '16MiB' }] }],
  })
  const metrics = createTargetMetrics(target)
  const faults = await attachFaults(target, { seed: 1, metrics, http: { listen: { host: '127.0.0.1', port: 0 } } })
  const host = new NvmeHost({})
  const hostMetrics = new InitiatorMetrics({ host })
  const hostEp = await serveMetrics(hostMetrics, { host: '127.0.0.1', port: 0 })
  t.teardown(async () => {
    await hostEp.close()
    hostMetrics.close()
    await host.close()
    await faults.close()
    await target.close()
    metrics.close()
  })
  const texts = new Map<Family[], string>()
  const scrapeTarget = async (): Promise<Family[]> => {
    const r = await fetch(`http://127.0.0.1:${faults.http!.address!.port}/metrics`)
    t.match(r.headers.get('content-type'), /text\/plain/)
    const text = await r.text()
    const fams = parseProm(text)
    texts.set(fams, text)
    return fams
  }
  /**
   * parse-prometheus-text-format keeps labels of counters and gauges but folds a labelled histogram's
   * series into one (its prom2json shape); the per-series `_count`/`+Inf` samples are read from the
   * text lines here, after the parser accepted the whole exposition.
   */
  const histCount = (f: Family[], opcode: string): number => {
    let n = 0
    for (const m of texts.get(f)!.matchAll(/^nvmf_target_command_latency_seconds_count\{([^}]*)\} (\S+)$/gm)) if (m[1]!.includes(`opcode="${opcode}"`)) n += Number(m[2])
    return n
  }
  const scrapeHost = async (): Promise<Family[]> => parseProm(await (await fetch(`http://127.0.0.1:${hostEp.address.port}/metrics`)).text())

  faults.engine.add({ id: 'slow-read', type: 'delay', match: { kinds: ['io'], commands: ['read'] }, params: { delay: { ms: 1 } } })
  for (const p of target.ports) await host.connect({ traddr: '127.0.0.1', trsvcid: p.port, subnqn: SUBNQN })
  const dev = host.device(1, SUBNQN)!

  const before = await scrapeTarget()
  t.ok(total(before, 'nvmf_target_connections_total') >= 4, 'admin + I/O connections on two ports')

  // I/O in flight while scraping: 64 KiB writes need R2Ts (beyond the in-capsule size).
  const data = Buffer.alloc(64 * 1024, 0x5a)
  const ios: Promise<unknown>[] = []
  for (let i = 0; i < 16; i++) ios.push(dev.write(i * 128, data).then(() => dev.read(i * 128, 128)))
  const during = await scrapeTarget()
  const duringHost = await scrapeHost()
  await Promise.all(ios)
  const after = await scrapeTarget()
  const afterHost = await scrapeHost()

  const writes = (f: Family[]) => total(f, 'nvmf_target_commands_total', { opcode: 'write', status: '0x0', subsystem: SUBNQN })
  const reads = (f: Family[]) => total(f, 'nvmf_target_commands_total', { opcode: 'read', status: '0x0', subsystem: SUBNQN })
  t.ok(writes(during) <= writes(after) && reads(during) <= reads(after), 'counters only grow')
  t.equal(writes(after) - writes(before), 16, '16 writes counted with status 0')
  t.equal(reads(after) - reads(before), 16, '16 reads counted with status 0')
  t.equal(histCount(after, 'read') - histCount(before, 'read'), 16, 'read latency histogram count')
  t.equal(after.find((f) => f.name === 'nvmf_target_command_latency_seconds')?.type, 'HISTOGRAM', 'the parser reads the latency family as a histogram')
  const text = texts.get(after)!
  const infs = [...text.matchAll(/^nvmf_target_command_latency_seconds_bucket\{(.*),le="\+Inf"\} (\S+)$/gm)]
  t.ok(infs.length > 0 && infs.every((m) => text.includes(`nvmf_target_command_latency_seconds_count{${m[1]}} ${m[2]}`)), 'each series: +Inf bucket == _count')
  t.ok(total(after, 'nvmf_target_r2ts_total') - total(before, 'nvmf_target_r2ts_total') >= 16, 'an R2T per 64 KiB write')
  t.equal(total(after, 'nvmf_target_namespace_written_bytes_total', { nsid: '1' }) - total(before, 'nvmf_target_namespace_written_bytes_total', { nsid: '1' }), 16 * 64 * 1024, 'bytes written to namespace 1')
  t.ok(total(after, 'nvmf_target_received_bytes_total') - total(before, 'nvmf_target_received_bytes_total') > 16 * 64 * 1024, 'port bytes received cover the data')
  t.equal(total(after, 'nvmf_target_fault_fired_total', { id: 'slow-read' }), total(before, 'nvmf_target_fault_fired_total', { id: 'slow-read' }) + 16, 'the read fault fired 16 times')
  t.ok(total(after, 'nvmf_target_connections_open') >= 4, 'open connections gauge')

  const hostDone = (f: Family[]) => total(f, 'nvmf_host_head_ios_completed_total')
  t.ok(hostDone(duringHost) <= hostDone(afterHost), 'host counters only grow')
  t.ok(hostDone(afterHost) >= 32, `host head completed the 32 I/Os (${hostDone(afterHost)})`)
  t.equal(total(afterHost, 'nvmf_host_path_written_bytes_total'), 16 * 64 * 1024, 'host path bytes written')
  t.equal(total(afterHost, 'nvmf_host_path_qos_inflight_requests'), 0, 'QoS in-flight back to zero')
  t.equal(total(afterHost, 'nvmf_host_head_inflight'), 0, 'head in-flight back to zero')

  // ANA change through the shared verb: the gauge follows and the host receives the AEN.
  await faults.controller.setAna(1, 1, 'inaccessible')
  const deadline = Date.now() + 30_000
  let hostAfterAna = await scrapeHost()
  while (total(hostAfterAna, 'nvmf_host_aens_total') === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
    hostAfterAna = await scrapeHost()
  }
  const ana = await scrapeTarget()
  t.equal(total(ana, 'nvmf_target_ana_state', { port: '1', group: '1', state: 'inaccessible' }), 1, 'ANA gauge shows port 1 group 1 inaccessible')
  t.ok(total(ana, 'nvmf_target_aens_total') >= 1, 'the target counted the AEN it sent')
  t.ok(total(hostAfterAna, 'nvmf_host_aens_total') >= 1, 'the host counted the AEN it received')
})
