/**
 * Config export for the control plane: the one call site that turns the live target state (after
 * run-time changes) into the target's native config shape (target/config.ts `TargetConfig`). When
 * target/ gains its own exporter (nvmetcli work), this function is the only place to switch to it.
 * Known gap: the status snapshot does not carry a file store's path, so namespaces export as memory.
 */
import type { TargetStatus } from '../target/index.js'

export function exportLiveConfig(target: unknown): Record<string, unknown> {
  if (target === null || target === undefined) return { ports: [], subsystems: [] }
  const st = target as TargetStatus
  const nqns = st.subsystems.map((s) => s.nqn)
  return {
    ports: st.ports.map((p) => {
      const anaStates: Record<string, string> = {}
      for (const a of st.ana) if (a.portId === p.id && a.state !== 'optimized') anaStates[String(a.grpid)] = a.state
      const allExposed = p.subsystems.length === nqns.length && nqns.every((n) => p.subsystems.includes(n))
      return {
        id: p.id,
        address: p.address,
        port: p.port,
        ...(p.discovery ? {} : { discovery: false }),
        ...(allExposed ? {} : { subsystems: p.subsystems }),
        ...(Object.keys(anaStates).length > 0 ? { anaStates } : {}),
      }
    }),
    subsystems: st.subsystems.map((s) => ({
      nqn: s.nqn,
      ...(s.allowAnyHost ? {} : { allowAnyHost: false }),
      ...(s.hosts.length > 0 ? { hosts: s.hosts } : {}),
      anaGroups: s.anaGroups,
      namespaces: s.namespaces.map((n) => ({
        nsid: n.nsid,
        size: n.sizeBytes,
        blockSize: n.blockSize,
        uuid: n.uuid,
        nguid: n.nguid,
        anaGroup: n.anaGroup,
        ...(n.enabled ? {} : { enabled: false }),
      })),
    })),
    ...(st.discovery.referrals.length > 0
      ? { referrals: st.discovery.referrals.map((r) => ({ ...(r.portId !== undefined ? { portId: r.portId } : {}), address: r.address, port: r.port })) }
      : {}),
  }
}
