/**
 * Initiator subcommands of `nvmf-fault`:
 *
 * - `discover -a ADDR [-s PORT]` — print the discovery log (referrals followed); `-o json` prints it
 *   in nvme-cli's shape (initiator/discovery-json.ts);
 * - `connect -a ADDR -s PORT [-n SUBNQN]` — connect (all subsystems from discovery when no -n), print
 *   devices, their paths and ANA states, then disconnect cleanly;
 * - `io -a ADDR -s PORT -n SUBNQN` — a bounded read/write/verify workload with a progress bar (on a
 *   terminal only) and a summary of IOPS, latency percentiles and failovers.
 *
 * Each takes `-o, --output-format normal|json` (bin/cli-output.ts).
 */
import type { Command } from 'commander'
import { InitiatorMetrics } from './metrics.js'
import { serveMetrics } from './metrics-server.js'
import { pino } from 'pino'
import { outputFormatOf, outputFormatOption, printResult, type OutputFormat } from '../bin/cli-output.js'
import { EXIT } from '../bin/exit-codes.js'
import { createProgressBar, showProgressHere } from '../bin/progress.js'
import { seededRandom, systemClock } from '../lib/clock.js'
import { ConnectionError, InvalidArgumentError } from '../lib/errors.js'
import { anaStateName } from '../lib/nvme/log-ana.js'
import { describeEntry, type DiscoveredEntry, type DiscoveryLogView } from './discovery.js'
import { nvmeCliDiscoveryLog } from './discovery-json.js'
import { NvmeHost } from './host.js'
import { IO_POLICIES, type IoPolicy } from './path-selector.js'
import { runDeviceWorkload, WORKLOAD_MODES, type WorkloadMode, type WorkloadProgress } from './workload.js'

interface CommonOpts {
  traddr: string
  trsvcid: string
  hostnqn?: string
  hdgst?: boolean
  ddgst?: boolean
  disableSqflow?: boolean
  outputFormat?: string
  logLevel: string
  /** DH-HMAC-CHAP secrets, spelled as nvme-cli spells them. */
  dhchapSecret?: string
  dhchapCtrlSecret?: string
}

function port(v: string, name = 'trsvcid'): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(name, `must be a TCP port in [1, 65535], got '${v}'`)
  return n
}
function posInt(v: string, name: string, max = 2 ** 31): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(name, `must be an integer in [1, ${max}], got '${v}'`)
  return n
}

function makeHost(o: CommonOpts & { iopolicy?: string; checkInvariants?: boolean }): NvmeHost {
  const pol = o.iopolicy ?? 'numa'
  if (!IO_POLICIES.includes(pol as IoPolicy)) throw new InvalidArgumentError('iopolicy', `must be one of ${IO_POLICIES.join(', ')}`)
  return new NvmeHost({
    ...(o.hostnqn !== undefined ? { hostnqn: o.hostnqn } : {}),
    logger: pino({ level: o.logLevel }, pino.destination(2)),
    iopolicy: pol as IoPolicy,
    checkInvariants: o.checkInvariants === true,
    controllerDefaults: {
      hdgst: o.hdgst === true,
      ddgst: o.ddgst === true,
      disableSqflow: o.disableSqflow === true,
      ...(o.dhchapSecret !== undefined ? { dhchapSecret: o.dhchapSecret } : {}),
      ...(o.dhchapCtrlSecret !== undefined ? { dhchapCtrlSecret: o.dhchapCtrlSecret } : {}),
    },
  })
}

function addCommon(cmd: Command, defaultPort: string): Command {
  return cmd
    .requiredOption('-a, --traddr <addr>', 'target address')
    .option('-s, --trsvcid <port>', 'target port', defaultPort)
    .option('-q, --hostnqn <nqn>', 'host NQN (default: a UUID NQN)')
    .option('--hdgst', 'enable header digests')
    .option('--ddgst', 'enable data digests')
    .option('--disable-sqflow', 'ask the controller to disable SQ flow control (reads then end without a CapsuleResp)')
    .option('-S, --dhchap-secret <secret>', 'DH-HMAC-CHAP host secret (DHHC-1:...) when the controller asks for authentication')
    .option('-C, --dhchap-ctrl-secret <secret>', 'DH-HMAC-CHAP controller secret: also authenticate the controller (bidirectional)')
    .addOption(outputFormatOption())
    .option('--log-level <level>', 'log level on stderr', 'warn')
}

/** `io --metrics ADDR:PORT`: the host's metrics on loopback HTTP for the run (address on stderr). */
async function startRunMetrics(host: NvmeHost, addr: string): Promise<{ close(): Promise<void> }> {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr)
  if (m === null) throw new InvalidArgumentError('metrics', `expects ADDR:PORT, got '${addr}'`)
  const metrics = new InitiatorMetrics({ host })
  const ep = await serveMetrics(metrics, { host: (m[1] ?? m[2])!, port: Number(m[3]) })
  process.stderr.write(`metrics: http://${ep.address.host}:${ep.address.port}/metrics\n`)
  return {
    close: async () => {
      await ep.close()
      metrics.close()
    },
  }
}

async function connectSet(host: NvmeHost, o: CommonOpts & { nqn?: string; nrIoQueues?: string; queueSize?: string; kato?: string }): Promise<void> {
  const extra = {
    ...(o.nrIoQueues !== undefined ? { nrIoQueues: posInt(o.nrIoQueues, 'nr-io-queues', 64) } : {}),
    ...(o.queueSize !== undefined ? { queueSize: posInt(o.queueSize, 'queue-size', 1024) } : {}),
    ...(o.kato !== undefined ? { kato: posInt(o.kato, 'keep-alive-tmo', 3600) * 1000 } : {}),
  }
  if (o.nqn !== undefined) {
    await host.connect({ traddr: o.traddr, trsvcid: port(o.trsvcid), subnqn: o.nqn, ...extra })
    // Other ports of the same subsystem (multipath) from the discovery log, best effort.
    const entries = await host.discover({ traddr: o.traddr, trsvcid: port(o.trsvcid) }).catch(() => [])
    for (const e of entries) {
      if (e.subtype !== 2 || e.subnqn !== o.nqn) continue
      const p = Number(e.trsvcid)
      if (host.controllers(o.nqn).some((c) => c.options.traddr === e.traddr && c.options.trsvcid === p)) continue
      await host.connect({ traddr: e.traddr, trsvcid: p, subnqn: e.subnqn, ...extra }).catch(() => undefined)
    }
    return
  }
  const r = await host.connectAll({ traddr: o.traddr, trsvcid: port(o.trsvcid), controller: extra })
  for (const f of r.failed) process.stderr.write(`connect ${describeEntry(f.entry)} failed: ${f.error.message}\n`)
}

function describeDevices(host: NvmeHost): string {
  const lines: string[] = []
  for (const d of host.devices()) {
    const i = d.info
    lines.push(`device ${i.id}  nsid ${i.nsid}  ${i.nsze} blocks × ${i.blockSize} B (${(Number(i.capacityBytes) / 2 ** 20).toFixed(1)} MiB)  policy ${d.head.policy}`)
    lines.push(`  ids: ${Object.entries(i.ids).map(([k, v]) => `${k}=${String(v)}`).join(' ') || '(none)'}`)
    for (const p of d.head.paths) {
      const c = host.controllers().find((x) => x === p.backend)
      lines.push(`  path ${p.id}  ${p.state.padEnd(12)} ana ${anaStateName(p.anaState)} (grp ${p.anagrpid})  ctrl ${c?.id ?? p.backend.id} cntlid ${c?.cntlid ?? '?'}`)
    }
  }
  return lines.join('\n')
}

/** The NVMe/TCP I/O port; nvmet and nvmf-fault also serve discovery there (wire reference 9.1). */
const NVME_TCP_IO_PORT = 4420
/** The well-known discovery port (NVMe/TCP 1.0 section 7.4.9.1). */
const NVME_TCP_DISCOVERY_PORT = 8009

/** The connection was refused (nothing listens at that port), anywhere in the error's cause chain. */
export function isConnectionRefused(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 'ECONNREFUSED') return true
    if (e instanceof Error && /ECONNREFUSED/.test(e.message)) return true
  }
  return false
}

interface DiscoverResult {
  trsvcid: number
  entries: DiscoveredEntry[]
  /** The log of the discovery controller asked (not of referrals followed). */
  log: DiscoveryLogView | undefined
}

/**
 * Discover at -s, or, when -s was not given and 8009 refuses the connection, at 4420: nvmet (and
 * nvmf-fault) serve discovery on every port, and many set-ups listen on 4420 only. JSON output lists
 * the asked controller's log (referral entries as records, not followed) so that it is one document.
 */
async function discoverWithFallback(host: NvmeHost, o: CommonOpts, portGiven: boolean, format: OutputFormat): Promise<DiscoverResult> {
  const attempt = async (trsvcid: number): Promise<DiscoverResult> => {
    let log: DiscoveryLogView | undefined
    const entries = await host.discover({
      traddr: o.traddr,
      trsvcid,
      ...(format === 'json' ? { maxReferralDepth: 0 } : {}),
      onLog: (_src, l) => (log ??= l),
    })
    return { trsvcid, entries, log }
  }
  const first = port(o.trsvcid)
  try {
    return await attempt(first)
  } catch (err) {
    if (!isConnectionRefused(err)) throw err
    if (portGiven || first !== NVME_TCP_DISCOVERY_PORT) {
      throw new ConnectionError(`${o.traddr}:${first} refused the connection: no NVMe/TCP discovery service listens there`, { cause: err })
    }
    process.stderr.write(`nvmf-fault: ${o.traddr}:${first} refused the connection; trying ${NVME_TCP_IO_PORT}, where nvmet and nvmf-fault also serve discovery\n`)
    try {
      return await attempt(NVME_TCP_IO_PORT)
    } catch (err2) {
      if (!isConnectionRefused(err2)) throw err2
      throw new ConnectionError(`${o.traddr} refused the connection on ${first} and ${NVME_TCP_IO_PORT}: no NVMe/TCP discovery service listens there (give the port with -s)`, { cause: err2 })
    }
  }
}

export function registerInitiatorCommands(program: Command): void {
  addCommon(program.command('discover').description('read the discovery log of a target (port 8009, else 4420 when 8009 refuses)'), String(NVME_TCP_DISCOVERY_PORT)).action(
    async (o: CommonOpts, cmd: Command) => {
      const format = outputFormatOf(o)
      const host = makeHost(o)
      try {
        const r = await discoverWithFallback(host, o, cmd.getOptionValueSource('trsvcid') !== 'default', format)
        printResult(format, nvmeCliDiscoveryLog(r.log ?? { genctr: 0n, entries: r.entries }), () =>
          [`Discovery log from ${o.traddr}:${r.trsvcid}: ${r.entries.length} entries`, ...r.entries.map((e, i) => `[${i}] ${describeEntry(e)}`)].join('\n'),
        )
      } finally {
        await host.close()
      }
    },
  )

  addCommon(program.command('connect').description('connect, print devices, paths and ANA states, then disconnect'), '4420')
    .option('-n, --nqn <subnqn>', 'subsystem NQN (default: every subsystem in the discovery log)')
    .option('-i, --nr-io-queues <n>', 'I/O queues per controller')
    .option('-Q, --queue-size <n>', 'I/O queue depth')
    .option('-k, --keep-alive-tmo <s>', 'keep-alive timeout in seconds')
    .option('--iopolicy <policy>', `multipath I/O policy (${IO_POLICIES.join(', ')})`, 'numa')
    .action(async (o: CommonOpts & { nqn?: string; nrIoQueues?: string; queueSize?: string; keepAliveTmo?: string; iopolicy: string }) => {
      const host = makeHost(o)
      try {
        await connectSet(host, { ...o, ...(o.keepAliveTmo !== undefined ? { kato: o.keepAliveTmo } : {}) })
        printResult(outputFormatOf(o), host.stats(), () =>
          [...host.controllers().map((c) => `controller ${c.id}  ${c.state}  cntlid ${c.cntlid}  subnqn ${c.options.subnqn}  io queues ${c.ioQueueCount}`), describeDevices(host)].join('\n'),
        )
      } finally {
        await host.close()
      }
    })

  addCommon(program.command('io').description('run a bounded read/write/verify workload on a namespace'), '4420')
    .requiredOption('-n, --nqn <subnqn>', 'subsystem NQN')
    .option('--nsid <n>', 'namespace id', '1')
    .option('--rw <mode>', `workload (${WORKLOAD_MODES.join(', ')})`, 'verify')
    .option('--bs <blocks>', 'blocks per I/O', '8')
    .option('--qd <n>', 'concurrent I/Os', '8')
    .option('--count <n>', 'stop after this many I/Os')
    .option('--time <s>', 'stop after this many seconds')
    .option('--span <blocks>', 'restrict to the first N blocks')
    .option('--seq', 'sequential instead of random LBAs')
    .option('--seed <seed>', 'PRNG seed', '1')
    .option('--iopolicy <policy>', `multipath I/O policy (${IO_POLICIES.join(', ')})`, 'numa')
    .option('--check-invariants', 'run the QoS invariant checker')
    .option('--metrics <addr:port>', 'serve Prometheus metrics of the run at http://ADDR:PORT/metrics (loopback)')
    .action(
      async (
        o: CommonOpts & { nqn: string; nsid: string; rw: string; bs: string; qd: string; count?: string; time?: string; span?: string; seq?: boolean; seed: string; iopolicy: string; checkInvariants?: boolean; metrics?: string },
      ) => {
        if (!WORKLOAD_MODES.includes(o.rw as WorkloadMode)) throw new InvalidArgumentError('rw', `must be one of ${WORKLOAD_MODES.join(', ')}`)
        const count = o.count !== undefined ? posInt(o.count, 'count') : undefined
        const timeMs = o.time !== undefined ? Number(o.time) * 1000 : undefined
        if (timeMs !== undefined && !(timeMs > 0)) throw new InvalidArgumentError('time', 'must be a positive number of seconds')
        const host = makeHost(o)
        const metrics = o.metrics !== undefined ? await startRunMetrics(host, o.metrics) : undefined
        try {
          await connectSet(host, o)
          const dev = host.device(posInt(o.nsid, 'nsid', 0xfffffffe), o.nqn)
          if (dev === undefined) throw new InvalidArgumentError('nsid', `no namespace ${o.nsid} on ${o.nqn}`)
          const format = outputFormatOf(o)
          const bar = createProgressBar({ show: showProgressHere(format), unit: count !== undefined || timeMs === undefined ? 'I/Os' : 'ms' })
          const onProgress = (p: WorkloadProgress): void => {
            const detail = `errors ${p.errors}`
            if (p.total !== undefined) bar.update(p.done, p.total, detail)
            else if (timeMs !== undefined) bar.update(Math.min(Math.round(p.elapsedMs), timeMs), timeMs, `${p.done} I/Os, ${detail}`)
          }
          let sum: Awaited<ReturnType<typeof runDeviceWorkload>>
          try {
            sum = await runDeviceWorkload(dev, {
              mode: o.rw as WorkloadMode,
              blockCount: posInt(o.bs, 'bs', 65536),
              qd: posInt(o.qd, 'qd', 1024),
              ...(count !== undefined ? { count } : {}),
              ...(timeMs !== undefined ? { timeMs } : {}),
              ...(count === undefined && timeMs === undefined ? { count: 1000 } : {}),
              ...(o.span !== undefined ? { spanBlocks: posInt(o.span, 'span') } : {}),
              sequential: o.seq === true,
              clock: systemClock,
              random: seededRandom(o.seed),
              onProgress,
              progressMs: 100,
            })
          } finally {
            bar.stop()
          }
          const violations = host.checker?.violations.length
          const l = sum.latency
          printResult(format, { ...sum, invariantViolations: violations ?? null, paths: dev.head.paths.map((p) => p.stats()) }, () =>
            [
              `${sum.ops} I/Os in ${(sum.elapsedMs / 1000).toFixed(2)} s: ${sum.iops} IOPS, ${sum.mbps} MB/s (reads ${sum.reads}, writes ${sum.writes})`,
              `latency ms: p50 ${l.p50}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}  mean ${l.mean}`,
              `errors ${sum.errors}${sum.firstError !== undefined ? ` (first: ${sum.firstError})` : ''}  verify failures ${sum.verifyFailures}  failovers ${sum.failovers}  requeued ${sum.requeued}`,
              ...dev.head.paths.map((p) => `path ${p.id}: ${p.state}, ana ${anaStateName(p.anaState)}, issued ${p.counters.issued}, completed ${p.counters.completed}, failovers ${p.counters.failovers}`),
              ...(violations !== undefined ? [`QoS invariant violations: ${violations}`] : []),
            ].join('\n'),
          )
          if (sum.errors > 0 || sum.verifyFailures > 0 || (violations ?? 0) > 0) process.exitCode = EXIT.FAILED
        } finally {
          await metrics?.close()
          await host.close()
        }
      },
    )
}
