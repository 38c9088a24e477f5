/**
 * Lifecycle races in the spirit of the dm-devel thread (publish before init, lookup without a
 * reference), each opened deterministically by a fault: `conformance-race` (race-fault.ts) changes
 * the target at the exact command the host's next step depends on. Scans are started by a
 * namespace-changed or ANA-change AEN.
 */
import type { CatalogueEntry } from './catalogue-types.js'
import * as C from './checks.js'

const CNS_ACTIVE_NSID_LIST = 0x02
const LID_ANA = 0x0c

export const LIFECYCLE_ENTRIES: CatalogueEntry[] = [
  {
    info: { id: 'ns-announced-before-identifiable', title: 'namespace announced by AEN before it is identifiable', category: 'lifecycle' },
    summary: 'a namespace-changed AEN names NSID 2 while it is still disabled (not in the Active Namespace ID list); 600 ms later it is enabled. The host must not use NSID 2 before, and must identify it after',
    topology: { ports: [{}, {}], namespaces: [{ nsid: 1 }, { nsid: 2, enabled: false }] },
    ioMs: 2500,
    workload: { namespaces: [1] },
    scenario: JSON.stringify({
      name: 'ns-announced-before-identifiable',
      steps: [
        { atMs: 300, aen: { event: 'ns-changed', nsids: [2] } },
        { atMs: 900, ns: { op: 'enable', nsid: 2 } },
      ],
    }),
    checks: [C.noIoToInvalidNamespace(), C.identifiedAfter(2, 'ns-enable', 1500), C.dataIntact(), C.noAppErrors(), C.aerRearmed(), C.noOutstandingAtDisconnect()],
  },
  {
    info: { id: 'ns-removed-between-list-and-identify', title: 'namespace removed between the Active Namespace ID list and Identify Namespace', category: 'lifecycle' },
    summary: "a rescan is started by AEN; as port 1 answers the Active Namespace ID list (which still names NSID 2), NSID 2 is disabled, so the host's Identify Namespace finds it gone; 900 ms later it is enabled again",
    topology: { ports: [{}, {}], namespaces: [{ nsid: 1 }, { nsid: 2 }] },
    ioMs: 3000,
    workload: { namespaces: [1] },
    scenario: JSON.stringify({
      name: 'ns-removed-between-list-and-identify',
      steps: [
        { atMs: 200, addFault: { id: 'race', type: 'conformance-race', at: 'completion', match: { ports: [1], commands: ['identify'] }, schedule: { firstN: 1 }, params: { cdw10Low: CNS_ACTIVE_NSID_LIST, ops: [{ ns: { op: 'disable', nsid: 2 } }] } } },
        { atMs: 300, aen: { event: 'ns-changed', port: 1, nsids: [2] } },
        { atMs: 1200, ns: { op: 'enable', nsid: 2 } },
      ],
    }),
    checks: [C.faultFired('race'), C.identifiedAfter(2, 'ns-enable', 1500), C.noIoToInvalidNamespace(), C.dataIntact(), C.noAppErrors(), C.aerRearmed(), C.pathsRestored(), C.noOutstandingAtDisconnect()],
  },
  {
    info: { id: 'nsid-new-identifiers-between-identifies', title: 'the same NSID back with new identifiers between two Identify commands', category: 'lifecycle' },
    summary: "a rescan is started by AEN; as port 1 answers the first Identify for NSID 2 (whatever its CNS), NSID 2 is disabled, given a new UUID and enabled again, so the host's next Identify (descriptors) shows other identifiers for the same NSID",
    topology: { ports: [{}, {}], namespaces: [{ nsid: 1 }, { nsid: 2 }] },
    ioMs: 3000,
    workload: { namespaces: [1] },
    scenario: JSON.stringify({
      name: 'nsid-new-identifiers-between-identifies',
      steps: [
        { atMs: 200, addFault: { id: 'race', type: 'conformance-race', at: 'completion', match: { ports: [1], commands: ['identify'], nsids: [2] }, schedule: { firstN: 1 }, params: { ops: [{ remap: 2 }] } } },
        { atMs: 300, aen: { event: 'ns-changed', port: 1, nsids: [2] } },
      ],
    }),
    checks: [C.faultFired('race'), C.identifiedAfter(2, 'ns-enable', 1500), C.dataIntact(), C.noAppErrors(), C.aerRearmed(), C.pathsRestored(), C.noOutstandingAtDisconnect()],
  },
  {
    info: { id: 'controller-deleted-during-connect', title: 'a controller deleted while its Connect completes', category: 'lifecycle' },
    summary: "port 1's controller is deleted (the host reconnects); as the target answers the reconnect's admin Connect, that new controller is deleted too: its connection closes before the Connect response (and the CNTLID it names) leaves. The host must notice the lost connection and reconnect again",
    topology: { ports: [{}, {}], namespaces: [{ nsid: 1 }] },
    ioMs: 3500,
    scenario: JSON.stringify({
      name: 'controller-deleted-during-connect',
      steps: [
        { atMs: 200, addFault: { id: 'race', type: 'conformance-race', at: 'completion', match: { ports: [1], commands: ['connect'], qids: [0] }, schedule: { firstN: 1 }, params: { ops: [{ deleteController: true }] } } },
        { atMs: 300, controller: { op: 'delete', port: 1 } },
      ],
    }),
    checks: [C.faultFired('race'), C.reconnects(3000), C.pathsRestored(), C.dataIntact(), C.noAppErrors(), C.ioResumes(), C.noOutstandingAtDisconnect()],
  },
  {
    info: { id: 'ana-change-after-log-read', title: 'the ANA state changing between the ANA log read and the next I/O', category: 'lifecycle' },
    summary: "an ANA-change AEN makes the host read the ANA log on port 1; right after that log is built (optimized), port 1 goes inaccessible, so the host's next I/O there meets a state it has not read yet; 1.2 s later port 1 is optimized again",
    topology: { ports: [{}, {}], namespaces: [{ nsid: 1 }] },
    ioMs: 3000,
    scenario: JSON.stringify({
      name: 'ana-change-after-log-read',
      steps: [
        { atMs: 200, addFault: { id: 'race', type: 'conformance-race', at: 'completion', match: { ports: [1], commands: ['get-log-page'] }, schedule: { firstN: 1 }, params: { cdw10Low: LID_ANA, ops: [{ ana: { port: 1, group: 1, state: 'inaccessible' } }] } } },
        { atMs: 300, aen: { event: 'ana-change', port: 1 } },
        { atMs: 1500, ana: { port: 1, group: 1, state: 'optimized' } },
      ],
    }),
    checks: [C.faultFired('race'), C.dataIntact(), C.noAppErrors(), C.noIoToInaccessible(), C.failoverTime(2000), C.failback(2000), C.ioResumes(), C.noOutstandingAtDisconnect()],
  },
]
