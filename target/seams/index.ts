/**
 * The fault seams of the target, in one place: the hook contract (hooks.ts), one decision type per
 * seam (decisions.ts) and the dispatch written once (seam.ts). Faults compose around the engine
 * here; the engine calls `SEAMS.<seam>.run(...)` and switches over that seam's decision type.
 */
export * from './hooks.js'
export * from './decisions.js'
export * from './seam.js'
