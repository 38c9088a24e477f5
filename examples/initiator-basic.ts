/**
 * Library example: connect to a subsystem over both of its ports, write a pattern, read it back and
 * print per-path statistics (state, ANA state, I/O counts, latency percentiles).
 *
 *   node dist/examples/initiator-basic.js                 # starts its own target in-process
 *   node dist/examples/initiator-basic.js 127.0.0.1 4420  # against `npm start`'s default target
 */
import { createTarget, type TargetHandle } from '../target/index.js'
import { NvmeHost } from '../initiator/index.js'

const DEFAULT_NQN = 'nqn.2014-08.org.nvmf-fault:default'

async function main(): Promise<void> {
  const [addr, portArg, nqnArg] = process.argv.slice(2)
  let target: TargetHandle | undefined
  let traddr = addr ?? '127.0.0.1'
  let trsvcid = portArg !== undefined ? Number(portArg) : 0
  const subnqn = nqnArg ?? DEFAULT_NQN
  if (addr === undefined) {
    // No target given: run one here, two ports (ANA optimized / non-optimized), one 16 MiB namespace.
    target = await createTarget({
      ports: [
        { id: 1, address: '127.0.0.1', port: 0, anaStates: { '1': 'optimized' } },
        { id: 2, address: '127.0.0.1', port: 0, anaStates: { '1': 'non-optimized' } },
      ],
      subsystems: [{ nqn: subnqn, allowAnyHost: true, namespaces: [{ nsid: 1, size: '16MiB', blockSize: 512 }] }],
    })
    traddr = '127.0.0.1'
    trsvcid = target.ports[0]!.port
  }
  const host = new NvmeHost({ checkInvariants: true })
  try {
    // "connect-all": every port of every subsystem the discovery log lists.
    const { connected, failed } = await host.connectAll({ traddr, trsvcid })
    for (const f of failed) console.error(`could not connect ${f.entry.traddr}:${f.entry.trsvcid}: ${f.error.message}`)
    console.log(`connected ${connected.length} controller(s)`)
    const dev = host.device(1, subnqn)
    if (dev === undefined) throw new Error(`namespace 1 of ${subnqn} not found`)

    const data = Buffer.alloc(64 * dev.blockSize)
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i)
    await dev.write(128, data)
    const back = await dev.read(128, 64)
    console.log(`wrote and read back ${data.length} bytes at LBA 128: ${back.equals(data) ? 'match' : 'MISMATCH'}`)
    for (let i = 0; i < 200; i++) await dev.read((i * 8) % 4096, 8)
    await dev.flush()

    for (const p of dev.head.paths) {
      const lat = p.qos.policy<import('../initiator/index.js').LatencyTracker>('latency')?.summary().all
      console.log(
        `path ${p.id}: state ${p.state}, ANA state ${p.anaState} (group ${p.anagrpid}), issued ${p.counters.issued}, ` +
          `read ${p.counters.bytesRead} B, written ${p.counters.bytesWritten} B, latency p50 ${lat?.p50 ?? 0} ms p99 ${lat?.p99 ?? 0} ms p99.9 ${lat?.p999 ?? 0} ms`,
      )
    }
    console.log(`QoS invariant violations: ${host.checker?.violations.length ?? 0}`)
  } finally {
    await host.close()
    await target?.close()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
