/**
 * Namespace references held by commands (issue 3: "changes are atomic with respect to in-flight
 * I/O"; a removal waits for in-flight commands and never closes a store under a running operation).
 * One subtest per path that ends a request: normal completion; an onCommand 'drop'; connection
 * faults other than 'stall'; a delay timer firing after the request is gone; a data fetch that fails
 * or finishes after the request is gone; a hook result arriving after the request is gone;
 * connection teardown; a running store operation (file store on a real temp file, held by a
 * test-only gated store). Each asserts through public accessors that the reference count returns to
 * 0 and that `removeNamespace` resolves within a bounded wait. Last, decisions that do not apply at
 * the command seams ('mutate', 'segment', unknown) are treated as 'pass' with a warning.
 */
import t, { type Test } from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { createLoopbackTarget, LoopbackQueue, type Decision, type LoopbackTarget, type TargetHandle } from '../../target/index.js'
import { RawHost, waitFor, withTimeout, HOSTID, HOSTNQN } from '../helpers/raw-host.js'
import { startTarget, portOf, testOptions, SUBNQN } from './helpers/fixture.js'
import { PduType } from '../../lib/pdu/index.js'
import { IoOpcode } from '../../lib/nvme/opcodes.js'
import { makeSqe, rwDwords, type Sqe } from '../../lib/nvme/sqe.js'
import { sglInCapsule, sglTransportDataBlock } from '../../lib/nvme/sgl.js'
import { encodeConnectData, makeConnectSqe, makePropertySetSqe, Property } from '../../lib/nvme/fabrics.js'
import { ManualClock } from '../../lib/clock.js'
import { NvmeStatus, STATUS_DNR } from '../../lib/status.js'
import { FileStore, type NamespaceStore } from '../../target/core/namespace-store.js'
import type { Request } from '../../target/core/request.js'

/** Every removal and every wait here is bounded: a leaked reference fails the test, never hangs it. */
const BOUND_MS = 5000
const PASS: Decision = { action: 'pass' }

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len)
  for (let i = 0; i < len; i++) b[i] = (i * 13 + seed * 7 + 1) & 0xff
  return b
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((r) => (open = r))
  return { promise, open }
}

/** Let pending callbacks (hook continuations, socket events) run. */
function turns(): Promise<void> {
  return new Promise((r) => setTimeout(r, 20))
}

function tracked(p: Promise<void>): { settled: boolean; promise: Promise<void> } {
  const s = { settled: false, promise: p }
  p.then(
    () => (s.settled = true),
    () => (s.settled = true),
  )
  return s
}

async function removedWithin(t: Test, p: Promise<void>, what: string): Promise<void> {
  await t.resolves(withTimeout(p, BOUND_MS, `removeNamespace (${what})`), `removeNamespace resolves (${what})`)
}

// ---- TCP target: accessors through the handle's status() ------------------------------------------

function nsInflight(target: TargetHandle, nsid = 1): number {
  const n = target.status().subsystems.find((s) => s.nqn === SUBNQN)?.namespaces.find((x) => x.nsid === nsid)
  if (n === undefined) throw new Error(`no namespace ${nsid}`)
  return n.inflight
}

function ioQueueInflight(target: TargetHandle, cntlid: number): number | undefined {
  return target.status().controllers.find((c) => c.cntlid === cntlid)?.queues.find((q) => q.qid === 1)?.inflight
}

async function ioQueue(t: Test, target: TargetHandle, o: { ddgst?: boolean } = {}): Promise<{ admin: RawHost; io: RawHost; cntlid: number }> {
  const port = portOf(target)
  const admin = await RawHost.connect({ port })
  t.teardown(() => admin.destroy())
  const cntlid = await admin.connectAdmin({ subnqn: SUBNQN })
  const io = await RawHost.connect({ port, ddgst: o.ddgst === true })
  t.teardown(() => io.destroy())
  const c = await io.connectCmd({ qid: 1, subnqn: SUBNQN, cntlid })
  if (c.cqe.status !== 0) throw new Error(`I/O connect failed 0x${c.cqe.status.toString(16)}`)
  return { admin, io, cntlid }
}

function readSqe(cid: number, nsid: number, slba: bigint, blocks: number): Sqe {
  return makeSqe({ opc: IoOpcode.READ, cid, nsid, ...rwDwords({ slba, nlb: blocks - 1 }), sgl: sglTransportDataBlock(blocks * 512) })
}

/** A command promise whose rejection (connection gone) is expected. */
function expectGone<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined)
  return p
}

// ---- loopback target: accessors through the core (Subsystem.inflight) -------------------------------

async function loopbackIo(lt: LoopbackTarget, makeIo: (portId: number) => LoopbackQueue = (portId) => lt.loopback.connect({ portId })): Promise<{ aq: LoopbackQueue; iq: LoopbackQueue }> {
  const aq = lt.loopback.connect({ portId: 1 })
  const con = await aq.submit(makeConnectSqe({ cid: 1, qid: 0, sqsize: 31, kato: 0 }), encodeConnectData({ hostid: HOSTID, cntlid: 0xffff, subnqn: SUBNQN, hostnqn: HOSTNQN }), { inCapsule: true })
  if (con.cqe.status !== 0) throw new Error('admin Connect failed')
  const cntlid = con.cqe.dw0 & 0xffff
  if ((await aq.submit(makePropertySetSqe({ cid: 2, ofst: Property.CC, size: 4, value: 0x460001n }))).cqe.status !== 0) throw new Error('CC.EN failed')
  const iq = makeIo(1)
  const c = await iq.submit(makeConnectSqe({ cid: 1, qid: 1, sqsize: 15 }), encodeConnectData({ hostid: HOSTID, cntlid, subnqn: SUBNQN, hostnqn: HOSTNQN }), { inCapsule: true })
  if (c.cqe.status !== 0) throw new Error('I/O Connect failed')
  return { aq, iq }
}

function writeSqe(cid: number, nsid: number, slba: bigint, data: Buffer, inCapsule: boolean): Sqe {
  return makeSqe({ opc: IoOpcode.WRITE, cid, nsid, ...rwDwords({ slba, nlb: data.length / 512 - 1 }), sgl: inCapsule ? sglInCapsule(data.length) : sglTransportDataBlock(data.length) })
}

/**
 * The loopback transport with its data fetch held until the test lets it finish: the only way to
 * have a fetch finish after its request is gone (over TCP a teardown fails pending transfers first).
 * The data itself comes from the real loopback `fetchData`, taken when the fetch starts.
 */
class HeldFetchLoopbackQueue extends LoopbackQueue {
  readonly held: Array<() => void> = []
  override fetchData(req: Request): Promise<Buffer | number> {
    const data = super.fetchData(req)
    data.catch(() => undefined)
    return new Promise((resolve, reject) => this.held.push(() => void data.then(resolve, reject)))
  }
}

/**
 * Test-only store: a real {@link FileStore} on a temp file whose writes wait for a gate, so a store
 * operation is running for as long as the test wants (no timing luck). Records the order of events.
 */
class GatedFileStore implements NamespaceStore {
  readonly kind = 'file' as const
  readonly events: string[] = []
  readonly gate = gate()
  readonly #inner: FileStore
  constructor(inner: FileStore) {
    this.#inner = inner
  }
  get size(): number {
    return this.#inner.size
  }
  read(offset: number, length: number): Promise<Buffer> {
    return this.#inner.read(offset, length)
  }
  async write(offset: number, data: Buffer): Promise<void> {
    this.events.push('write-start')
    await this.gate.promise
    await this.#inner.write(offset, data)
    this.events.push('write-end')
  }
  writeZeroes(offset: number, length: number): Promise<void> {
    return this.#inner.writeZeroes(offset, length)
  }
  deallocate(offset: number, length: number): Promise<void> {
    return this.#inner.deallocate(offset, length)
  }
  flush(): Promise<void> {
    return this.#inner.flush()
  }
  resize(size: number): Promise<void> {
    return this.#inner.resize(size)
  }
  async close(): Promise<void> {
    this.events.push('close')
    await this.#inner.close()
  }
  allocatedBytes(): number {
    return this.#inner.allocatedBytes()
  }
}

const silent: Logger = pino({ level: 'silent' })

// ==== the paths ==========================================================================================

t.test('normal completion releases the reference', async (t) => {
  const target = await startTarget(t)
  const { io } = await ioQueue(t, target)
  const atCommand: number[] = []
  target.setHooks({
    onCommand: (_ctx, cmd) => {
      if (cmd.nsid === 1) atCommand.push(nsInflight(target))
      return PASS
    },
  })
  const a = pattern(1024, 1)
  const b = pattern(8192, 2)
  t.equal((await io.write(1, 0n, a, { inCapsule: true })).cqe.status, 0, 'in-capsule write')
  t.equal((await io.write(1, 2n, b)).cqe.status, 0, 'R2T write')
  const r = await io.read(1, 0n, 18)
  t.equal(r.cqe.status, 0, 'read')
  t.same(r.data, Buffer.concat([a, b]), 'data read back')
  t.same(atCommand, [1, 1, 1], 'each command held one reference while it ran')
  t.equal(nsInflight(target), 0, 'every completion released its reference')
  target.setHooks(undefined)
  await removedWithin(t, target.removeNamespace(SUBNQN, 1), 'after completions')
  t.equal((await io.read(1, 0n, 1)).cqe.status, NvmeStatus.INVALID_NS | STATUS_DNR, 'then Invalid Namespace')
})

t.test("onCommand 'drop' releases the reference; the command stays in flight", async (t) => {
  const target = await startTarget(t)
  const { io, cntlid } = await ioQueue(t, target)
  let atCommand = -1
  let decided = false
  target.setHooks({
    onCommand: (_ctx, cmd) => {
      if (cmd.opc !== IoOpcode.READ) return PASS
      atCommand = nsInflight(target)
      decided = true
      return { action: 'drop' }
    },
  })
  io.post(readSqe(io.nextCid(), 1, 0n, 1))
  await waitFor(() => decided, 'onCommand asked')
  await turns()
  t.equal(atCommand, 1, 'the dropped command held a reference at the seam')
  t.equal(ioQueueInflight(target, cntlid), 1, 'dropped command is still in flight (never completed)')
  t.equal(nsInflight(target), 0, 'but no longer holds the namespace')
  await removedWithin(t, target.removeNamespace(SUBNQN, 1), 'dropped command in flight')
  t.equal(ioQueueInflight(target, cntlid), 1, 'still never completed after the removal')
})

t.test("connection faults other than 'stall' release the reference", async (t) => {
  const faults: Decision[] = [{ action: 'close' }, { action: 'reset' }, { action: 'termReq', fes: 0x02 }]
  for (const fault of faults) {
    await t.test(fault.action, async (t) => {
      const target = await startTarget(t)
      const { io } = await ioQueue(t, target)
      let atCommand = -1
      target.setHooks({
        onCommand: (_ctx, cmd) => {
          if (cmd.opc !== IoOpcode.READ) return PASS
          atCommand = nsInflight(target)
          return fault
        },
      })
      await t.rejects(io.read(1, 0n, 1), 'the read dies with its connection')
      t.equal(atCommand, 1, 'it held a reference at the seam')
      await waitFor(() => nsInflight(target) === 0, 'reference released', BOUND_MS)
      t.equal(nsInflight(target), 0, `released after '${fault.action}'`)
      await removedWithin(t, target.removeNamespace(SUBNQN, 1), fault.action)
    })
  }
  await t.test("'stall' (contrast): the command still executes and completes", async (t) => {
    const target = await startTarget(t)
    const { io } = await ioQueue(t, target)
    target.setHooks({ onCommand: (_ctx, cmd) => (cmd.opc === IoOpcode.READ ? { action: 'stall', ms: 20 } : PASS) })
    t.equal((await io.read(1, 0n, 1)).cqe.status, 0, 'completed after the stall')
    t.equal(nsInflight(target), 0, 'released at completion')
    await removedWithin(t, target.removeNamespace(SUBNQN, 1), 'stall')
  })
})

t.test('a delay timer firing after the request is gone', async (t) => {
  // Manual clock: the delay fires exactly when the test advances it, after the teardown.
  const clock = new ManualClock()
  const target = await startTarget(t, { clock })
  const { io, cntlid } = await ioQueue(t, target)
  let delayed = false
  target.setHooks({
    onCommand: (_ctx, cmd) => {
      if (cmd.opc !== IoOpcode.WRITE) return PASS
      delayed = true
      return { action: 'delay', ms: 1000 }
    },
  })
  const data = pattern(1024, 3)
  const w = expectGone(io.write(1, 40n, data, { inCapsule: true }))
  await waitFor(() => delayed, 'onCommand asked')
  await turns()
  t.equal(nsInflight(target), 1, 'the delayed command holds its reference')
  io.destroy()
  await t.rejects(w, 'the host never gets an answer')
  await waitFor(() => ioQueueInflight(target, cntlid) === undefined, 'I/O queue torn down', BOUND_MS)
  t.equal(nsInflight(target), 0, 'released at teardown')
  clock.advance(1000)
  await turns()
  t.equal(nsInflight(target), 0, 'the late timer neither re-takes nor double-releases')
  t.same(await target.readNamespace(SUBNQN, 1, 40 * 512, 1024), Buffer.alloc(1024), 'the late timer did not execute the write')
  await removedWithin(t, target.removeNamespace(SUBNQN, 1), 'late delay timer')
})

t.test('a data fetch that fails', async (t) => {
  await t.test('connection lost while waiting for H2CData', async (t) => {
    const target = await startTarget(t)
    const { io } = await ioQueue(t, target)
    // The target never sees the data: the transfer stays pending until the connection goes.
    target.setHooks({ onPduReceived: (_ctx, rx) => (rx.pdu.type === PduType.H2C_DATA ? { action: 'drop' } : PASS) })
    const w = expectGone(io.write(1, 8n, pattern(8192, 4)))
    await waitFor(() => io.received.some((p) => p.type === PduType.R2T), 'R2T sent', BOUND_MS)
    t.equal(nsInflight(target), 1, 'the write waiting for data holds its reference')
    const removal = tracked(target.removeNamespace(SUBNQN, 1))
    await turns()
    t.equal(removal.settled, false, 'removal waits for the write')
    io.destroy()
    await t.rejects(w, 'the write dies with its connection')
    await removedWithin(t, removal.promise, 'fetch rejected')
  })
  await t.test('data digest error (the fetch resolves with a status)', async (t) => {
    const target = await startTarget(t)
    const { io } = await ioQueue(t, target, { ddgst: true })
    io.corruptNextH2CDigest = true
    const w = await io.write(1, 8n, pattern(8192, 5))
    t.equal(w.cqe.status & 0x7ff, NvmeStatus.TRANSIENT_TR_ERR, 'completed with Transient Transport Error')
    t.equal(nsInflight(target), 0, 'released at that completion')
    await removedWithin(t, target.removeNamespace(SUBNQN, 1), 'digest error')
  })
})

t.test('a data fetch that finishes after the request is gone (loopback)', async (t) => {
  const lt = await createLoopbackTarget(testOptions())
  t.teardown(() => lt.close())
  const sub = lt.core.subsystems.get(SUBNQN)!
  let held: HeldFetchLoopbackQueue | undefined
  const { iq } = await loopbackIo(lt, (portId) => (held = new HeldFetchLoopbackQueue(lt.core, portId, 1000, silent)))
  t.ok(held === iq, 'I/O queue with a held data fetch')
  const data = pattern(2048, 6)
  const w = expectGone(iq.submit(writeSqe(7, 1, 16n, data, false), data))
  await waitFor(() => held!.held.length === 1, 'data fetch started', BOUND_MS)
  t.equal(sub.inflight(1), 1, 'the write waiting for data holds its reference')
  iq.close('test: connection gone')
  await t.rejects(w, 'the write dies with its queue')
  t.equal(sub.inflight(1), 0, 'released at teardown')
  held!.held[0]!()
  await turns()
  t.equal(sub.inflight(1), 0, 'the late data neither re-takes nor double-releases')
  t.same(await sub.get(1)!.store.read(16 * 512, 2048), Buffer.alloc(2048), 'the late data was not written')
  await removedWithin(t, sub.removeNamespace(1), 'late data')
})

t.test('a hook result arriving after the request is gone', async (t) => {
  const target = await startTarget(t)
  const { io, cntlid } = await ioQueue(t, target)
  const g = gate()
  let entered = false
  let returned = false
  target.setHooks({
    onCommand: async (_ctx, cmd) => {
      if (cmd.opc !== IoOpcode.WRITE) return PASS
      entered = true
      await g.promise
      returned = true
      return PASS
    },
  })
  const data = pattern(1024, 7)
  const w = expectGone(io.write(1, 24n, data, { inCapsule: true }))
  await waitFor(() => entered, 'onCommand entered', BOUND_MS)
  t.equal(nsInflight(target), 1, 'held while the hook runs')
  io.destroy()
  await t.rejects(w)
  await waitFor(() => ioQueueInflight(target, cntlid) === undefined, 'I/O queue torn down', BOUND_MS)
  t.equal(nsInflight(target), 0, 'released at teardown')
  g.open()
  await waitFor(() => returned, 'hook returned', BOUND_MS)
  await turns()
  t.equal(nsInflight(target), 0, "the late 'pass' neither re-takes nor double-releases")
  t.same(await target.readNamespace(SUBNQN, 1, 24 * 512, 1024), Buffer.alloc(1024), "the late 'pass' did not execute the write")
  await removedWithin(t, target.removeNamespace(SUBNQN, 1), 'late hook result')
})

t.test('connection teardown releases every held reference', async (t) => {
  const target = await startTarget(t)
  const { io } = await ioQueue(t, target)
  const g = gate()
  t.teardown(() => g.open())
  target.setHooks({
    // A read held in the command hook, a write waiting for data the target never sees.
    onCommand: async (_ctx, cmd) => {
      if (cmd.opc === IoOpcode.READ) await g.promise
      return PASS
    },
    onPduReceived: (_ctx, rx) => (rx.pdu.type === PduType.H2C_DATA ? { action: 'drop' } : PASS),
  })
  const r = expectGone(io.read(1, 0n, 1))
  const w = expectGone(io.write(1, 8n, pattern(4096, 8)))
  await waitFor(() => nsInflight(target) === 2, 'two references held', BOUND_MS)
  const removal = tracked(target.removeNamespace(SUBNQN, 1))
  await turns()
  t.equal(removal.settled, false, 'removal waits for both commands')
  t.equal(target.deleteControllers({ subnqn: SUBNQN }), 1, 'controller deleted (its queues torn down)')
  await removedWithin(t, removal.promise, 'teardown')
  t.equal(removal.settled, true, 'resolved before the held hook returned')
  await t.rejects(r)
  await t.rejects(w)
})

t.test('a running store operation keeps its reference; removal waits for it (file store)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nvmf-ns-refs-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  async function gatedNamespace(lt: LoopbackTarget, nsid: number): Promise<{ store: GatedFileStore; path: string }> {
    const path = join(dir, `ns${nsid}.img`)
    const store = new GatedFileStore(await FileStore.open({ path, size: 1 << 20 }))
    lt.core.subsystems.get(SUBNQN)!.addNamespace({ nsid, store, blocks: BigInt((1 << 20) / 512), blockSize: 512, anagrpid: 1 })
    return { store, path }
  }

  await t.test('removal while the write runs on a live queue', async (t) => {
    const lt = await createLoopbackTarget(testOptions())
    t.teardown(() => lt.close())
    const sub = lt.core.subsystems.get(SUBNQN)!
    const { store, path } = await gatedNamespace(lt, 3)
    const { iq } = await loopbackIo(lt)
    const data = pattern(4096, 9)
    const w = iq.submit(writeSqe(9, 3, 32n, data, true), data, { inCapsule: true })
    await waitFor(() => store.events.includes('write-start'), 'store write running', BOUND_MS)
    t.equal(sub.inflight(3), 1, 'the running write holds its reference')
    const removal = tracked(sub.removeNamespace(3))
    await turns()
    t.equal(removal.settled, false, 'removal waits while the write runs')
    t.same(store.events, ['write-start'], 'store not closed under the running write')
    store.gate.open()
    t.equal((await withTimeout(w, BOUND_MS, 'write')).cqe.status, 0, 'the write completes')
    await removedWithin(t, removal.promise, 'after the write')
    t.same(store.events, ['write-start', 'write-end', 'close'], 'closed only after the write finished')
    t.same((await readFile(path)).subarray(32 * 512, 32 * 512 + 4096), data, 'the data reached the file')
  })

  await t.test('teardown while the write runs', async (t) => {
    const lt = await createLoopbackTarget(testOptions())
    t.teardown(() => lt.close())
    const sub = lt.core.subsystems.get(SUBNQN)!
    const { store, path } = await gatedNamespace(lt, 4)
    const { iq } = await loopbackIo(lt)
    const data = pattern(4096, 10)
    const w = expectGone(iq.submit(writeSqe(9, 4, 64n, data, true), data, { inCapsule: true }))
    await waitFor(() => store.events.includes('write-start'), 'store write running', BOUND_MS)
    iq.close('test: connection gone')
    await t.rejects(w, 'no response after the teardown')
    t.equal(sub.inflight(4), 1, 'the teardown leaves the reference to the running write')
    const removal = tracked(sub.removeNamespace(4))
    await turns()
    t.equal(removal.settled, false, 'removal waits for the running write')
    t.same(store.events, ['write-start'], 'store not closed under the running write')
    store.gate.open()
    await removedWithin(t, removal.promise, 'after the orphaned write')
    t.same(store.events, ['write-start', 'write-end', 'close'], 'closed only after the write finished')
    t.same((await readFile(path)).subarray(64 * 512, 64 * 512 + 4096), data, 'the write finished before the close')
  })
})

// ==== decisions that do not apply at the command seams =====================================================

t.test("'mutate'/'segment'/unknown at onCommand or onCompletion are treated as 'pass' with a warning", async (t) => {
  const records: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'warn' }, { write: (s: string) => void records.push(JSON.parse(s) as Record<string, unknown>) })
  const target = await startTarget(t, { logger })
  const { io, cntlid } = await ioQueue(t, target)
  const data = pattern(2048, 11)
  t.equal((await io.write(1, 0n, data, { inCapsule: true })).cqe.status, 0)
  const cases: Array<{ seam: 'onCommand' | 'onCompletion'; d: Decision; action: string }> = [
    { seam: 'onCommand', d: { action: 'mutate', parts: [Buffer.alloc(8)] }, action: 'mutate' },
    { seam: 'onCommand', d: { action: 'segment', sizes: [1, 2, 3] }, action: 'segment' },
    { seam: 'onCompletion', d: { action: 'mutate', parts: [Buffer.alloc(8)] }, action: 'mutate' },
    { seam: 'onCompletion', d: { action: 'segment', sizes: [4], gapMs: 1 }, action: 'segment' },
    // What a plain-JS fault plugin might hand back.
    { seam: 'onCommand', d: { action: 'bogus' } as unknown as Decision, action: 'bogus' },
    { seam: 'onCompletion', d: undefined as unknown as Decision, action: 'undefined' },
  ]
  for (const c of cases) {
    const what = `${c.action} at ${c.seam}`
    target.setHooks(c.seam === 'onCommand' ? { onCommand: () => c.d } : { onCompletion: () => c.d })
    const r = await io.read(1, 0n, 4)
    t.equal(r.cqe.status, 0, `${what}: the read completes`)
    t.same(r.data, data, `${what}: with its data`)
    const bad = await io.read(9, 0n, 1)
    t.equal(bad.cqe.status, NvmeStatus.INVALID_NS | STATUS_DNR, `${what}: an error status is kept`)
    t.equal(ioQueueInflight(target, cntlid), 0, `${what}: nothing stranded in flight`)
    t.equal(nsInflight(target), 0, `${what}: no reference held`)
    t.ok(
      records.some((rec) => rec.level === 40 && rec.seam === c.seam && rec.action === c.action),
      `${what}: warning names the seam and the action`,
    )
  }
  target.setHooks(undefined)
  await removedWithin(t, target.removeNamespace(SUBNQN, 1), 'after inapplicable decisions')
})
