/**
 * A user-defined fault type: "bad-blocks" fails reads of chosen LBAs with Unrecovered Read Error
 * (SCT 2h SC 81h), like dm-dust's bad block list, and "heals" a block when it is written (dm-dust
 * removes a bad block on write). Registered on one target's fault engine; nothing global.
 *
 *   node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs examples/fault-plugin.ts
 *   (or, after `npm run build`: node dist/examples/fault-plugin.js)
 */
import { ConfigError } from '../lib/errors.js'
import { NvmeStatus } from '../lib/status.js'
import { createTarget } from '../target/index.js'
import { attachFaults, type FaultRegistry, type FaultTypeDefinition, type JsonObject } from '../faults/index.js'

interface BadBlocksConfig {
  lbas: Set<bigint>
}

export const badBlocks: FaultTypeDefinition<BadBlocksConfig> = {
  seams: ['command'],
  description: 'fail reads touching listed LBAs with Unrecovered Read Error; a write heals them',
  parseConfig(json: JsonObject, path: string): BadBlocksConfig {
    const lbas = json.lbas
    if (!Array.isArray(lbas) || lbas.length === 0) throw new ConfigError(`${path}.lbas`, 'must be a non-empty list of LBAs')
    return {
      lbas: new Set(
        lbas.map((v, i) => {
          if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ConfigError(`${path}.lbas[${i}]`, 'must be a non-negative integer')
          return BigInt(v)
        }),
      ),
    }
  },
  create(config) {
    return {
      decide(ev) {
        if (ev.seam !== 'command' || ev.cmd.slba === undefined) return undefined
        const first = ev.cmd.slba
        const last = first + BigInt(ev.cmd.nlb ?? 0) // NLB is 0's based
        const hit = [...config.lbas].filter((l) => l >= first && l <= last)
        if (hit.length === 0) return undefined
        if (ev.cmd.opc === 0x01) {
          for (const l of hit) config.lbas.delete(l) // a write remaps (heals) the block
          return undefined
        }
        if (ev.cmd.opc === 0x02) return { action: 'complete', status: NvmeStatus.READ_ERROR }
        return undefined
      },
    }
  },
}

/** Register the example type on an engine's registry (each target has its own). */
export function registerBadBlocks(registry: FaultRegistry): void {
  registry.register('bad-blocks', badBlocks)
}

async function main(): Promise<void> {
  const target = await createTarget({ ports: [{ id: 1, address: '127.0.0.1', port: 0 }], subsystems: [{ nqn: 'nqn.2026-01.io.nvmf-fault:plugin-demo', namespaces: [{ nsid: 1, size: '64MiB' }] }] })
  const faults = await attachFaults(target, { seed: 1 })
  registerBadBlocks(faults.engine.registry)
  const id = faults.engine.add({ type: 'bad-blocks', match: { nsids: [1] }, params: { lbas: [100, 2048] } })
  const port = target.ports[0]!.port
  process.stdout.write(`fault ${id} installed; reads of LBA 100 or 2048 on 127.0.0.1:${port} fail with Unrecovered Read Error until written\n`)
  process.stdout.write(`${JSON.stringify(faults.engine.list().map(({ id, type, at }) => ({ id, type, at })))}\n`)
  await faults.close()
  await target.close()
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`)
    process.exitCode = 1
  })
}
