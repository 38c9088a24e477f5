/**
 * Catalogue entries on the transport and the controller's life: keep-alive expiry, controller
 * fatal, target teardown and setup during I/O (nvme/061), connection resets mid-transfer, digest
 * errors, AEN storms, discovery changes. Every one keeps two paths, so a multipath host can hide
 * the fault from the application while the lost path reconnects.
 */
import type { CatalogueEntry, CheckDefinition } from './catalogue-types.js'
import * as C from './checks.js'

const TWO_PATHS = { ports: [{}, {}], namespaces: [{ nsid: 1 }] }

/** A lost path: the host reconnects it, the application sees nothing, data holds. */
function recoveryChecks(reconnectLimitMs: number, extra: CheckDefinition[] = []): CheckDefinition[] {
  return [C.dataIntact(), C.noAppErrors(), C.reconnects(reconnectLimitMs), C.ioResumes(), C.pathsRestored(), ...extra, C.noOutstandingAtDisconnect()]
}

/** A connection reset (RST) at one PDU of port 1 (the first matching one after 300 ms). */
function resetEntry(id: string, title: string, at: 'pdu-send' | 'pdu-received', pduType: string, rw: 'write' | 'read' | 'verify', bs: number, why: string): CatalogueEntry {
  return {
    info: { id, title, reference: 'NVMe/TCP 1.0 §3.6.2', category: 'transport' },
    summary: `port 1's connection is reset ${why}; the host reconnects and the interrupted command completes on a path`,
    topology: TWO_PATHS,
    ioMs: 3000,
    workload: { rw, bs },
    scenario: JSON.stringify({
      name: id,
      steps: [{ atMs: 300, addFault: { id: 'reset', type: 'reset', at, match: { ports: [1], pduTypes: [pduType] }, schedule: { firstN: 1 } } }],
    }),
    checks: [C.faultFired('reset'), ...recoveryChecks(2500)],
  }
}

export const TRANSPORT_ENTRIES: CatalogueEntry[] = [
  {
    info: { id: 'controller-fatal', title: 'controller fatal status (CSTS.CFS)', reference: 'NVMe Base 2.0 §3.1.3.6; nvmet debugfs fatal', category: 'transport' },
    summary: "the controller of port 1 reports a fatal status (CSTS.CFS) at a write and is torn down, as nvmet's fatal error does; the host resets and reconnects",
    topology: TWO_PATHS,
    // The first write on port 1 can come 1.6 s in (a Linux guest under TCG on a loaded machine),
    // and its reconnect (delay 1 s) 2.4 s after: the host must be seen back before the stop.
    ioMs: 5000,
    scenario: JSON.stringify({
      name: 'controller-fatal',
      steps: [{ atMs: 300, addFault: { id: 'fatal', type: 'controller-fatal', match: { ports: [1], commands: ['write'] }, schedule: { firstN: 1 } } }],
    }),
    checks: [C.faultFired('fatal'), ...recoveryChecks(2500)],
  },
  {
    info: { id: 'keep-alive-expiry', title: 'keep-alive expiry', reference: 'NVMe Base 2.0 §3.9.5', category: 'keep-alive' },
    summary:
      "port 1's controller stops answering Keep Alive (one is dropped); the host's keep-alive timer expires, it resets that controller and reconnects. Port 1 is made inaccessible meanwhile so that it idles: our target sets TBKAS, and a host may skip Keep Alive while I/O completes (Linux does)",
    topology: TWO_PATHS,
    // Linux under TCG: Keep Alive ~0.8 s after the idling, its timeout KATO later, reconnect ~3.4 s after.
    // KATO 2 s, not 1 s: a loaded 7.3 guest sent nothing for 2.7 s between its admin Connect and its
    // I/O queue Connect, the controller expired and the path never connected (linuxcat).
    ioMs: 8000,
    hostOptions: { kato: 2000 },
    scenario: JSON.stringify({
      name: 'keep-alive-expiry',
      steps: [
        { atMs: 200, addFault: { id: 'ka', type: 'drop', at: 'command', match: { ports: [1], commands: ['keep-alive'] }, schedule: { firstN: 1 } } },
        { atMs: 200, ana: { port: 1, group: 1, state: 'inaccessible' } },
        { atMs: 4000, ana: { port: 1, group: 1, state: 'optimized' } },
      ],
    }),
    checks: [C.faultFired('ka'), ...recoveryChecks(4000, [C.keepAliveCadence()])],
  },
  {
    info: { id: 'target-teardown-setup', title: 'target teardown and setup during I/O', reference: 'blktests nvme/061', category: 'transport' },
    summary: 'both ports are removed (every controller of the host goes) and added back 800 ms later on the same TCP ports while I/O runs; the host queues, reconnects and carries on',
    topology: TWO_PATHS,
    ioMs: 3500,
    scenario: ({ trsvcids }) =>
      JSON.stringify({
        name: 'target-teardown-setup',
        steps: [
          { atMs: 400, port: { op: 'remove', port: 1 } },
          { atMs: 400, port: { op: 'remove', port: 2 } },
          { atMs: 1200, port: { op: 'add', port: 1, address: '127.0.0.1', trsvcid: trsvcids[0] } },
          { atMs: 1200, port: { op: 'add', port: 2, address: '127.0.0.1', trsvcid: trsvcids[1] } },
        ],
      }),
    checks: recoveryChecks(3000),
  },
  // Writes above the 16 KiB in-capsule limit take an R2T and H2CData; reads come as C2HData.
  resetEntry('reset-mid-r2t', 'connection reset mid R2T', 'pdu-send', 'r2t', 'write', 32768, 'instead of sending an R2T (the write is stranded before its data)'),
  resetEntry('reset-mid-h2cdata', 'connection reset mid H2CData', 'pdu-received', 'h2c-data', 'write', 32768, 'as an H2CData PDU arrives (the write data half transferred)'),
  resetEntry('reset-mid-c2hdata', 'connection reset mid C2HData', 'pdu-send', 'c2h-data', 'verify', 32768, 'instead of sending a C2HData PDU (the read data half transferred)'),
  {
    info: { id: 'digest-error-c2h', title: 'data digest error on C2HData', reference: 'NVMe/TCP 1.0 §3.6.1.5', category: 'transport' },
    summary: "with header and data digests negotiated, 5 C2HData PDUs of port 1 carry a wrong data digest; the host must not hand the data to the application and retries the read",
    topology: TWO_PATHS,
    ioMs: 2500,
    hostOptions: { hdgst: true, ddgst: true },
    scenario: JSON.stringify({
      name: 'digest-error-c2h',
      steps: [{ atMs: 300, addFault: { id: 'ddgst', type: 'corrupt', at: 'pdu-send', match: { ports: [1], pduTypes: ['c2h-data'] }, schedule: { firstN: 5 }, params: { what: 'ddgst' } } }],
    }),
    checks: [C.faultFired('ddgst'), C.dataIntact(), C.noAppErrors(), C.ioResumes(), C.pathsRestored(), C.noOutstandingAtDisconnect()],
  },
  {
    info: { id: 'digest-error-h2c', title: 'data digest error on H2CData', reference: 'NVMe/TCP 1.0 §3.6.1.5', category: 'transport' },
    summary: 'with digests negotiated, 5 H2CData PDUs from the host to port 1 are corrupted on arrival; the target fails those writes with Transient Transport Error and the host retries them',
    topology: TWO_PATHS,
    ioMs: 2500,
    hostOptions: { hdgst: true, ddgst: true },
    workload: { rw: 'verify', bs: 32768 },
    scenario: JSON.stringify({
      name: 'digest-error-h2c',
      steps: [{ atMs: 300, addFault: { id: 'ddgst', type: 'corrupt', at: 'pdu-received', match: { ports: [1], pduTypes: ['h2c-data'] }, schedule: { firstN: 5 }, params: { what: 'ddgst' } } }],
    }),
    checks: [C.faultFired('ddgst'), C.dataIntact(), C.noAppErrors(), C.ioResumes(), C.pathsRestored(), C.noOutstandingAtDisconnect()],
  },
  {
    info: { id: 'aen-storm', title: 'AEN storm', reference: 'NVMe Base 2.0 §5.2', category: 'transport' },
    summary: '10 bursts of namespace-changed and ANA-change AENs (force-raised, 100 ms apart) on every controller; the host reads each log page, re-arms its AERs and keeps its I/O going',
    topology: TWO_PATHS,
    ioMs: 2500,
    scenario: JSON.stringify({
      name: 'aen-storm',
      faults: [{ id: 'storm', type: 'rescan-storm', params: { event: 'both', burst: 3, bursts: 10, intervalMs: 100, nsids: [1] } }],
    }),
    checks: [C.dataIntact(), C.noAppErrors(), C.logReadAfterAen(), C.aerRearmed(), C.ioResumes(), C.noOutstandingAtDisconnect()],
  },
  {
    info: { id: 'discovery-change', title: 'discovery log changes', reference: 'NVMe-oF 1.1 §5.3 (discovery log change AEN)', category: 'discovery' },
    summary: 'three referrals are added 200 ms apart (discovery log change AEN each); a host with a persistent discovery controller re-reads the discovery log every time',
    topology: TWO_PATHS,
    ioMs: 2000,
    hostOptions: { persistentDiscovery: true },
    scenario: JSON.stringify({
      name: 'discovery-change',
      faults: [{ id: 'disc', type: 'discovery-change', params: { count: 3, intervalMs: 200, address: '127.0.0.2', trsvcid: 4420 } }],
    }),
    checks: [C.logReadAfterAen(), C.aerRearmed(), C.dataIntact(), C.noAppErrors()],
  },
]
