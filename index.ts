/**
 * nvmf-fault: everything public — the protocol library, the target, the initiator and the fault
 * layer. The subpaths nvmf-fault/lib, /target, /initiator and /faults give one part each.
 */
export * from './lib/index.js'
export * from './target/index.js'
export * from './initiator/index.js'
export * from './faults/index.js'
