/**
 * The device API against our target: read/write/flush/writeZeroes/discard, argument validation,
 * Node stream adapters, large transfers (R2T/H2CData honouring MAXH2CDATA), digests, C2HData with
 * the SUCCESS flag (response elision), I/O policies, statistics and path-state events on
 * diagnostics_channel.
 */
import t, { type Test } from 'tap'
import diagnosticsChannel from 'node:diagnostics_channel'
import { pipeline } from 'node:stream/promises'
import { Readable, Writable } from 'node:stream'
import { createTarget, type TargetHooks } from '../../target/index.js'
import { NvmeHost, type HostOptions } from '../../initiator/host.js'
import { INITIATOR_CHANNELS, type PathStateEvent } from '../../initiator/index.js'
import { PduFlags, PduType } from '../../lib/pdu/common.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:initiator-api'

async function rig(t: Test, o: { hooks?: TargetHooks; host?: HostOptions; digests?: boolean } = {}) {
  const target = await createTarget({
    ports: [
      { id: 1, address: '127.0.0.1', port: 0 },
      { id: 2, address: '127.0.0.1', port: 0 },
    ],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: true, namespaces: [{ nsid: 1, size: '4MiB', blockSize: 512 }] }],
    ...(o.hooks !== undefined ? { hooks: o.hooks } : {}),
  })
  const host = new NvmeHost({ checkInvariants: true, ...o.host })
  t.teardown(async () => {
    await host.close()
    await target.close()
  })
  for (const p of target.ports) await host.connect({ traddr: '127.0.0.1', trsvcid: p.port, subnqn: SUBNQN, hdgst: o.digests === true, ddgst: o.digests === true })
  return { target, host, dev: host.device(1)! }
}

t.test('read, write, flush, writeZeroes, discard; arguments validated', async (t) => {
  const { target, dev } = await rig(t)
  t.equal(dev.blockSize, 512)
  t.equal(dev.info.capacityBytes, 4n * 1024n * 1024n)
  await dev.write(10, Buffer.alloc(1024, 0x11))
  t.same(await dev.read(10, 2), Buffer.alloc(1024, 0x11))
  await dev.flush()
  await dev.writeZeroes(10, 1)
  t.same(await dev.read(10, 2), Buffer.concat([Buffer.alloc(512), Buffer.alloc(512, 0x11)]))
  await dev.discard(11, 1)
  t.same(await target.readNamespace(SUBNQN, 1, 11 * 512, 512), Buffer.alloc(512), 'discarded block reads zero on this target')
  await t.rejects(dev.write(0, Buffer.alloc(100)), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'data' })
  t.throws(() => dev.read(-1, 1), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'slba' })
  t.throws(() => dev.read(0, 0), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'nlb' })
  t.throws(() => dev.read(8191, 2), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'slba' })
  t.throws(() => dev.read(1.5, 1), { code: 'ERR_NVMEOF_INVALID_ARG', field: 'slba' })
})

t.test('large transfers: 3 MiB write (R2T + H2CData in MAXH2CDATA pieces) and read', async (t) => {
  let h2c = 0
  let maxDatal = 0
  const { dev } = await rig(t, {
    hooks: {
      onPduReceived(_ctx, rx) {
        if (rx.pdu.type === PduType.H2C_DATA) {
          h2c++
          maxDatal = Math.max(maxDatal, rx.pdu.data.length)
        }
        return { action: 'pass' }
      },
    },
  })
  const big = Buffer.alloc(3 << 20)
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, i)
  await dev.write(0, big)
  t.same(await dev.read(0, 6144), big, '3 MiB read back (split at MDTS / 1 MiB per command)')
  t.ok(h2c >= 2, `${h2c} H2CData PDUs, largest ${maxDatal} bytes`)
})

t.test('header and data digests', async (t) => {
  const { dev } = await rig(t, { digests: true })
  const b = Buffer.alloc(64 * 1024, 0x3c)
  await dev.write(100, b)
  t.same(await dev.read(100, 128), b)
})

t.test('C2HData with SUCCESS: the host completes the read without a CapsuleResp', async (t) => {
  const elided = new Set<number>()
  let used = 0
  const { dev } = await rig(t, {
    hooks: {
      onPduSend(ctx, tx) {
        const pdu = tx.pdu
        if ((ctx.qid ?? 0) === 0) return { action: 'pass' }
        if (pdu.type === PduType.C2H_DATA && pdu.last && !pdu.success && tx.parts.length === 2) {
          // Turn on SUCCESS (with LAST_PDU) and swallow the CapsuleResp that follows (wire ref 10.2).
          const hdr = Buffer.from(tx.parts[0]!)
          hdr[1] = hdr[1]! | PduFlags.SUCCESS
          elided.add(pdu.cccid)
          used++
          return { action: 'mutate', parts: [hdr, tx.parts[1]!] }
        }
        if (pdu.type === PduType.CAPSULE_RESP && elided.has(pdu.cqe.readUInt16LE(12))) {
          elided.delete(pdu.cqe.readUInt16LE(12))
          return { action: 'drop' }
        }
        return { action: 'pass' }
      },
    },
  })
  await dev.write(0, Buffer.alloc(4096, 0x77))
  for (let i = 0; i < 5; i++) t.same(await dev.read(0, 8), Buffer.alloc(4096, 0x77))
  t.ok(used >= 5, `${used} reads completed by SUCCESS`)
})

t.test('streams: write stream then read stream', async (t) => {
  const { dev } = await rig(t)
  const data = Buffer.alloc(40 * 512)
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff
  const chunks = [data.subarray(0, 700), data.subarray(700, 5000), data.subarray(5000)]
  await pipeline(Readable.from(chunks), dev.createWriteStream({ start: 512 * 8 }))
  const got: Buffer[] = []
  await pipeline(
    dev.createReadStream({ start: 512 * 8, end: 512 * 48, chunkBlocks: 7 }),
    new Writable({
      write(c: Buffer, _e, cb) {
        got.push(c)
        cb()
      },
    }),
  )
  t.same(Buffer.concat(got), data)
  await t.rejects(pipeline(Readable.from([Buffer.alloc(100)]), dev.createWriteStream()), { field: 'data' } as never, 'partial block refused')
})

t.test('policies: round-robin spreads, queue-depth picks; stats and path-state events', async (t) => {
  const events: PathStateEvent[] = []
  const sub = (m: unknown): void => {
    events.push(m as PathStateEvent)
  }
  diagnosticsChannel.subscribe(INITIATOR_CHANNELS.pathState, sub)
  t.teardown(() => diagnosticsChannel.unsubscribe(INITIATOR_CHANNELS.pathState, sub))
  const { host, dev, target } = await rig(t, { host: { iopolicy: 'round-robin' } })
  for (let i = 0; i < 20; i++) await dev.read(i, 1)
  const [a, b] = dev.head.paths
  t.ok(a!.counters.issued >= 9 && b!.counters.issued >= 9, `round-robin: ${a!.counters.issued} / ${b!.counters.issued}`)
  dev.head.policy = 'queue-depth'
  await Promise.all(Array.from({ length: 32 }, (_, i) => dev.read(i, 1)))
  t.ok(a!.counters.issued + b!.counters.issued >= 52)
  const st = host.stats() as { controllers: unknown[]; devices: unknown[] }
  t.equal(st.controllers.length, 2)
  t.equal(st.devices.length, 1)
  t.ok(events.some((e) => e.to === 'live' && e.from === 'connecting'), 'connecting -> live published')
  target.setAnaState({ portId: 2, grpid: 1, state: 'inaccessible' })
  const end = Date.now() + 30_000
  while (Date.now() < end && !events.some((e) => e.to === 'inaccessible')) await new Promise((r) => setTimeout(r, 5))
  t.ok(events.some((e) => e.to === 'inaccessible' && e.pathId === b!.id), 'live -> inaccessible published')
})

t.test('more concurrent I/O than queue slots: commands wait for a slot, no spurious failover', async (t) => {
  const { dev } = await rig(t, { host: { controllerDefaults: { queueSize: 16, nrIoQueues: 1 } } })
  await dev.write(0, Buffer.alloc(512 * 64, 0x21))
  const reads = await Promise.all(Array.from({ length: 200 }, (_, i) => dev.read(i % 64, 1)))
  t.ok(reads.every((b) => b.equals(Buffer.alloc(512, 0x21))), '200 concurrent reads on 2 × 16 slots')
  t.equal(dev.head.counters.failovers, 0)
  t.equal(dev.head.counters.failed, 0)
})

t.test('a bad C2H data digest completes the read with Data Transfer Error and is retried; the connection stays', async (t) => {
  let corrupted = 0
  let c2hForRead = 0
  let connections = 0
  const armed = { on: false }
  const { dev } = await rig(t, {
    digests: true,
    hooks: {
      onConnection() {
        connections++
        return { action: 'pass' }
      },
      onPduSend(ctx, tx) {
        const pdu = tx.pdu
        if ((ctx.qid ?? 0) === 0 || pdu.type !== PduType.C2H_DATA || !armed.on) return { action: 'pass' }
        c2hForRead++
        if (corrupted > 0 || tx.parts.length !== 3) return { action: 'pass' }
        // Flip one bit of the DDGST (the last part): the host must see a data digest mismatch.
        corrupted++
        const ddgst = Buffer.from(tx.parts[2]!)
        ddgst[0] = ddgst[0]! ^ 0x01
        return { action: 'mutate', parts: [tx.parts[0]!, tx.parts[1]!, ddgst] }
      },
    },
  })
  const b = Buffer.alloc(4096, 0x5a)
  await dev.write(8, b)
  const before = connections
  armed.on = true
  t.same(await dev.read(8, 8), b, 'the read returns the right data after the retry')
  t.equal(corrupted, 1, 'one C2HData went out with a bad data digest')
  t.ok(c2hForRead >= 2, `the read was sent again (${c2hForRead} C2HData PDUs)`)
  t.equal(connections, before, 'no reconnect: a data digest error is not transport-fatal')
  t.equal(dev.head.counters.retries, 1, 'completed with Data Transfer Error and retried on the same path (wire reference 8.2 rule 6)')
  t.equal(dev.head.counters.failovers, 0, 'no failover: the path was not torn down')
  t.ok(dev.head.paths.every((p) => p.state === 'live'), 'every path is still live')
})
