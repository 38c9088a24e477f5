/**
 * Multipath path selection (Linux multipath.c, anchors 3.1). Only usable paths are candidates (the
 * controller is LIVE, the namespace ready and not ANA-pending). Optimized paths are used while any
 * exists, non-optimized ones are the fallback; inaccessible, persistent-loss and change are never
 * chosen.
 *
 * - `numa` (numa-like): keep the cached current path while it stays in the best available ANA class;
 *   otherwise pick the path with the smallest `distance` (a preferred path has distance 0; the
 *   kernel's NUMA node distance), first in order on ties.
 * - `round-robin`: rotate from the current path to the next usable path of the best class; keep the
 *   current one if nothing else qualifies.
 * - `queue-depth`: the path whose controller has the fewest active requests, optimized first; a depth-0
 *   optimized path ends the search early.
 */
import { AnaState } from '../lib/ana.js'

export const IO_POLICIES = ['numa', 'round-robin', 'queue-depth'] as const
export type IoPolicy = (typeof IO_POLICIES)[number]

export interface SelectablePath {
  readonly id: string
  /** Controller LIVE, namespace ready, not ANA-pending. */
  readonly usable: boolean
  readonly anaState: number
  /** numa-like distance: lower is preferred. */
  readonly distance: number
  /** Active requests on the path's controller (queue-depth policy). */
  readonly queueDepth: number
}

function isOptimized(p: SelectablePath): boolean {
  return p.usable && p.anaState === AnaState.OPTIMIZED
}
function isNonOptimized(p: SelectablePath): boolean {
  return p.usable && p.anaState === AnaState.NON_OPTIMIZED
}

/** The ANA class the policy must pick from: optimized if any usable optimized path exists. */
function bestClass<P extends SelectablePath>(paths: readonly P[]): P[] {
  const opt = paths.filter(isOptimized)
  return opt.length > 0 ? opt : paths.filter(isNonOptimized)
}

export function selectPath<P extends SelectablePath>(policy: IoPolicy, paths: readonly P[], currentId: string | undefined): P | undefined {
  if (policy === 'numa' && currentId !== undefined) {
    // The common case per I/O: the cached current path is still optimized, so it is in the best
    // class and numa keeps it; found without building the candidate lists.
    for (const p of paths) if (p.id === currentId) return isOptimized(p) ? p : selectFrom(policy, paths, currentId)
  }
  return selectFrom(policy, paths, currentId)
}

function selectFrom<P extends SelectablePath>(policy: IoPolicy, paths: readonly P[], currentId: string | undefined): P | undefined {
  const candidates = bestClass(paths)
  if (candidates.length === 0) return undefined
  switch (policy) {
    case 'numa': {
      const current = candidates.find((p) => p.id === currentId)
      if (current !== undefined) return current
      let best = candidates[0] as P
      for (const p of candidates) if (p.distance < best.distance) best = p
      return best
    }
    case 'round-robin': {
      const idx = paths.findIndex((p) => p.id === currentId)
      if (idx < 0) return candidates[0]
      for (let i = 1; i <= paths.length; i++) {
        const p = paths[(idx + i) % paths.length] as P
        if (candidates.includes(p)) return p
      }
      return candidates[0]
    }
    case 'queue-depth': {
      let best: P | undefined
      for (const p of candidates) {
        if (p.queueDepth === 0) return p
        if (best === undefined || p.queueDepth < best.queueDepth) best = p
      }
      return best
    }
  }
}
