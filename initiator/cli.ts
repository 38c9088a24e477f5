/**
 * Initiator subcommands of `nvmf-fault`:
 *
 * - `discover -a ADDR -s PORT` — print the discovery log (referrals followed);
 * - `connect -a ADDR -s PORT [-n SUBNQN]` — connect (all subsystems from discovery when no -n), print
 *   devices, their paths and ANA states, then disconnect cleanly;
 * - `io -a ADDR -s PORT -n SUBNQN` — a bounded read/write/verify workload with a progress bar and a
 *   summary of IOPS, latency percentiles and failovers.
 */
import type { Command } from 'commander'
import { InitiatorMetrics } from './metrics.js'
import { serveMetrics } from './metrics-server.js'
import { pino } from 'pino'
import { seededRandom, systemClock } from '../lib/clock.js'
import { InvalidArgumentError } from '../lib/errors.js'
import { anaStateName } from '../lib/nvme/log-ana.js'
import { describeEntry } from './discovery.js'
import { NvmeHost } from './host.js'
import { IO_POLICIES, type IoPolicy } from './path-selector.js'
import { runDeviceWorkload, WORKLOAD_MODES, type WorkloadMode, type WorkloadProgress } from './workload.js'

interface CommonOpts {
  traddr: string
  trsvcid: string
  hostnqn?: string
  hdgst?: boolean
  ddgst?: boolean
  json?: boolean
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
      ...(o.dhchapSecret !== undefined ? { dhchapSecret: o.dhchapSecret } : {}),
      ...(o.dhchapCtrlSecret !== undefined ? { dhchapCtrlSecret: o.dhchapCtrlSecret } : {}),
    },
  })
}

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2)

function addCommon(cmd: Command, defaultPort: string): Command {
  return cmd
    .requiredOption('-a, --traddr <addr>', 'target address')
    .option('-s, --trsvcid <port>', 'target port', defaultPort)
    .option('-q, --hostnqn <nqn>', 'host NQN (default: a UUID NQN)')
    .option('--hdgst', 'enable header digests')
    .option('--ddgst', 'enable data digests')
    .option('-S, --dhchap-secret <secret>', 'DH-HMAC-CHAP host secret (DHHC-1:...) when the controller asks for authentication')
    .option('-C, --dhchap-ctrl-secret <secret>', 'DH-HMAC-CHAP controller secret: also authenticate the controller (bidirectional)')
    .option('--json', 'machine-readable output')
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

export function registerInitiatorCommands(program: Command): void {
  addCommon(program.command('discover').description('read the discovery log of a target'), '8009').action(async (o: CommonOpts) => {
    const host = makeHost(o)
    try {
      const entries = await host.discover({ traddr: o.traddr, trsvcid: port(o.trsvcid) })
      if (o.json === true) process.stdout.write(json(entries) + '\n')
      else {
        process.stdout.write(`Discovery log from ${o.traddr}:${o.trsvcid}: ${entries.length} entries\n`)
        entries.forEach((e, i) => process.stdout.write(`[${i}] ${describeEntry(e)}\n`))
      }
    } finally {
      await host.close()
    }
  })

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
        if (o.json === true) process.stdout.write(json(host.stats()) + '\n')
        else {
          for (const c of host.controllers()) process.stdout.write(`controller ${c.id}  ${c.state}  cntlid ${c.cntlid}  subnqn ${c.options.subnqn}  io queues ${c.ioQueueCount}\n`)
          process.stdout.write(describeDevices(host) + '\n')
        }
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
          const tty = process.stderr.isTTY === true
          const bar = (p: WorkloadProgress): void => {
            const frac = p.total !== undefined ? p.done / p.total : timeMs !== undefined ? p.elapsedMs / timeMs : 0
            const w = 30
            const filled = Math.max(0, Math.min(w, Math.round(frac * w)))
            const line = `[${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${p.done}${p.total !== undefined ? `/${p.total}` : ''} I/Os  ${(p.elapsedMs / 1000).toFixed(1)} s  errors ${p.errors}`
            process.stderr.write(tty ? `\r${line}` : `${line}\n`)
          }
          const sum = await runDeviceWorkload(dev, {
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
            onProgress: bar,
            progressMs: tty ? 100 : 1000,
          })
          if (tty) process.stderr.write('\n')
          const violations = host.checker?.violations.length
          if (o.json === true) process.stdout.write(json({ ...sum, invariantViolations: violations ?? null, paths: dev.head.paths.map((p) => p.stats()) }) + '\n')
          else {
            const l = sum.latency
            process.stdout.write(
              [
                `${sum.ops} I/Os in ${(sum.elapsedMs / 1000).toFixed(2)} s: ${sum.iops} IOPS, ${sum.mbps} MB/s (reads ${sum.reads}, writes ${sum.writes})`,
                `latency ms: p50 ${l.p50}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}  mean ${l.mean}`,
                `errors ${sum.errors}${sum.firstError !== undefined ? ` (first: ${sum.firstError})` : ''}  verify failures ${sum.verifyFailures}  failovers ${sum.failovers}  requeued ${sum.requeued}`,
                ...dev.head.paths.map((p) => `path ${p.id}: ${p.state}, ana ${anaStateName(p.anaState)}, issued ${p.counters.issued}, completed ${p.counters.completed}, failovers ${p.counters.failovers}`),
                ...(violations !== undefined ? [`QoS invariant violations: ${violations}`] : []),
              ].join('\n') + '\n',
            )
          }
          if (sum.errors > 0 || sum.verifyFailures > 0 || (violations ?? 0) > 0) process.exitCode = 1
        } finally {
          await metrics?.close()
          await host.close()
        }
      },
    )
}
