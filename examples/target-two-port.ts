/**
 * In-process target example: a target with two ports serving one subsystem with a 64 MiB memory
 * namespace, an ANA state change on port 1, and the status snapshot. Runs and exits by itself.
 *
 *   npm run build && node dist/examples/target-two-port.js
 */
import { createTarget } from '../target/index.js'

const SUBNQN = 'nqn.2014-08.org.nvmf-fault:example'

const target = await createTarget({
  ports: [
    { id: 1, address: '127.0.0.1', port: 0 },
    { id: 2, address: '127.0.0.1', port: 0 },
  ],
  subsystems: [
    {
      nqn: SUBNQN,
      allowAnyHost: true,
      anaGroups: [1],
      namespaces: [{ nsid: 1, size: '64MiB', anaGroup: 1 }],
    },
  ],
})

target.on('controller', (e) => console.log(`controller ${e.cntlid}: ${e.type} (${e.state})`))

for (const p of target.ports) {
  console.log(`port ${p.id} listening on ${p.address}:${p.port}`)
  console.log(`  nvme discover -t tcp -a ${p.address} -s ${p.port}`)
  console.log(`  nvme connect -t tcp -a ${p.address} -s ${p.port} -n ${SUBNQN}`)
}

// Make port 1 inaccessible for ANA group 1: hosts on port 1 get ANA Inaccessible (0x302) and the
// ANA-change event; port 2 stays optimized.
target.setAnaState({ portId: 1, grpid: 1, state: 'inaccessible' })

const status = target.status()
console.log('ANA states (port x group):')
for (const a of status.ana) console.log(`  port ${a.portId} group ${a.grpid}: ${a.state}`)
console.log('status snapshot:')
console.log(JSON.stringify(status, null, 2))

await target.close()
