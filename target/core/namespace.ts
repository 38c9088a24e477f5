/**
 * The target's namespaces are entries of the subsystem's `NamespaceMap` (lib/namespace-map.ts) over
 * the namespace stores; the map owns the table, its generations, the references and the Changed
 * Namespace Lists. An entry never changes under its holder — every change publishes a new version — so a command that
 * holds the reference it acquired sees the namespace as it was or as it is, never half (style guide
 * §4 item 11; nvmet percpu_ref on the namespace). These names only fix the store type.
 */
import type { AddNamespaceOptions, NamespaceEntry, NamespaceRef } from '../../lib/namespace-map.js'
import type { NamespaceStore } from './namespace-store.js'

/** One published version of a namespace (reporting, Identify): no reference held. */
export type TargetNamespace = NamespaceEntry<NamespaceStore>
/** The reference a command (or a `readNamespace` call) holds on a namespace until it ends. */
export type TargetNamespaceRef = NamespaceRef<NamespaceStore>
/** A fully initialised namespace (store open), ready for `Subsystem.addNamespace`. */
export type TargetNamespaceInit = AddNamespaceOptions<NamespaceStore>

/** Size of one version of a namespace in bytes. */
export function namespaceBytes(ns: TargetNamespace): number {
  return Number(ns.blocks) * ns.blockSize
}
