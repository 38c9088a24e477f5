import t from 'tap'
import fc from 'fast-check'
import { encodeErrorLog, decodeErrorLog, ERROR_LOG_FIELDS, ERROR_LOG_ENTRY_SIZE, type ErrorLogEntry } from '../../../lib/nvme/log-error.js'
import { encodeSmartLog, decodeSmartLog, SMART_LOG_FIELDS, SMART_LOG_SIZE, type SmartLog } from '../../../lib/nvme/log-smart.js'
import { encodeChangedNsList, decodeChangedNsList, CHANGED_NS_OVERFLOW } from '../../../lib/nvme/log-changed-ns.js'
import { encodeEffectsLog, decodeEffectsLog, Effects } from '../../../lib/nvme/log-effects.js'
import { encodeAnaLog, decodeAnaLog, AnaState, anaLogMaxSize, parseAnaStateName, anaStateName, type AnaLog } from '../../../lib/nvme/log-ana.js'
import {
  buildDiscoveryLog, decodeDiscoveryLog, decodeDiscoveryLogHeader, decodeDiscoveryLogEntry, encodeDiscoveryLogEntry, sliceDiscoveryLog, DISCOVERY_ENTRY_FIELDS,
  TransportType, AddressFamily, DiscoverySubtype, type DiscoveryLogEntry,
} from '../../../lib/nvme/log-discovery.js'
import { sliceLogPage } from '../../../lib/nvme/commands.js'
import { checkLayout } from '../../../lib/nvme/struct.js'
import { DISCOVERY_NQN } from '../../../lib/nvme/nqn.js'
import { DecodeError, InvalidArgumentError } from '../../../lib/errors.js'
import { statusToCqeField } from '../../../lib/status.js'
import { recordFor } from './fixtures/arbitraries.js'

t.test('layouts', async (t) => {
  t.equal(checkLayout(ERROR_LOG_FIELDS, 64), undefined)
  t.equal(checkLayout(SMART_LOG_FIELDS, 512), undefined)
  t.equal(checkLayout(DISCOVERY_ENTRY_FIELDS, 1024), undefined)
})

t.test('error log', async (t) => {
  const e: Partial<ErrorLogEntry> = { errorCount: 7n, sqid: 1, cid: 0x1003, statusField: statusToCqeField(0x4002), parameterErrorLocation: 44, nsid: 1 }
  const b = encodeErrorLog([e], 4)
  t.equal(b.length, 4 * ERROR_LOG_ENTRY_SIZE)
  t.equal(b.readBigUInt64LE(0), 7n)
  t.equal(b.readUInt16LE(10), 0x1003)
  t.equal(b.readUInt16LE(12), 0x8004)
  t.equal(b.readUInt16LE(14), 44)
  const d = decodeErrorLog(b)
  t.equal(d.length, 1)
  t.equal(d[0]?.cid, 0x1003)
  t.throws(() => decodeErrorLog(Buffer.alloc(65)), DecodeError)
})

t.test('smart log', async (t) => {
  const b = encodeSmartLog({ compositeTemperature: 300, availableSpare: 100, dataUnitsRead: (1n << 70n) + 1n, powerOnHours: 12n })
  t.equal(b.length, SMART_LOG_SIZE)
  t.equal(b.readUInt16LE(1), 300)
  t.equal(b[3], 100)
  t.equal(b.readBigUInt64LE(32), 1n)
  t.equal(b.readBigUInt64LE(40), 64n)
  t.equal(b.readBigUInt64LE(128), 12n)
  t.equal(decodeSmartLog(b).dataUnitsRead, (1n << 70n) + 1n)
  t.throws(() => decodeSmartLog(Buffer.alloc(511)), DecodeError)
})

t.test('changed namespace list', async (t) => {
  const b = encodeChangedNsList([1, 7])
  t.equal(b.length, 4096)
  t.same(b.subarray(0, 12), Buffer.from([1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]))
  t.same(decodeChangedNsList(b), { overflow: false, nsids: [1, 7] })
  const o = encodeChangedNsList([CHANGED_NS_OVERFLOW])
  t.same(decodeChangedNsList(o), { overflow: true, nsids: [CHANGED_NS_OVERFLOW] })
  const many = encodeChangedNsList(Array.from({ length: 1025 }, (_, i) => i + 1))
  t.equal(many.readUInt32LE(0), CHANGED_NS_OVERFLOW)
  t.equal(many.readUInt32LE(4), 0)
  t.throws(() => encodeChangedNsList([0]), InvalidArgumentError)
})

t.test('commands supported and effects', async (t) => {
  const b = encodeEffectsLog({ acs: { 0x06: Effects.CSUPP, 0x09: Effects.CSUPP | Effects.CCC }, iocs: { 0x01: Effects.CSUPP | Effects.LBCC } })
  t.equal(b.length, 4096)
  t.equal(b.readUInt32LE(6 * 4), 1)
  t.equal(b.readUInt32LE(9 * 4), 0x11)
  t.equal(b.readUInt32LE(1024 + 4), 3)
  const d = decodeEffectsLog(b)
  t.equal(d.acs[6], 1)
  t.equal(d.iocs[1], 3)
  t.equal(d.acs.length, 256)
  t.throws(() => encodeEffectsLog({ acs: { 256: 1 } }), InvalidArgumentError)
})

t.test('ANA log golden bytes and Linux-host validation', async (t) => {
  const log: AnaLog = {
    chgcnt: 3n,
    groups: [
      { grpid: 1, chgcnt: 2n, state: AnaState.OPTIMIZED, nsids: [1, 2] },
      { grpid: 2, chgcnt: 1n, state: AnaState.INACCESSIBLE, nsids: [] },
    ],
  }
  const b = encodeAnaLog(log)
  t.same(
    b,
    Buffer.from(
      '0300000000000000' + '0200' + '000000000000' +
        '01000000' + '02000000' + '0200000000000000' + '01' + '00'.repeat(15) + '01000000' + '02000000' +
        '02000000' + '00000000' + '0100000000000000' + '03' + '00'.repeat(15),
      'hex',
    ),
  )
  t.same(decodeAnaLog(b), log)
  const rgo = encodeAnaLog(log, { rgo: true })
  t.equal(rgo.length, 16 + 64)
  t.same(decodeAnaLog(rgo).groups.map((g) => g.nsids), [[], []])
  t.equal(anaLogMaxSize(128, 1024), 16 + 128 * 32 + 4096)
  // GRPID 0
  const g0 = Buffer.from(b)
  g0.writeUInt32LE(0, 16)
  t.throws(() => decodeAnaLog(g0), { name: 'DecodeError', field: 'groups[0].grpid', offset: 16 })
  // GRPID above ANAGRPMAX
  t.throws(() => decodeAnaLog(b, { anagrpmax: 1 }), { name: 'DecodeError', field: 'groups[1].grpid', offset: 56 })
  // bad state nibble
  for (const s of [0, 5, 0x10, 0x21]) {
    const bad = Buffer.from(b)
    bad[16 + 16] = s
    t.throws(() => decodeAnaLog(bad), { name: 'DecodeError', field: 'groups[0].state', offset: 32 }, `state 0x${s.toString(16)}`)
  }
  const reserved = Buffer.from(b)
  reserved[32] = 5
  t.equal(decodeAnaLog(reserved, { allowReservedStates: true }).groups[0]?.state, 5)
  // descriptor overruns the buffer
  t.throws(() => decodeAnaLog(b.subarray(0, b.length - 1)), { name: 'DecodeError', field: 'groups[1]' })
  const nn = Buffer.from(b)
  nn.writeUInt32LE(1000, 20)
  t.throws(() => decodeAnaLog(nn), { name: 'DecodeError', field: 'groups[0].nsids', offset: 48 })
  t.throws(() => decodeAnaLog(Buffer.alloc(15)), DecodeError)
  // not ascending
  const unsorted = encodeAnaLog({ chgcnt: 0n, groups: [{ grpid: 1, chgcnt: 0n, state: 1, nsids: [2, 1] }] })
  t.throws(() => decodeAnaLog(unsorted), { name: 'DecodeError', field: 'groups[0].nsids[1]' })
  t.equal(decodeAnaLog(unsorted, { requireAscending: false }).groups[0]?.nsids[1], 1)
  t.equal(parseAnaStateName('non-optimized'), AnaState.NON_OPTIMIZED)
  t.equal(anaStateName(0xf), 'change')
  t.equal(parseAnaStateName('bogus'), undefined)
})

t.test('discovery log: entry golden offsets, build, slice, decode', async (t) => {
  const entry: Partial<DiscoveryLogEntry> = {
    trtype: TransportType.TCP, adrfam: AddressFamily.IPV4, subtype: DiscoverySubtype.NVME, treq: 0, portid: 1, cntlid: 0xffff, asqsz: 32,
    trsvcid: '4420', subnqn: 'nqn.2014-08.org.example:sub1', traddr: '127.0.0.1', tsas: Buffer.alloc(256),
  }
  const e = encodeDiscoveryLogEntry(entry)
  t.same(e.subarray(0, 12), Buffer.from([3, 1, 2, 0, 1, 0, 0xff, 0xff, 32, 0, 0, 0]))
  t.same(e.subarray(32, 37), Buffer.from('4420\0'), 'TRSVCID at 32, NUL padded')
  t.ok(e.subarray(36, 64).every((x) => x === 0))
  t.equal(e.subarray(256, 256 + 28).toString(), 'nqn.2014-08.org.example:sub1', 'SUBNQN at 256')
  t.same(e.subarray(512, 522), Buffer.from('127.0.0.1\0'), 'TRADDR at 512')
  t.same(decodeDiscoveryLogEntry(e), { trtype: 3, adrfam: 1, subtype: 2, treq: 0, portid: 1, cntlid: 0xffff, asqsz: 32, eflags: 0, trsvcid: '4420', subnqn: entry.subnqn, traddr: '127.0.0.1', tsas: Buffer.alloc(256) })
  // space-padded TRSVCID (libnvme strips trailing spaces)
  const sp = Buffer.from(e)
  sp.fill(0x20, 36, 64)
  t.equal(decodeDiscoveryLogEntry(sp).trsvcid, '4420')

  const self: Partial<DiscoveryLogEntry> = { ...entry, subtype: DiscoverySubtype.CURRENT_DISCOVERY, subnqn: DISCOVERY_NQN }
  const page = buildDiscoveryLog({ genctr: 9n, entries: [self, entry, entry] })
  t.equal(page.length, 1024 + 3 * 1024)
  t.same(page.subarray(0, 20), Buffer.from('0900000000000000' + '0300000000000000' + '0000' + '0000', 'hex'))
  // libnvme: 20-byte header, then entries from LPO 1024 in ≤ 4096-byte chunks
  const hdr = decodeDiscoveryLogHeader(sliceDiscoveryLog(page, 0, 20))
  t.equal(hdr.genctr, 9n)
  t.equal(hdr.numrec, 3n)
  const chunk = sliceDiscoveryLog(page, 1024, 4096)
  t.equal(chunk.length, 4096)
  t.same(chunk.subarray(0, 3072), page.subarray(1024))
  t.ok(chunk.subarray(3072).every((x) => x === 0), 'beyond the end reads as zero')
  t.same(sliceLogPage(page, 1024 + 1024 + 256, 8), page.subarray(2304, 2312), 'arbitrary dword window')
  t.same(sliceLogPage(page, 1n << 40n, 8), Buffer.alloc(8))
  t.throws(() => sliceLogPage(page, 2, 4), InvalidArgumentError)
  t.throws(() => sliceLogPage(page, 0, 6), InvalidArgumentError)
  const all = decodeDiscoveryLog(page)
  t.equal(all.entries.length, 3)
  t.equal(all.entries[0]?.subnqn, DISCOVERY_NQN)
  t.throws(() => decodeDiscoveryLog(page.subarray(0, 3000)), { name: 'DecodeError', field: 'numrec', offset: 8 })
  t.throws(() => decodeDiscoveryLogHeader(Buffer.alloc(19)), DecodeError)
  t.throws(() => encodeDiscoveryLogEntry({ trsvcid: 'x'.repeat(33) }), InvalidArgumentError)
})

t.test('properties', async (t) => {
  fc.assert(fc.property(fc.array(recordFor(ERROR_LOG_FIELDS), { maxLength: 4 }), (es) => {
    const entries = es.map((e) => ({ ...e, errorCount: ((e.errorCount as bigint) % 1000n) + 1n })) as unknown as ErrorLogEntry[]
    t.same(decodeErrorLog(encodeErrorLog(entries)), entries)
    return true
  }), { numRuns: 50 })
  fc.assert(fc.property(recordFor(SMART_LOG_FIELDS), (s) => { t.same(decodeSmartLog(encodeSmartLog(s)), s as unknown as SmartLog); return true }), { numRuns: 50 })
  fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 0xfffffffe }), { maxLength: 1024 }), (ns) => {
    t.same(decodeChangedNsList(encodeChangedNsList(ns)).nsids, ns)
    return true
  }), { numRuns: 30 })
  const anaLogArb: fc.Arbitrary<AnaLog> = fc.record({
    chgcnt: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    groups: fc.array(fc.record({
      grpid: fc.integer({ min: 1, max: 0xffffffff }),
      chgcnt: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      state: fc.constantFrom(1, 2, 3, 4, 15),
      nsids: fc.uniqueArray(fc.integer({ min: 1, max: 0xfffffffe }), { maxLength: 20 }).map((a) => a.sort((x, y) => x - y)),
    }), { maxLength: 10 }),
  })
  fc.assert(fc.property(anaLogArb, (l) => { t.same(decodeAnaLog(encodeAnaLog(l)), l); return true }), { numRuns: 100 })
  fc.assert(fc.property(fc.array(recordFor(DISCOVERY_ENTRY_FIELDS), { maxLength: 3 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (es, genctr) => {
    const entries = es as unknown as DiscoveryLogEntry[]
    const d = decodeDiscoveryLog(buildDiscoveryLog({ genctr, entries }))
    t.equal(d.header.genctr, genctr)
    t.same(d.entries, entries)
    return true
  }), { numRuns: 30 })
  fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
    for (const dec of [decodeErrorLog, decodeSmartLog, decodeChangedNsList, decodeEffectsLog, decodeAnaLog, decodeDiscoveryLog, decodeDiscoveryLogHeader, decodeDiscoveryLogEntry]) {
      try {
        dec(bytes)
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e
      }
    }
    return true
  }), { numRuns: 100 })
  // ANA-shaped random input: a plausible header and descriptors with random fields
  fc.assert(fc.property(fc.integer({ min: 0, max: 6 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 0x20 })), { maxLength: 6 }), fc.integer({ min: 16, max: 400 }), (ngrps, descs, len) => {
    const b = Buffer.alloc(len)
    b.writeUInt16LE(ngrps, 8)
    let o = 16
    for (const [grpid, nn, st] of descs) {
      if (o + 32 > len) break
      b.writeUInt32LE(grpid, o)
      b.writeUInt32LE(nn, o + 4)
      b[o + 16] = st
      o += 32 + nn * 4
    }
    try {
      const l = decodeAnaLog(b, { anagrpmax: 2 })
      for (const g of l.groups) if (g.grpid === 0 || g.grpid > 2) throw new Error('validation missed a group id')
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e
    }
    return true
  }), { numRuns: 300 })
  fc.assert(fc.property(fc.integer({ min: 0, max: 2000 }).map((x) => x * 4), fc.integer({ min: 0, max: 1500 }).map((x) => x * 4), (off, len) => {
    const page = buildDiscoveryLog({ genctr: 1n, entries: [{ trtype: 3 }] })
    const w = sliceLogPage(page, off, len)
    const want = Buffer.alloc(len)
    if (off < page.length) page.copy(want, 0, off, Math.min(page.length, off + len))
    t.same(w, want)
    return true
  }), { numRuns: 100 })
})
