/** nvmf-fault: everything public. Subpaths: nvmf-fault/lib, /target, /initiator, /faults. */
export * from './lib/index.js'
