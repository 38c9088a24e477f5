/**
 * Target-side fuzzing: a live target in a child process (fuzz/target-child.ts) gets one input per
 * case on a fresh connection (target-cases.ts). After every case the invariants are checked: the
 * process is up; a TermReq, if any, carries a valid FES; a fresh well-behaved connection (ICReq,
 * Connect, CC.EN) still works; RSS is under the bound; no unhandled rejection; no more than
 * `warnLinesPerCase` log lines. A violation is reported with the seed and case index that replay it.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { seededRandom } from '../lib/clock.js'
import { PduType } from '../lib/pdu/index.js'
import { recordInitiatorSession } from './record.js'
import { emptyOutcomes, count, type FuzzReport, type Violation } from './report.js'
import { bringUp, makeTargetCase } from './target-cases.js'
import { FUZZ_SUBNQN } from './target-child.js'
import { WireClient } from './wire-client.js'

export interface FuzzRunOptions {
  /** Stop after this many cases (default 1000 unless `timeMs`). */
  count?: number
  /** Stop after this long (ms). */
  timeMs?: number
  seed: string | number
  /** First case index (cases are seeded by seed + index, so `first: N, count: 1` replays case N). */
  first?: number
  /** RSS bound in MiB (default 512). */
  rssLimitMb?: number
  /** How long to wait for the answer to an input (default 100 ms). */
  answerMs?: number
  /** Log lines allowed per case before it counts as a warning flood (default 40). */
  warnLinesPerCase?: number
  /** Extra host→target streams to mutate (e.g. from a pcap of the Linux host). */
  sessions?: Buffer[]
  onProgress?: (line: string) => void
}

interface ChildStats {
  rss: number
  unhandled: number
}

class TargetChild {
  readonly proc: ChildProcess
  readonly port: number
  stderrLines = 0
  tail: string[] = []
  exited = false
  #statsWaiter: ((s: ChildStats) => void) | undefined

  private constructor(proc: ChildProcess, port: number) {
    this.proc = proc
    this.port = port
    proc.on('message', (m: { type?: string } & ChildStats) => {
      if (m.type === 'stats') this.#statsWaiter?.(m)
    })
  }

  static start(): Promise<TargetChild> {
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
    const proc = fork(new URL(`./target-child${ext}`, import.meta.url), [], {
      env: { ...process.env, NVMF_FUZZ_CHILD: '1' },
      execArgv: process.execArgv,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    })
    let lines = 0
    const tail: string[] = []
    let child: TargetChild | undefined
    proc.stderr?.setEncoding('utf8')
    proc.stderr?.on('data', (s: string) => {
      const ls = s.split('\n').filter((l) => l.length > 0)
      lines += ls.length
      tail.push(...ls)
      tail.splice(0, Math.max(0, tail.length - 20))
      if (child !== undefined) {
        child.stderrLines = lines
        child.tail = tail
      }
    })
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fuzz target child did not start: ${tail.join('\n')}`)), 60_000)
      proc.once('exit', (code) => {
        clearTimeout(timer)
        if (child !== undefined) child.exited = true
        else reject(new Error(`fuzz target child exited with ${code}: ${tail.join('\n')}`))
      })
      proc.once('message', (m: { type?: string; port?: number }) => {
        clearTimeout(timer)
        child = new TargetChild(proc, m.port ?? 0)
        child.stderrLines = lines
        resolve(child)
      })
    })
  }

  stats(timeoutMs = 5000): Promise<ChildStats | undefined> {
    if (this.exited) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#statsWaiter = undefined
        resolve(undefined)
      }, timeoutMs)
      this.#statsWaiter = (s) => {
        clearTimeout(t)
        this.#statsWaiter = undefined
        resolve(s)
      }
      this.proc.send({ type: 'stats' })
    })
  }

  async stop(): Promise<void> {
    if (this.exited) return
    const gone = new Promise((r) => this.proc.once('exit', r))
    this.proc.send({ type: 'stop' })
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000)
    await gone
    clearTimeout(t)
  }
}

const hex = (bufs: Buffer[]): string => Buffer.concat(bufs).subarray(0, 512).toString('hex')

export async function fuzzTarget(o: FuzzRunOptions): Promise<FuzzReport> {
  const rssLimitMb = o.rssLimitMb ?? 512
  const answerMs = o.answerMs ?? 100
  const warnLimit = o.warnLinesPerCase ?? 40
  const maxCases = o.count ?? (o.timeMs === undefined ? 1000 : Number.MAX_SAFE_INTEGER)
  const seed = String(o.seed)
  let child = await TargetChild.start()
  const outcomes = emptyOutcomes()
  const violations: Violation[] = []
  let peakRss = 0
  let unhandledSeen = 0
  // Real sessions of our initiator (with and without digests) seed the 'session' class.
  const sessions = [...(o.sessions ?? [])]
  for (const d of [{}, { hdgst: true, ddgst: true }]) for (const c of await recordInitiatorSession(child.port, FUZZ_SUBNQN, d)) sessions.push(c.c2t)
  const start = Date.now()
  const first = o.first ?? 0
  let i = first
  try {
    for (; i < first + maxCases && (o.timeMs === undefined || Date.now() - start < o.timeMs); i++) {
      const r = seededRandom(`${seed}:target:${i}`)
      const kase = makeTargetCase(r, FUZZ_SUBNQN, sessions)
      const linesBefore = child.stderrLines
      const opened: WireClient[] = []
      let input: Buffer[] = []
      let outcome = 'setup-failed'
      try {
        let cntlid = 0
        if (kase.prefix === 'io') {
          const admin = await WireClient.connect(child.port)
          opened.push(admin)
          cntlid = (await bringUp(admin, 'admin', FUZZ_SUBNQN, { hdgst: false, ddgst: false })) ?? -1
        }
        const c = await WireClient.connect(child.port)
        opened.push(c)
        const up = cntlid < 0 ? undefined : await bringUp(c, kase.prefix, FUZZ_SUBNQN, kase.digests, cntlid)
        if (up !== undefined) {
          input = await kase.input(c)
          const from = c.pdus.length
          await c.send(input)
          const answer = await c.waitFor(() => true, answerMs, from)
          const term = c.pdus.slice(from).find((p) => p.type === PduType.C2H_TERM_REQ)
          if (term !== undefined) {
            const fes = term.raw.length >= 10 ? term.raw.readUInt16LE(8) : 0
            outcome = 'termreq'
            if (fes < 1 || fes > 6) violations.push({ kind: 'bad-termreq', caseIndex: i, cls: kase.cls, detail: `C2HTermReq FES 0x${fes.toString(16)}`, input: hex(input) })
          } else if (answer === undefined) outcome = c.isClosed ? 'closed' : 'pending'
          else if (answer.type === PduType.CAPSULE_RESP) outcome = answer.raw.readUInt16LE(22) >> 1 !== 0 ? 'status' : 'accepted'
          else if (answer.type === -1) {
            outcome = 'bad-pdu'
            violations.push({ kind: 'bad-termreq', caseIndex: i, cls: kase.cls, detail: `target sent a PDU with PLEN ${answer.raw.readUInt32LE(4)}`, input: hex(input) })
          } else outcome = 'accepted'
        }
      } catch (err) {
        outcome = 'setup-failed'
        o.onProgress?.(`case ${i}: ${String(err)}`)
      } finally {
        for (const c of opened) c.close()
      }
      count(outcomes, kase.cls, outcome)
      // Invariants.
      if (child.exited) {
        violations.push({ kind: 'exit', caseIndex: i, cls: kase.cls, detail: child.tail.slice(-5).join(' | '), input: hex(input) })
        child = await TargetChild.start()
        continue
      }
      const probe = await WireClient.connect(child.port).catch(() => undefined)
      const ok = probe !== undefined && (await bringUp(probe, 'admin', FUZZ_SUBNQN, { hdgst: false, ddgst: false }).catch(() => undefined)) !== undefined
      probe?.close()
      if (!ok) violations.push({ kind: 'probe', caseIndex: i, cls: kase.cls, detail: 'a fresh connection could not ICReq + Connect + enable', input: hex(input) })
      const st = await child.stats()
      if (st !== undefined) {
        peakRss = Math.max(peakRss, st.rss)
        if (st.rss > rssLimitMb * 2 ** 20) violations.push({ kind: 'rss', caseIndex: i, cls: kase.cls, detail: `RSS ${(st.rss / 2 ** 20).toFixed(0)} MiB` })
        if (st.unhandled > unhandledSeen) violations.push({ kind: 'unhandled', caseIndex: i, cls: kase.cls, detail: child.tail.slice(-3).join(' | '), input: hex(input) })
        unhandledSeen = st.unhandled
      }
      const lines = child.stderrLines - linesBefore
      if (lines > warnLimit) violations.push({ kind: 'warn-flood', caseIndex: i, cls: kase.cls, detail: `${lines} log lines: ${child.tail.slice(-2).join(' | ')}`, input: hex(input) })
      if (i % 500 === 499) o.onProgress?.(`target: ${i + 1} cases, ${violations.length} violations`)
    }
  } finally {
    await child.stop()
  }
  const elapsedMs = Date.now() - start
  return { side: 'target', seed, inputs: i - first, elapsedMs, inputsPerSec: ((i - first) * 1000) / Math.max(1, elapsedMs), outcomes, peakRssMb: peakRss / 2 ** 20, rssLimitMb, violations }
}
