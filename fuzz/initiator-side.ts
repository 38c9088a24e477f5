/**
 * Initiator-side fuzzing: our host (in this process) against a hostile fake target (fake-target.ts)
 * that answers one command of the case, or the ICReq, with a mutated reply: one header field, a
 * length, the type, a digest, the CQE fields, odd split boundaries, or a mutated recorded reply of
 * our real target. After every case: the host connected, or failed with a typed error (NVMe status,
 * TermReq sent, connection/timeout error) within the deadline; every socket of the case is closed
 * after `close()`; a fresh well-behaved connection still works; RSS under the bound; no unhandled
 * rejection or uncaught exception; no warning flood.
 */
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { seededRandom, type Random } from '../lib/clock.js'
import { NvmeofError, NvmeStatusError } from '../lib/errors.js'
import { PduType } from '../lib/pdu/index.js'
import { createTarget } from '../target/index.js'
import { NvmeHost } from '../initiator/host.js'
import { FakeTarget, type FakeCommand, type FakeConnection, type FakeReply } from './fake-target.js'
import { mutateCommand, mutateDigest, mutateField, mutateLength, mutateStream, mutateType, pick, splitAtRandom, type FuzzClass } from './mutate.js'
import { recordInitiatorSession, splitPdus } from './record.js'
import { count, emptyOutcomes, type FuzzReport, type Violation } from './report.js'
import type { FuzzRunOptions } from './target-side.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:fuzz-initiator'
/** Host deadlines in a case: short, so that a swallowed reply costs little. */
const FAST = { kato: 0, nrIoQueues: 1, adminTimeoutMs: 400, ioTimeoutMs: 400, connectTimeoutMs: 1000, reconnectDelayMs: 0, ctrlLossTmoMs: 0, abortGraceMs: 100 }
/** A case that neither finishes nor fails within this is a hang. */
const CASE_DEADLINE_MS = 15_000

/** Recorded replies of our real target: per connection ordinal, per CID, in order. */
type ReplyBook = Map<number, Buffer[]>[]

async function recordReplies(): Promise<ReplyBook> {
  const target = await createTarget({
    ports: [{ id: 1, address: '127.0.0.1', port: 0 }],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '1MiB', blockSize: 512 }] }],
  })
  try {
    const conns = await recordInitiatorSession(target.ports[0]?.port ?? 0, SUBNQN)
    return conns.map((c) => {
      const m = new Map<number, Buffer[]>()
      for (const p of splitPdus(c.t2c)) {
        // CapsuleResp (CID in the CQE at 8+12) and C2HData (CCCID at 8); R2T is the fake's own job.
        const cid = p[0] === PduType.CAPSULE_RESP && p.length >= 24 ? p.readUInt16LE(20) : p[0] === PduType.C2H_DATA ? p.readUInt16LE(8) : undefined
        if (cid === undefined) continue
        const list = m.get(cid) ?? []
        list.push(Buffer.from(p))
        m.set(cid, list)
      }
      return m
    })
  } finally {
    await target.close()
  }
}

interface Plan {
  cls: FuzzClass
  r: Random
  /** Index (over the case's commands, all connections) of the command whose reply is mutated; -1 = the ICResp. */
  k: number
  seen: number
  firstConn: number
  replies: ReplyBook
  input: Buffer[]
}

function mutateReply(plan: Plan, pdus: Buffer[]): Buffer[] {
  const { r, cls } = plan
  if (pdus.length === 0) return pdus
  const i = r.int(pdus.length)
  const p = pdus[i] as Buffer
  let bad: Buffer
  switch (cls) {
    case 'field':
      bad = mutateField(r, p)
      break
    case 'length':
      bad = mutateLength(r, p)
      break
    case 'type':
      bad = mutateType(r, p)
      break
    case 'digest':
      bad = mutateDigest(r, p)
      break
    case 'command':
      bad = p[0] === PduType.CAPSULE_RESP ? mutateCommand(r, p, 16) : mutateField(r, p)
      break
    case 'session':
      bad = mutateStream(r, p)
      break
    default:
      bad = p
  }
  const out = [...pdus]
  out[i] = bad
  return out
}

/** Send bytes as separate writes a tick apart, so odd boundaries reach the host as such. */
function sendSplit(conn: FakeConnection, r: Random, bytes: Buffer): void {
  const parts = splitAtRandom(r, bytes, 10)
  let n = 0
  const next = (): void => {
    const b = parts[n++]
    if (b === undefined) return
    conn.sendRaw(b)
    setImmediate(next)
  }
  next()
}

export async function fuzzInitiator(o: FuzzRunOptions): Promise<FuzzReport> {
  const rssLimitMb = o.rssLimitMb ?? 512
  const warnLimit = o.warnLinesPerCase ?? 40
  const maxCases = o.count ?? (o.timeMs === undefined ? 1000 : Number.MAX_SAFE_INTEGER)
  const seed = String(o.seed)
  const replies = await recordReplies()
  let plan: Plan | undefined
  const onCommand = (cmd: FakeCommand): FakeReply | undefined => {
    const p = plan
    if (p === undefined) return undefined
    const idx = p.seen++
    if (idx !== p.k) return undefined
    const fake = cmd.conn
    const def = target.defaultReply(cmd)
    if (def.kind !== 'complete') {
      p.k++ // a held AER: mutate the next reply instead
      return def
    }
    let pdus = fake.encodeCompletion(cmd.sqe.cid, def)
    if (p.cls === 'session') {
      const ordinal = target.connections.indexOf(fake) - p.firstConn
      const rec = p.replies[ordinal]?.get(cmd.sqe.cid)?.shift()
      if (rec !== undefined) pdus = [rec, ...(rec[0] === PduType.C2H_DATA ? (p.replies[ordinal]?.get(cmd.sqe.cid)?.splice(0, 1) ?? []) : [])]
    }
    const out = Buffer.concat(p.cls === 'split' ? pdus : mutateReply(p, pdus))
    p.input = [out]
    sendSplit(fake, p.r, out)
    return { kind: 'drop' }
  }
  const onIcReq = (conn: FakeConnection): Exclude<FakeReply, { kind: 'complete' }> | undefined => {
    const p = plan
    if (p === undefined || p.k !== -1 || target.connections.indexOf(conn) !== p.firstConn) return undefined
    const last = conn.received[conn.received.length - 1]
    const dg = last?.type === PduType.IC_REQ ? { hdgst: last.hdgst, ddgst: last.ddgst } : { hdgst: false, ddgst: false }
    const icresp = conn.encodeIcResp(dg)
    const bad = p.cls === 'split' ? icresp : mutateReply(p, [icresp])[0]!
    p.input = [bad]
    conn.adoptDigests(dg)
    sendSplit(conn, p.r, bad)
    return { kind: 'drop' }
  }
  const target = await FakeTarget.listen({ onCommand, onIcReq, namespaces: 1, nsBlocks: 2048 })
  let logLines = 0
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines += chunk.toString().split('\n').filter((l) => l.length > 0).length
      cb()
    },
  })
  const logger = pino({ level: 'warn' }, logStream)
  let unhandled = 0
  let uncaught = 0
  let lastUncaught = ''
  const onUnhandled = (): void => void unhandled++
  const onUncaught = (err: Error): void => {
    uncaught++
    lastUncaught = String(err.stack ?? err)
  }
  process.on('unhandledRejection', onUnhandled)
  process.on('uncaughtException', onUncaught)
  const outcomes = emptyOutcomes()
  const violations: Violation[] = []
  let peakRss = 0
  const start = Date.now()
  const first = o.first ?? 0
  let i = first
  const deadline = <T>(p: Promise<T>, ms: number): Promise<T | 'hang'> => {
    let t: NodeJS.Timeout | undefined
    return Promise.race([p, new Promise<'hang'>((res) => (t = setTimeout(() => res('hang'), ms)))]).finally(() => clearTimeout(t))
  }
  try {
    for (; i < first + maxCases && (o.timeMs === undefined || Date.now() - start < o.timeMs); i++) {
      const r = seededRandom(`${seed}:initiator:${i}`)
      const cls = pick(r, ['field', 'length', 'type', 'digest', 'command', 'split', 'session'] as const)
      const digests = cls === 'digest' ? pick(r, [{ hdgst: true, ddgst: false }, { hdgst: false, ddgst: true }, { hdgst: true, ddgst: true }]) : { hdgst: r.int(4) === 0, ddgst: r.int(4) === 0 }
      const firstConn = target.connections.length
      // About 12 commands in bring-up and the I/O below; 1 in 12 cases hits the ICResp.
      plan = { cls, r, k: r.int(13) - 1, seen: 0, firstConn, replies: cls === 'session' ? replies.map((m) => new Map([...m].map(([k, v]) => [k, [...v]]))) : [], input: [] }
      const before = { unhandled, uncaught, logLines }
      const host = new NvmeHost({ logger, controllerDefaults: { ...FAST, ...digests } })
      let outcome: string
      const work = (async (): Promise<string> => {
        try {
          await host.connect({ traddr: '127.0.0.1', trsvcid: target.port, subnqn: SUBNQN })
          const dev = host.device(1, SUBNQN)
          if (dev === undefined) return 'connected-no-ns'
          await dev.write(8, Buffer.alloc(4096, i & 0xff))
          await dev.read(8, 8)
          return 'connected'
        } catch (err) {
          if (err instanceof NvmeStatusError) return 'status'
          if (err instanceof NvmeofError) return 'typed-error'
          violations.push({ kind: 'untyped-error', caseIndex: i, cls, detail: String((err as Error).stack ?? err).slice(0, 600), input: Buffer.concat(plan?.input ?? []).subarray(0, 512).toString('hex') })
          return 'untyped-error'
        }
      })()
      const res = await deadline(work, CASE_DEADLINE_MS)
      const closed = await deadline(host.close(), CASE_DEADLINE_MS)
      outcome = res
      if (res === 'hang' || closed === 'hang') violations.push({ kind: 'hang', caseIndex: i, cls, detail: res === 'hang' ? 'connect/I-O did not settle' : 'close() did not settle' })
      const mine = target.connections.slice(firstConn)
      const leakEnd = Date.now() + 3000
      while (mine.some((c) => !c.socket.destroyed && !c.socket.closed) && Date.now() < leakEnd) await new Promise((res) => setTimeout(res, 5))
      // Read after the close: the TermReq is the last thing the host sends.
      if (mine.some((c) => c.termReqs.length > 0)) outcome = 'termreq'
      const open = mine.filter((c) => !c.socket.destroyed && !c.socket.closed).length
      if (open > 0) violations.push({ kind: 'socket-leak', caseIndex: i, cls, detail: `${open} of ${mine.length} sockets still open 3 s after close()` })
      count(outcomes, cls, outcome)
      // A fresh, well-behaved connection still works.
      plan = undefined
      // Generous deadlines: a loaded machine must not turn a slow probe into a finding.
      const probeHost = new NvmeHost({ controllerDefaults: { ...FAST, adminTimeoutMs: 10_000, ioTimeoutMs: 10_000, connectTimeoutMs: 10_000 } })
      const probe = await deadline(
        probeHost
          .connect({ traddr: '127.0.0.1', trsvcid: target.port, subnqn: SUBNQN })
          .then(async () => (await probeHost.device(1, SUBNQN)?.read(0, 1)) !== undefined)
          .catch(() => false),
        CASE_DEADLINE_MS,
      )
      await deadline(probeHost.close(), CASE_DEADLINE_MS)
      if (probe !== true) violations.push({ kind: 'probe', caseIndex: i, cls, detail: `a fresh host could not connect and read (${String(probe)})` })
      const rss = process.memoryUsage().rss
      peakRss = Math.max(peakRss, rss)
      if (rss > rssLimitMb * 2 ** 20) violations.push({ kind: 'rss', caseIndex: i, cls, detail: `RSS ${(rss / 2 ** 20).toFixed(0)} MiB` })
      if (unhandled > before.unhandled) violations.push({ kind: 'unhandled', caseIndex: i, cls, detail: `${unhandled - before.unhandled} unhandled rejection(s)` })
      if (uncaught > before.uncaught) violations.push({ kind: 'uncaught', caseIndex: i, cls, detail: lastUncaught.slice(0, 600) })
      if (logLines - before.logLines > warnLimit) violations.push({ kind: 'warn-flood', caseIndex: i, cls, detail: `${logLines - before.logLines} log lines` })
      if (target.connections.length > 1000) target.connections.splice(0, target.connections.length - 100)
      if (i % 500 === 499) o.onProgress?.(`initiator: ${i + 1} cases, ${violations.length} violations`)
    }
  } finally {
    process.off('unhandledRejection', onUnhandled)
    process.off('uncaughtException', onUncaught)
    await target.close()
  }
  const elapsedMs = Date.now() - start
  return { side: 'initiator', seed, inputs: i - first, elapsedMs, inputsPerSec: ((i - first) * 1000) / Math.max(1, elapsedMs), outcomes, peakRssMb: peakRss / 2 ** 20, rssLimitMb, violations }
}
