/**
 * `nvmf-fault ctl --control PATH <verb>`: drive a running target through its control endpoint.
 * Verbs: status, ana set, ns add|remove|enable|disable|uuid|group|resize, fault add|list|clear,
 * scenario run|stop, trace dump, plus port, controller and aen. Each verb takes `-o json|normal`:
 * normal prints a readable status or fault list and a one-line confirmation for a change
 * (faults/cli-print.ts); json prints the result for scripts.
 */
import { open, readFile, writeFile } from 'node:fs/promises'
import { Command, InvalidArgumentError as CommanderArgError, Option } from 'commander'
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml'
import { nqnNameProblem, type NqnRole } from '../lib/nvme/nqn.js'
import { jsonText, outputFormatOf, outputFormatOption, printResult, printText, type OutputFormat } from '../bin/cli-output.js'
import { createProgressBar, showProgressHere } from '../bin/progress.js'
import { parseSize as parseTargetSize } from '../target/config.js'
import {
  confirmAen,
  confirmAna,
  confirmController,
  confirmFaultAdd,
  confirmFaultClear,
  confirmNamespace,
  confirmPort,
  confirmScenarioRun,
  confirmScenarioStop,
  renderFaultList,
  renderStatus,
  confirmSubsystem,
  confirmReferral,
  confirmConfigExport,
  type Confirmation,
} from './cli-print.js'
import { ControlClient } from './control-client.js'
import type { JsonObject } from './proto.js'

interface GlobalOpts {
  control?: string
  token?: string
  timeout?: string
}

export function intArg(name: string, min = 0, max = 0xffffffff) {
  return (v: string): number => {
    const n = /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : Number.NaN
    if (!Number.isInteger(n) || n < min || n > max) throw new CommanderArgError(`${name} must be an integer in [${min}, ${max}], got "${v}"`)
    return n
  }
}

/** A subsystem (or host) name as nvmet takes it (lib/nvme/nqn.ts, the rule config and API apply too). */
export function nqnArg(name: string, role: NqnRole = 'subsystem') {
  return (v: string): string => {
    const why = nqnNameProblem(v, role)
    if (why !== undefined) throw new CommanderArgError(`${name}: NQN "${v.slice(0, 64)}" ${why}`)
    return v
  }
}

/** "1GiB", "512MiB", "4096" -> bytes: the target config's parser, with a commander error. */
export function parseSize(v: string): number {
  const n = parseTargetSize(v)
  if (typeof n === 'string') throw new CommanderArgError(`size must be a positive number of bytes such as 1GiB, 512MiB or 4096, got "${v}"`)
  return n
}

async function withClient<T>(cmd: Command, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  const g = cmd.optsWithGlobals<GlobalOpts>()
  if (g.control === undefined) throw new CommanderArgError('--control PATH (or tcp://127.0.0.1:PORT) is required')
  const client = await ControlClient.connect(g.control, {
    ...(g.token !== undefined ? { token: g.token } : {}),
    ...(g.timeout !== undefined ? { timeoutMs: intArg('--timeout', 1)(g.timeout) } : {}),
  })
  try {
    return await fn(client)
  } finally {
    client.close()
  }
}

function formatOf(cmd: Command): OutputFormat {
  return outputFormatOf(cmd.opts<{ outputFormat?: string }>())
}

/** A query verb: the result as JSON, or its readable rendering. */
async function callAndShow(cmd: Command, op: string, args: JsonObject, normal: (result: unknown) => string): Promise<void> {
  await withClient(cmd, async (c) => {
    const { json } = await c.call(op, args)
    printResult(formatOf(cmd), json, () => normal(json))
  })
}

/** A verb that changes state: a short confirmation (`-o json`: its small JSON form), never the whole status. */
async function callAndConfirm(cmd: Command, op: string, args: JsonObject, confirm: (result: unknown) => Confirmation): Promise<void> {
  await withClient(cmd, async (c) => {
    const conf = confirm((await c.call(op, args)).json)
    printText(formatOf(cmd) === 'json' ? jsonText(conf.json) : conf.text)
  })
}

/** Every verb under `ctl` (except `trace dump` and `config export`, whose -o names the output file) takes -o json|normal. */
function addOutputFormat(root: Command): void {
  for (const c of root.commands) {
    if (c.commands.length > 0) addOutputFormat(c)
    else if (c.name() !== 'dump' && c.name() !== 'export') c.addOption(outputFormatOption())
  }
}

/** Adds `ctl` to the program (called from bin/program.ts). */
export function registerCtlCommand(program: Command): void {
  const ctl = program
    .command('ctl')
    .description('control a running target (its --control endpoint)')
    .option('--control <path>', 'control endpoint: Unix socket path, or tcp://127.0.0.1:PORT')
    .option('--token <token>', 'token for a TCP control endpoint')
    .option('--timeout <ms>', 'request timeout in ms (default 30000)')

  ctl
    .command('status')
    .description('status snapshot: ports, controllers, queues, namespaces, ANA states, faults')
    .action(async (_o: unknown, cmd: Command) => callAndShow(cmd, 'status', {}, renderStatus))

  ctl
    .command('config')
    .description('target configuration')
    .command('export')
    .description('write the live configuration (after run-time changes); the file restarts an identical target (target --config FILE)')
    .addOption(new Option('--format <format>', "native (nvmf-fault's YAML/JSON shape) or nvmetcli (saveconfig JSON)").choices(['native', 'nvmetcli']).default('native'))
    .option('-o, --output <file>', 'write to a file, YAML if it ends in .yaml/.yml (default: JSON on stdout)')
    .action(async (o: { format: string; output?: string }, cmd: Command) => {
      await withClient(cmd, async (c) => {
        const doc = (await c.call('configExport', { format: o.format })).json
        if (o.output === undefined) return printText(jsonText(doc))
        // A .yaml/.yml file gets YAML (what the native examples use), anything else JSON.
        await writeFile(o.output, /\.ya?ml$/i.test(o.output) ? stringifyYaml(doc) : `${JSON.stringify(doc, null, 2)}\n`)
        const conf = confirmConfigExport(o.output, o.format)
        printText(formatOf(cmd) === 'json' ? jsonText(conf.json) : conf.text)
      })
    })

  const ana = ctl.command('ana').description('ANA states')
  ana
    .command('set')
    .description('set the ANA state of a group on a port (raises the ANA-change AEN)')
    .requiredOption('--port <id>', 'port id', intArg('--port', 0, 0xffff))
    .requiredOption('--group <grpid>', 'ANA group id', intArg('--group', 1, 128))
    .addOption(new Option('--state <state>', 'new state').choices(['optimized', 'non-optimized', 'inaccessible', 'persistent-loss', 'change']).makeOptionMandatory())
    .action(async (o: { port: number; group: number; state: string }, cmd: Command) => callAndConfirm(cmd, 'anaSet', { port: o.port, group: o.group, state: o.state }, () => confirmAna({ port: o.port, group: o.group, state: o.state })))

  const ns = ctl.command('ns').description('namespaces: add, remove, enable, disable, uuid, group, resize')
  const nsCommon = (c: Command): Command =>
    c.requiredOption('--nsid <nsid>', 'namespace id', intArg('--nsid', 1, 0xfffffffe)).option('--subnqn <nqn>', 'subsystem (default: the first NVM subsystem)', nqnArg('--subnqn'))
  const nsArgs = (op: string, o: Record<string, unknown>): JsonObject => {
    const a: JsonObject = { op, nsid: o.nsid as number }
    if (typeof o.subnqn === 'string') a.subnqn = o.subnqn
    if (typeof o.size === 'number') a.sizeBytes = o.size
    if (typeof o.blockSize === 'number') a.blockSize = o.blockSize
    if (typeof o.group === 'number') a.group = o.group
    if (typeof o.uuid === 'string') a.uuid = o.uuid
    if (o.disabled === true) a.disabled = true
    return a
  }
  const nsCall = (cmd: Command, a: JsonObject): Promise<void> => callAndConfirm(cmd, 'ns', a, (r) => confirmNamespace(a, r))
  nsCommon(ns.command('add').description('add a memory namespace'))
    .option('--size <bytes>', 'size (e.g. 1GiB; default 1GiB)', parseSize)
    .option('--block-size <bytes>', '512 or 4096', intArg('--block-size', 512, 4096))
    .option('--group <grpid>', 'ANA group', intArg('--group', 1, 128))
    .option('--uuid <uuid>', 'UUID (default: random)')
    .option('--disabled', 'add it disabled')
    .action(async (o: Record<string, unknown>, cmd: Command) => nsCall(cmd, nsArgs('add', o)))
  for (const op of ['remove', 'enable', 'disable'] as const) {
    nsCommon(ns.command(op).description(`${op} a namespace`)).action(async (o: Record<string, unknown>, cmd: Command) => nsCall(cmd, nsArgs(op, o)))
  }
  nsCommon(ns.command('uuid').description('give a disabled namespace a new UUID (nvmet rule)'))
    .option('--uuid <uuid>', 'the new UUID (default: random from the run seed)')
    .action(async (o: Record<string, unknown>, cmd: Command) => nsCall(cmd, nsArgs('uuid', o)))
  nsCommon(ns.command('group').description('move a namespace to another ANA group'))
    .requiredOption('--group <grpid>', 'ANA group', intArg('--group', 1, 128))
    .action(async (o: Record<string, unknown>, cmd: Command) => nsCall(cmd, nsArgs('group', o)))
  nsCommon(ns.command('resize').description('resize a namespace'))
    .requiredOption('--size <bytes>', 'new size (e.g. 2GiB)', parseSize)
    .action(async (o: Record<string, unknown>, cmd: Command) => nsCall(cmd, nsArgs('resize', o)))

  const fault = ctl.command('fault').description('faults: add, list, clear')
  fault
    .command('add')
    .description('add a fault (a FaultSpec as JSON/YAML text or file, see proto/scenario.proto)')
    .option('--json <text>', 'the fault as JSON, e.g. \'{"type":"status","params":{"status":"ANA_INACCESSIBLE"}}\'')
    .option('--file <file>', 'a JSON or YAML file holding the fault')
    .action(async (o: { json?: string; file?: string }, cmd: Command) => {
      if ((o.json === undefined) === (o.file === undefined)) throw new CommanderArgError('give exactly one of --json or --file')
      const text = o.json ?? (await readFile(o.file!, 'utf8'))
      let spec: unknown
      try {
        spec = text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text)
      } catch (err) {
        throw new CommanderArgError(`the fault is not valid JSON/YAML: ${(err as Error).message}`)
      }
      if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new CommanderArgError('the fault must be an object')
      await callAndConfirm(cmd, 'faultAdd', spec as JsonObject, confirmFaultAdd)
    })
  fault.command('list').description('list installed faults with their counters').action(async (_o: unknown, cmd: Command) => callAndShow(cmd, 'faultList', {}, renderFaultList))
  fault
    .command('get')
    .description('one fault with its counters (seen, fired)')
    .requiredOption('--id <id>', 'fault id')
    .action(async (o: { id: string }, cmd: Command) => callAndShow(cmd, 'faultGet', { id: o.id }, jsonText))
  fault
    .command('clear')
    .description('remove one fault (--id) or all')
    .option('--id <id>', 'fault id')
    .action(async (o: { id?: string }, cmd: Command) => callAndConfirm(cmd, 'faultClear', o.id !== undefined ? { id: o.id } : {}, (r) => confirmFaultClear(o.id, r)))

  const scenario = ctl.command('scenario').description('scenarios: run, wait, stop')
  scenario
    .command('run')
    .description('run a scenario file (YAML or JSON) on the target, replacing the current one')
    .argument('<file>', 'scenario file')
    .option('--seed <n>', 'seed (overrides the scenario)', intArg('--seed', 0, Number.MAX_SAFE_INTEGER))
    .option('--wait', 'wait until the scenario is no longer running (a progress bar on a terminal)')
    .action(async (file: string, o: { seed?: number; wait?: boolean }, cmd: Command) => {
      const text = await readFile(file, 'utf8')
      await callAndConfirm(cmd, 'scenarioRun', { text, source: file, ...(o.seed !== undefined ? { seed: o.seed } : {}) }, confirmScenarioRun)
      if (o.wait === true) await waitForScenario(cmd, scenarioLengthMs(text))
    })
  scenario
    .command('wait')
    .description('wait until the scenario is running (start condition held) or finished (steps done, storms ended); give ctl --timeout above --max')
    .option('--state <state>', 'running | finished', 'finished')
    .option('--max <ms>', 'give up after this many ms (0 = no limit)', intArg('--max', 0, 0xffffffff), 0)
    .action(async (o: { state: string; max: number }, cmd: Command) => callAndShow(cmd, 'scenarioWait', { state: o.state, timeoutMs: o.max }, jsonText))
  scenario.command('stop').description('stop the running scenario and remove its faults').action(async (_o: unknown, cmd: Command) => callAndConfirm(cmd, 'scenarioStop', {}, confirmScenarioStop))
  scenario.command('state').description('state of the current scenario run').action(async (_o: unknown, cmd: Command) => callAndShow(cmd, 'scenarioState', {}, jsonText))

  const subsystem = ctl.command('subsystem').description('subsystems at run time: add, remove, host add|remove')
  subsystem
    .command('add')
    .requiredOption('--nqn <nqn>', 'subsystem NQN')
    .option('--config <json>', 'the rest of the subsystem as in the target config, e.g. \'{"namespaces":[{"nsid":1,"size":"64MiB"}]}\'', '{}')
    .action(async (o: { nqn: string; config: string }, cmd: Command) => {
      let config: unknown
      try {
        config = JSON.parse(o.config)
      } catch (err) {
        throw new CommanderArgError(`--config is not valid JSON: ${(err as Error).message}`)
      }
      await callAndConfirm(cmd, 'subsystem', { op: 'add', nqn: o.nqn, config: config as JsonObject }, () => confirmSubsystem('add', o.nqn))
    })
  subsystem
    .command('remove')
    .requiredOption('--nqn <nqn>', 'subsystem NQN')
    .action(async (o: { nqn: string }, cmd: Command) => callAndConfirm(cmd, 'subsystem', { op: 'remove', nqn: o.nqn }, () => confirmSubsystem('remove', o.nqn)))
  for (const op of ['add', 'remove'] as const) {
    subsystem
      .command(`host-${op}`)
      .description(`${op === 'add' ? 'allow' : 'disallow'} a host NQN`)
      .requiredOption('--nqn <nqn>', 'subsystem NQN')
      .requiredOption('--hostnqn <nqn>', 'host NQN')
      .action(async (o: { nqn: string; hostnqn: string }, cmd: Command) => callAndConfirm(cmd, 'subsystem', { op: `host-${op}`, nqn: o.nqn, hostnqn: o.hostnqn }, () => confirmSubsystem(`host-${op}`, o.nqn, o.hostnqn)))
  }

  const referral = ctl.command('referral').description('discovery referrals: add, remove')
  for (const op of ['add', 'remove'] as const) {
    referral
      .command(op)
      .requiredOption('--address <addr>', 'referred address')
      .option('--trsvcid <port>', 'referred TCP port (default 4420)', intArg('--trsvcid', 0, 0xffff))
      .option('--port <id>', 'add: only in this port\'s discovery log', intArg('--port', 0, 0xffff))
      .action(async (o: { address: string; trsvcid?: number; port?: number }, cmd: Command) => callAndConfirm(cmd, 'referral', { op, address: o.address, ...(o.trsvcid !== undefined ? { trsvcid: o.trsvcid } : {}), ...(o.port !== undefined ? { port: o.port } : {}) }, () => confirmReferral(op, o.address, o.trsvcid)))
  }

  const trace = ctl.command('trace').description('event trace')
  trace
    .command('dump')
    .description('dump the event trace (JSON lines to stdout, or a file)')
    .addOption(new Option('--format <format>', 'jsonl, proto (length-delimited TraceEvent) or pcap').choices(['jsonl', 'proto', 'pcap']).default('jsonl'))
    .option('-o, --output <file>', 'write to a file (required for proto and pcap)')
    .option('--clear', 'clear the trace after dumping')
    .action(async (o: { format: string; output?: string; clear?: boolean }, cmd: Command) => {
      if (o.format !== 'jsonl' && o.output === undefined) throw new CommanderArgError(`--format ${o.format} needs --output FILE`)
      await withClient(cmd, async (c) => {
        const { data } = await c.call('traceDump', { format: o.format, ...(o.clear === true ? { clear: true } : {}) })
        const bytes = data ?? Buffer.alloc(0)
        if (o.output !== undefined) {
          await writeWithProgress(o.output, bytes)
          printText(`wrote ${bytes.length} bytes (${o.format}) to ${o.output}`)
        } else {
          process.stdout.write(bytes)
        }
      })
    })

  const port = ctl.command('port').description('ports: add, remove')
  port
    .command('add')
    .requiredOption('--port <id>', 'port id', intArg('--port', 0, 0xffff))
    .option('--address <addr>', 'address to bind (default 127.0.0.1)')
    .option('--trsvcid <port>', 'TCP port (default 0: any)', intArg('--trsvcid', 0, 0xffff))
    .action(async (o: { port: number; address?: string; trsvcid?: number }, cmd: Command) =>
      callAndConfirm(cmd, 'port', { op: 'add', port: o.port, ...(o.address !== undefined ? { address: o.address } : {}), ...(o.trsvcid !== undefined ? { trsvcid: o.trsvcid } : {}) }, (r) => confirmPort('add', o.port, r)),
    )
  port
    .command('remove')
    .requiredOption('--port <id>', 'port id', intArg('--port', 0, 0xffff))
    .action(async (o: { port: number }, cmd: Command) => callAndConfirm(cmd, 'port', { op: 'remove', port: o.port }, (r) => confirmPort('remove', o.port, r)))

  const controller = ctl.command('controller').description('controllers: fatal (CSTS.CFS), delete (force reconnect)')
  controller
    .command('fatal')
    .requiredOption('--cntlid <id>', 'controller id', intArg('--cntlid', 1, 0xffef))
    .action(async (o: { cntlid: number }, cmd: Command) => callAndConfirm(cmd, 'controller', { op: 'fatal', cntlid: o.cntlid }, (r) => confirmController('fatal', { cntlid: o.cntlid }, r)))
  controller
    .command('delete')
    .option('--cntlid <id>', 'controller id', intArg('--cntlid', 1, 0xffef))
    .option('--port <id>', 'port id', intArg('--port', 0, 0xffff))
    .option('--hostnqn <nqn>', 'host NQN', nqnArg('--hostnqn', 'host'))
    .action(async ({ cntlid, port, hostnqn }: { cntlid?: number; port?: number; hostnqn?: string }, cmd: Command) => {
      const filter = { ...(cntlid !== undefined ? { cntlid } : {}), ...(port !== undefined ? { port } : {}), ...(hostnqn !== undefined ? { hostnqn } : {}) }
      await callAndConfirm(cmd, 'controller', { op: 'delete', ...filter }, (r) => confirmController('delete', filter, r))
    })

  ctl
    .command('aen')
    .description('raise asynchronous events (rescan storms)')
    .addOption(new Option('--event <event>', 'event').choices(['ns-changed', 'ana-change', 'discovery-change']).makeOptionMandatory())
    .option('--count <n>', 'how many (default 1)', intArg('--count', 1, 10000))
    .option('--port <id>', 'only controllers on this port', intArg('--port', 0, 0xffff))
    .option('--nsid <nsid...>', 'ns-changed: NSIDs for the Changed Namespace List')
    .action(async (o: { event: string; count?: number; port?: number; nsid?: string[] }, cmd: Command) =>
      callAndConfirm(cmd, 'aen', {
        event: o.event,
        ...(o.count !== undefined ? { count: o.count } : {}),
        ...(o.port !== undefined ? { port: o.port } : {}),
        ...(o.nsid !== undefined ? { nsids: o.nsid.map((n) => intArg('--nsid', 1, 0xfffffffe)(n)) } : {}),
      }, () => confirmAen({ event: o.event, ...(o.count !== undefined ? { count: o.count } : {}), ...(o.port !== undefined ? { port: o.port } : {}) })),
    )
  addOutputFormat(ctl)
}

/** The time a scenario file's steps span (its durationMs, else its last step's atMs; 0 when unknown), for the progress bar. */
export function scenarioLengthMs(text: string): number {
  try {
    const raw = (text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text)) as { durationMs?: unknown; steps?: { atMs?: unknown }[] } | null
    const last = Math.max(0, ...(Array.isArray(raw?.steps) ? raw.steps.map((st) => (typeof st?.atMs === 'number' ? st.atMs : 0)) : []))
    return typeof raw?.durationMs === 'number' && raw.durationMs > 0 ? raw.durationMs : last
  } catch {
    return 0 // the target parsed it already; a bar without a length is only less precise
  }
}

/**
 * Poll the target's status until its scenario leaves `running`; the bar counts elapsed time against
 * the scenario's length. Ends with the final state (exit FAILED when the scenario failed).
 */
async function waitForScenario(cmd: Command, lengthMs: number): Promise<void> {
  const bar = createProgressBar({ show: showProgressHere(formatOf(cmd)), unit: 'ms' })
  const start = Date.now()
  let state = 'running'
  try {
    await withClient(cmd, async (c) => {
      for (;;) {
        const sc = ((await c.call('status', {})).json as { scenario?: { state?: string } | null } | null)?.scenario
        state = sc?.state ?? 'none'
        if (state !== 'running') return
        const elapsed = Date.now() - start
        bar.update(lengthMs > 0 ? Math.min(elapsed, lengthMs) : elapsed, lengthMs > 0 ? lengthMs : elapsed + 1, state)
        await new Promise((r) => setTimeout(r, 200))
      }
    })
  } finally {
    bar.stop()
  }
  printText(formatOf(cmd) === 'json' ? jsonText({ state }) : `scenario ${state}`)
  if (state === 'failed') process.exitCode = 1
}

/** Write a trace file in 1 MiB pieces, with a progress bar on a terminal (a pcap can be large). */
async function writeWithProgress(file: string, bytes: Buffer): Promise<void> {
  const piece = 1 << 20
  const bar = createProgressBar({ show: showProgressHere('normal') && bytes.length > piece, unit: 'bytes' })
  const fh = await open(file, 'w')
  try {
    for (let off = 0; off < bytes.length || off === 0; off += piece) {
      await fh.write(bytes.subarray(off, Math.min(bytes.length, off + piece)))
      bar.update(Math.min(bytes.length, off + piece), bytes.length)
      if (bytes.length === 0) break
    }
  } finally {
    bar.stop()
    await fh.close()
  }
}
