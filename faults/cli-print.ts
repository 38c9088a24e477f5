/**
 * The `normal` output of `nvmf-fault ctl`: a readable status and fault list, and one short
 * confirmation line for each verb that changes state (the full result is what `-o json` prints).
 * Results are read loosely: the control plane's JSON is data from another process.
 */

type Obj = Record<string, unknown>

const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : [])
const str = (v: unknown): string => (v === undefined || v === null ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v))

/** `ctl status`: ports, subsystems with namespaces, ANA states, controllers, faults, scenario, trace. */
export function renderStatus(result: unknown): string {
  const st = obj(result)
  const t = obj(st.target)
  const lines: string[] = []
  for (const p of arr(t.ports)) {
    const subs = Array.isArray(p.subsystems) ? p.subsystems.map(str).join(', ') : ''
    lines.push(`port ${str(p.id)}  ${str(p.address)}:${str(p.port)}${p.discovery === true ? '  discovery' : ''}  subsystems ${subs || '-'}`)
  }
  for (const s of arr(t.subsystems)) {
    const hosts = Array.isArray(s.hosts) ? s.hosts.map(str).join(', ') : ''
    lines.push(`subsystem ${str(s.nqn)}  hosts ${s.allowAnyHost === true ? 'any' : hosts || 'none'}`)
    for (const n of arr(s.namespaces)) {
      lines.push(`  ns ${str(n.nsid)}  ${n.enabled === false ? 'disabled' : 'enabled'}  ${str(n.blocks)} × ${str(n.blockSize)} B  ana group ${str(n.anaGroup)}  uuid ${str(n.uuid)}`)
    }
  }
  const ana = arr(t.ana)
  if (ana.length > 0) lines.push(`ana  ${ana.map((a) => `port ${str(a.portId)} grp ${str(a.grpid)} ${str(a.state)}`).join(', ')}`)
  for (const c of arr(t.controllers)) {
    // The deprecated upper-case `state` first (scripts grep it), then the lower-case `stateName`
    // while the two differ (docs/design.md "State names").
    const name = c.stateName !== undefined && c.stateName !== c.state ? ` (${str(c.stateName)})` : ''
    lines.push(`controller ${str(c.cntlid)}  ${str(c.state)}${name}  port ${str(c.portId)}  ${c.discovery === true ? 'discovery' : str(c.subnqn)}  host ${str(c.hostnqn)}  queues ${arr(c.queues).length}`)
  }
  for (const f of arr(st.faults)) lines.push(renderFaultLine(f))
  const sc = st.scenario
  lines.push(sc === null || sc === undefined ? 'scenario none' : `scenario ${str(obj(sc).name)}  ${str(obj(sc).state)}  seed ${str(obj(sc).seed)}`)
  const tr = obj(st.trace)
  if (tr.events !== undefined) lines.push(`trace ${str(tr.events)} events, ${str(tr.dropped)} dropped${tr.pdus === true ? ', recording PDUs' : ''}`)
  return lines.join('\n')
}

function renderFaultLine(f: Obj): string {
  return `fault ${str(f.id)}  ${str(f.type)}${f.at !== undefined ? ` at ${str(f.at)}` : ''}  seen ${str(f.seen)}  fired ${str(f.fired)}`
}

/** `ctl fault list`: one line per fault with its counters. */
export function renderFaultList(result: unknown): string {
  const faults = arr(result)
  return faults.length === 0 ? 'no faults' : faults.map(renderFaultLine).join('\n')
}

/** The short result `-o json` prints for a verb that changes state, and its one-line rendering. */
export interface Confirmation {
  json: Obj
  text: string
}

export function confirmAna(a: { port: number; group: number; state: string }): Confirmation {
  return { json: { ...a }, text: `port ${a.port} ANA group ${a.group}: ${a.state}` }
}

export function confirmNamespace(args: Obj, result: unknown): Confirmation {
  const r = obj(result)
  const json: Obj = { op: args.op, nsid: args.nsid, ...(args.subnqn !== undefined ? { subnqn: args.subnqn } : {}), ...r }
  const past: Record<string, string> = { add: 'added', remove: 'removed', enable: 'enabled', disable: 'disabled', uuid: 'has a new UUID', group: `moved to ANA group ${str(args.group)}`, resize: `resized to ${str(args.sizeBytes)} bytes` }
  const op = str(args.op)
  return { json, text: `namespace ${str(args.nsid)} ${past[op] ?? op}${r.uuid !== undefined ? ` (uuid ${str(r.uuid)})` : ''}` }
}

export function confirmFaultAdd(result: unknown): Confirmation {
  const id = str(obj(result).id)
  return { json: { id }, text: `fault ${id} added` }
}

export function confirmFaultClear(id: string | undefined, result: unknown): Confirmation {
  const removed = obj(result).removed
  return { json: { removed }, text: `removed ${str(removed)} fault(s)${id !== undefined ? ` (id ${id})` : ''}` }
}

export function confirmScenarioRun(result: unknown): Confirmation {
  const r = obj(result)
  return { json: r, text: `scenario ${str(r.name)} ${str(r.state)} (seed ${str(r.seed)})` }
}

export function confirmScenarioStop(result: unknown): Confirmation {
  const stopped = obj(result).stopped
  return { json: { stopped }, text: stopped === true || stopped === undefined ? 'scenario stopped' : 'no scenario was running' }
}

export function confirmPort(op: 'add' | 'remove', port: number, result: unknown): Confirmation {
  const r = obj(result)
  const where = r.address !== undefined && r.port !== undefined ? ` on ${str(r.address)}:${str(r.port)}` : ''
  return { json: { op, port, ...r }, text: `port ${port} ${op === 'add' ? `added${where}` : 'removed'}` }
}

export function confirmController(op: 'fatal' | 'delete', filter: Obj, result: unknown): Confirmation {
  if (op === 'fatal') return { json: { op, cntlid: filter.cntlid }, text: `controller ${str(filter.cntlid)}: CSTS.CFS set (controller fatal status)` }
  const n = Array.isArray(result) ? result.length : typeof result === 'number' ? result : obj(result).deleted
  return { json: { op, ...filter, deleted: n ?? null }, text: `deleted ${n === undefined ? 'the matching' : str(n)} controller(s)` }
}

export function confirmAen(a: { event: string; count?: number; port?: number }): Confirmation {
  const count = a.count ?? 1
  return { json: { event: a.event, count, ...(a.port !== undefined ? { port: a.port } : {}) }, text: `raised ${count} ${a.event} AEN(s)${a.port !== undefined ? ` on port ${a.port}` : ''}` }
}

export function confirmSubsystem(op: string, nqn: string, hostnqn?: string): Confirmation {
  const what = op === 'add' ? 'added' : op === 'remove' ? 'removed' : op === 'host-add' ? `host ${hostnqn ?? ''} allowed` : `host ${hostnqn ?? ''} disallowed`
  return { json: { op, nqn, ...(hostnqn !== undefined ? { hostnqn } : {}) }, text: `subsystem ${nqn}: ${what}` }
}

export function confirmReferral(op: string, address: string, trsvcid?: number): Confirmation {
  const where = trsvcid !== undefined ? `${address}:${trsvcid}` : address
  return { json: { op, address, ...(trsvcid !== undefined ? { trsvcid } : {}) }, text: `referral ${where} ${op === 'add' ? 'added' : 'removed'}` }
}

export function confirmConfigExport(file: string, format: string): Confirmation {
  return { json: { file, format }, text: `configuration written to ${file} (${format})` }
}
