/** A user plug-in fault type (examples/fault-plugin.ts) registered on one target's engine. */
import t from 'tap'
import { NvmeStatus } from '../../lib/status.js'
import { registerBadBlocks } from '../../examples/fault-plugin.js'
import { FaultEngine } from '../../faults/engine.js'
import { fixture } from './helpers/fixture.js'

t.test('examples/fault-plugin.ts: bad blocks fail reads until written', async (t) => {
  const f = await fixture(t)
  registerBadBlocks(f.faults.engine.registry)
  t.throws(() => registerBadBlocks(f.faults.engine.registry), { code: 'ERR_NVMEOF_INVALID_ARG' }, 'a second registration is refused')
  t.notOk(new FaultEngine().registry.has('bad-blocks'), 'other engines do not see the plug-in')
  t.throws(() => f.faults.engine.add({ type: 'bad-blocks', params: { lbas: [1, -2] } }), { code: 'ERR_NVMEOF_CONFIG', message: /^fault\.params\.lbas\[1\]:/ })
  f.faults.engine.add({ type: 'bad-blocks', match: { nsids: [1] }, params: { lbas: [100] } })
  const { host } = await f.io()
  t.equal((await host.read(1, 96n, 8))?.cqe.status, NvmeStatus.READ_ERROR, 'a read covering LBA 100 fails')
  t.equal((await host.read(1, 101n, 8))?.cqe.status, 0, 'a read after it passes')
  t.equal((await host.write(1, 100n, Buffer.alloc(512, 1)))?.cqe.status, 0)
  t.equal((await host.read(1, 96n, 8))?.cqe.status, 0, 'healed by the write')
})
