/**
 * Test helper: the raw hostile TARGET, the counterpart of raw-host.ts. It is the fake target the
 * fuzzer ships (fuzz/fake-target.ts), re-exported so there is one definition: a scriptable NVMe/TCP
 * controller on a real socket whose `onCommand` can drop, refuse or answer with arbitrary bytes.
 */
export { FakeTarget as RawTarget, FakeConnection as RawTargetConnection, FAKE_BLOCK_SIZE, type FakeCommand, type FakeReply, type FakeTargetOptions } from '../../fuzz/fake-target.js'
