import t from 'tap'
import fc from 'fast-check'
import { makeAenDw0, parseAenDw0, AenEvent, AenType, AenNotice, aenConfigBitFor, AenConfigBit } from '../../../lib/nvme/aen.js'
import {
  encodeNumQueues, decodeNumQueues, usableIoQueues, encodeAsyncEventConfig, decodeAsyncEventConfig, encodeKato, decodeKato, roundKatoToKas,
  featureName, FEATURE_TABLE, makeSetFeaturesSqe, setFeaturesFields, makeGetFeaturesSqe, getFeaturesFields,
} from '../../../lib/nvme/features.js'
import { DISCOVERY_NQN, validateNqn, makeUuidNqn, uuidOfNqn, randomUuidNqn, assertNqn, isDiscoveryNqn } from '../../../lib/nvme/nqn.js'
import { uuidToBytes, bytesToUuid, randomUuid, isUuid } from '../../../lib/nvme/uuid.js'
import {
  makeIdentifySqe, identifyFields, makeGetLogPageSqe, getLogPageFields, getLogPageLength, makeAbortSqe, abortFields, encodeDsmRanges, decodeDsmRanges,
} from '../../../lib/nvme/commands.js'
import { AdminOpcode, IoOpcode, FabricsType, FeatureId, LogPageId, Cns, dataDirection, adminOpcodeName, ioOpcodeName, fabricsTypeName } from '../../../lib/nvme/opcodes.js'
import { encodeSqe, decodeSqe } from '../../../lib/nvme/sqe.js'
import { seededRandom } from '../../../lib/clock.js'
import { DecodeError, InvalidArgumentError } from '../../../lib/errors.js'

t.test('opcodes and data direction', async (t) => {
  t.equal(AdminOpcode.IDENTIFY, 0x06)
  t.equal(AdminOpcode.KEEP_ALIVE, 0x18)
  t.equal(IoOpcode.DATASET_MANAGEMENT, 0x09)
  t.equal(FabricsType.DISCONNECT, 0x08)
  t.equal(LogPageId.DISCOVERY, 0x70)
  t.equal(Cns.CS_INDEP_NAMESPACE, 0x08)
  t.equal(FeatureId.KATO, 0x0f)
  t.equal(dataDirection(IoOpcode.WRITE), 'host-to-controller')
  t.equal(dataDirection(IoOpcode.READ), 'controller-to-host')
  t.equal(dataDirection(IoOpcode.FLUSH), 'none')
  t.equal(dataDirection(IoOpcode.DATASET_MANAGEMENT), 'host-to-controller')
  t.equal(dataDirection(AdminOpcode.IDENTIFY), 'controller-to-host')
  t.equal(dataDirection(AdminOpcode.SET_FEATURES), 'host-to-controller')
  t.equal(dataDirection(0x7f, FabricsType.CONNECT), 'host-to-controller')
  t.equal(dataDirection(0x7f, FabricsType.AUTH_RECEIVE), 'controller-to-host')
  t.equal(dataDirection(0x7f, FabricsType.PROPERTY_GET), 'none')
  t.equal(dataDirection(0x7f, FabricsType.AUTH_SEND), 'host-to-controller')
  t.equal(adminOpcodeName(6), 'IDENTIFY')
  t.equal(ioOpcodeName(0x55), 'IO_0x55')
  t.equal(fabricsTypeName(1), 'CONNECT')
})

t.test('AEN DW0', async (t) => {
  t.equal(makeAenDw0({ type: AenType.NOTICE, info: AenNotice.NS_CHANGED, lid: LogPageId.CHANGED_NS }), AenEvent.NS_CHANGED)
  t.equal(makeAenDw0({ type: AenType.NOTICE, info: AenNotice.ANA_CHANGE, lid: LogPageId.ANA }), 0x000c0302)
  t.equal(makeAenDw0({ type: AenType.NOTICE, info: AenNotice.DISC_CHANGE, lid: LogPageId.DISCOVERY }), 0x0070f002)
  t.same(parseAenDw0(0x000c0302), { type: 2, info: 3, lid: 0x0c })
  t.equal(aenConfigBitFor(AenEvent.ANA_CHANGE), 1 << 11)
  t.equal(aenConfigBitFor(AenEvent.DISC_CHANGE), AenConfigBit.DISC_CHANGE >>> 0)
  t.equal(aenConfigBitFor(0x00000001), undefined)
  t.throws(() => makeAenDw0({ type: 8, info: 0, lid: 0 }), InvalidArgumentError)
  fc.assert(fc.property(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (type, info, lid) => {
    t.same(parseAenDw0(makeAenDw0({ type, info, lid })), { type, info, lid })
    return true
  }), { numRuns: 100 })
})

t.test('features', async (t) => {
  t.equal(encodeNumQueues({ nsq: 4, ncq: 4 }), 0x00030003)
  t.same(decodeNumQueues(0x00070003), { nsq: 4, ncq: 8 })
  t.equal(usableIoQueues(0x00070003), 4)
  t.same(decodeNumQueues(0xffffffff), { nsq: 65536, ncq: 65536 })
  t.throws(() => encodeNumQueues({ nsq: 0, ncq: 1 }), InvalidArgumentError)
  const aec = encodeAsyncEventConfig({ nsAttr: true, anaChange: true, discChange: true })
  t.equal(aec, 0x80000900)
  t.same(decodeAsyncEventConfig(aec), { smartCriticalWarnings: 0, nsAttr: true, fwActivation: false, telemetry: false, anaChange: true, predictableLatency: false, lbaStatus: false, enduranceGroup: false, zoneDescriptorChanged: false, discChange: true })
  t.equal(encodeKato(5000), 5000)
  t.equal(decodeKato(0xffffffff), 0xffffffff)
  t.equal(roundKatoToKas(5001, 10), 6000)
  t.equal(roundKatoToKas(0, 10), 0)
  t.equal(featureName(FeatureId.NUM_QUEUES), 'Number of Queues')
  t.equal(featureName(0xee), 'Feature 0xee')
  t.equal(new Set(FEATURE_TABLE.map((f) => f.fid)).size, FEATURE_TABLE.length)
  const s = decodeSqe(encodeSqe(makeSetFeaturesSqe({ cid: 1, fid: FeatureId.ASYNC_EVENT, cdw11: aec, sv: true })))
  t.same(setFeaturesFields(s), { fid: 0x0b, sv: true, nsid: 0, cdw11: aec, cdw12: 0, cdw13: 0, cdw14: 0, cdw15: 0 })
  const g = makeGetFeaturesSqe({ cid: 2, fid: FeatureId.HOST_ID, sel: 0, cdw11: 1, dataLength: 16 })
  t.same(getFeaturesFields(g), { fid: 0x81, sel: 0, nsid: 0, cdw11: 1 })
  t.equal(g.sgl.length, 16)
  fc.assert(fc.property(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 1, max: 0xffff }), (nsq, ncq) => {
    t.same(decodeNumQueues(encodeNumQueues({ nsq, ncq })), { nsq, ncq })
    return true
  }), { numRuns: 100 })
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
    const masked = (v & 0x88007fff) >>> 0
    return encodeAsyncEventConfig(decodeAsyncEventConfig(masked)) === masked
  }), { numRuns: 200 })
})

t.test('NQN and UUID', async (t) => {
  t.equal(DISCOVERY_NQN, 'nqn.2014-08.org.nvmexpress.discovery')
  t.ok(isDiscoveryNqn(DISCOVERY_NQN))
  t.equal(validateNqn(DISCOVERY_NQN), undefined)
  t.equal(validateNqn('nqn.2014-08.org.example:sub1'), undefined)
  t.equal(validateNqn('nqn.2016-06.io.spdk:cnode1'), undefined)
  const u = '00112233-4455-6677-8899-aabbccddeeff'
  const un = makeUuidNqn(u.toUpperCase())
  t.equal(un, `nqn.2014-08.org.nvmexpress:uuid:${u}`)
  t.equal(un.length, 68)
  t.equal(validateNqn(un), undefined)
  t.equal(uuidOfNqn(un), u)
  t.equal(uuidOfNqn('nqn.2014-08.org.example:x'), undefined)
  const bad: Array<[string, RegExp]> = [
    ['short', /fewer than 11/],
    ['nqn.2014-08.org.example:' + 'x'.repeat(200), /more than 223/],
    ['iqn.2014-08.org.example:x', /start with "nqn."/],
    ['nqn.14-08.org.example:x', /4-digit year/],
    ['nqn.2014-13.org.example:x', /month 13/],
    ['nqn.2014-08.org.example', /":"/],
    ['nqn.2014-08.org.example:', /empty string after/],
    ['nqn.2014-08.9org.example:x', /must start with a letter/],
    ['nqn.2014-08.org..example:x', /empty label/],
    ['nqn.2014-08.org.nvmexpress:uuid:not-a-uuid', /not a UUID/],
    ['nqn.2014-08.org.exämple:x', /printable ASCII/],
  ]
  for (const [n, re] of bad) t.match(validateNqn(n), re, n)
  t.throws(() => assertNqn('bad', 'subnqn'), { name: 'InvalidArgumentError', field: 'subnqn' })
  t.same(uuidToBytes(u), Buffer.from('00112233445566778899aabbccddeeff', 'hex'))
  t.equal(bytesToUuid(uuidToBytes(u)), u)
  t.throws(() => uuidToBytes('xyz'), InvalidArgumentError)
  t.throws(() => bytesToUuid(Buffer.alloc(15)), InvalidArgumentError)
  const r1 = randomUuid(seededRandom(7))
  t.equal(r1, randomUuid(seededRandom(7)), 'replays from the seed')
  t.ok(isUuid(r1))
  t.equal(r1[14], '4', 'version 4')
  t.match(r1[19] ?? '', /[89ab]/, 'RFC variant')
  t.equal(validateNqn(randomUuidNqn(seededRandom(1))), undefined)
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
    t.same(uuidToBytes(bytesToUuid(b)), Buffer.from(b))
    return true
  }), { numRuns: 100 })
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    const r = validateNqn(s)
    return r === undefined || typeof r === 'string'
  }), { numRuns: 300 })
})

t.test('Identify / Get Log Page / Abort / DSM command fields', async (t) => {
  const id = decodeSqe(encodeSqe(makeIdentifySqe({ cid: 3, cns: Cns.NS_ID_DESC_LIST, nsid: 7, cntid: 0x22, csi: 2 })))
  t.same(identifyFields(id), { cns: 3, cntid: 0x22, nsid: 7, cnssid: 0, csi: 2, uuidIndex: 0 })
  t.equal(id.sgl.length, 4096)
  const raw = encodeSqe(makeGetLogPageSqe({ cid: 4, lid: LogPageId.DISCOVERY, length: 20 }))
  t.equal(raw[40], 0x70)
  t.equal(raw.readUInt16LE(42), 4, 'NUMDL = 4 for 20 bytes')
  const glp = makeGetLogPageSqe({ cid: 5, lid: LogPageId.ANA, length: 0x40004 * 4, offset: 0x100000004n, nsid: 0xffffffff, lsp: 1, rae: true, csi: 0 })
  const f = getLogPageFields(decodeSqe(encodeSqe(glp)))
  t.same({ lid: f.lid, lsp: f.lsp, rae: f.rae, numd: f.numd, lpo: f.lpo, nsid: f.nsid }, { lid: 0x0c, lsp: 1, rae: true, numd: 0x40003, lpo: 0x100000004n, nsid: 0xffffffff })
  t.equal(getLogPageLength(f), 0x40004 * 4)
  t.throws(() => makeGetLogPageSqe({ cid: 1, lid: 2, length: 6 }), InvalidArgumentError)
  t.throws(() => makeGetLogPageSqe({ cid: 1, lid: 2, length: 8, offset: 2 }), InvalidArgumentError)
  t.same(abortFields(makeAbortSqe({ cid: 1, sqid: 2, abortCid: 0x1234 })), { sqid: 2, cid: 0x1234 })
  const ranges = [{ cattr: 0, nlb: 8, slba: 100n }, { cattr: 1, nlb: 1, slba: 1n << 40n }]
  const d = encodeDsmRanges(ranges)
  t.same(d.subarray(0, 16), Buffer.from('00000000' + '08000000' + '6400000000000000', 'hex'))
  t.same(decodeDsmRanges(d, 2), ranges)
  t.throws(() => decodeDsmRanges(d, 3), DecodeError)
  t.throws(() => encodeDsmRanges([]), InvalidArgumentError)
})
