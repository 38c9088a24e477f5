/**
 * Lifecycle races, each opened deterministically by a fault (in the spirit of the dm-devel thread:
 * publish before init, lookup without a reference).
 */
import type { CatalogueEntry } from './catalogue-types.js'

export const LIFECYCLE_ENTRIES: CatalogueEntry[] = []
