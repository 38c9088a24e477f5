import t from 'tap'
import fc from 'fast-check'
import {
  encodeIdentifyController, decodeIdentifyController, IDENTIFY_CONTROLLER_FIELDS, PSD_FIELDS, IDENTIFY_DATA_SIZE, emptyPowerState,
  type IdentifyController,
} from '../../../lib/nvme/identify-controller.js'
import {
  encodeIdentifyNamespace, decodeIdentifyNamespace, IDENTIFY_NAMESPACE_FIELDS, flbasIndex, makeFlbas, namespaceBlockSize, lbadsOf, type IdentifyNamespace,
} from '../../../lib/nvme/identify-namespace.js'
import {
  encodeActiveNsList, decodeNsidList, encodeNsIdDescriptors, decodeNsIdDescriptors, nsIdDescriptorsFor, nsIdentifiersOf, Nidt,
  encodeIdentifyNamespaceIndependent, decodeIdentifyNamespaceIndependent, encodeIdentifyControllerNvm, decodeIdentifyControllerNvm,
  IDENTIFY_NS_INDEPENDENT_FIELDS, IDENTIFY_CTRL_NVM_FIELDS,
} from '../../../lib/nvme/identify-lists.js'
import { checkLayout, zeroValue, type FieldDef } from '../../../lib/nvme/struct.js'
import { recordFor } from './fixtures/arbitraries.js'
import { DecodeError, InvalidArgumentError } from '../../../lib/errors.js'

t.test('field tables: inside 4096 bytes, no overlaps', async (t) => {
  t.match(checkLayout(IDENTIFY_CONTROLLER_FIELDS, 2048), /beyond 2048/, 'layout check catches overflow')
  t.equal(checkLayout(IDENTIFY_CONTROLLER_FIELDS, 4096), undefined)
  t.equal(checkLayout(PSD_FIELDS, 32), undefined)
  t.equal(checkLayout(IDENTIFY_NAMESPACE_FIELDS, 4096), undefined)
  t.equal(checkLayout(IDENTIFY_NS_INDEPENDENT_FIELDS, 4096), undefined)
  t.equal(checkLayout(IDENTIFY_CTRL_NVM_FIELDS, 4096), undefined)
  const off = (defs: readonly FieldDef[], n: string): number | undefined => defs.find((d) => d.name === n)?.offset
  // spot checks against the spec offsets (wire reference 4.3 / 4.4)
  const spots: Array<[string, number]> = [['vid', 0], ['sn', 4], ['mn', 24], ['fr', 64], ['cmic', 76], ['mdts', 77], ['cntlid', 78], ['ver', 80], ['oaes', 92], ['ctratt', 96],
    ['cntrltype', 111], ['crdt1', 128], ['oacs', 256], ['aerl', 259], ['lpa', 261], ['kas', 320], ['anatt', 342], ['anacap', 343], ['anagrpmax', 344], ['nanagrpid', 348],
    ['sqes', 512], ['cqes', 513], ['maxcmd', 514], ['nn', 516], ['oncs', 520], ['vwc', 525], ['sgls', 536], ['mnan', 540], ['subnqn', 768], ['ioccsz', 1792], ['iorcsz', 1796],
    ['icdoff', 1800], ['fcatt', 1802], ['msdbd', 1803], ['ofcs', 1804], ['dctype', 1806], ['vs', 3072]]
  for (const [n, o] of spots) t.equal(off(IDENTIFY_CONTROLLER_FIELDS, n), o, `${n} at ${o}`)
  const nsSpots: Array<[string, number]> = [['nsze', 0], ['ncap', 8], ['nuse', 16], ['nlbaf', 25], ['flbas', 26], ['nmic', 30], ['dlfeat', 33], ['noiob', 46], ['nvmcap', 48], ['anagrpid', 92], ['nsattr', 99], ['nguid', 104], ['eui64', 120]]
  for (const [n, o] of nsSpots) t.equal(off(IDENTIFY_NAMESPACE_FIELDS, n), o, `${n} at ${o}`)
})

t.test('Identify Controller golden spot checks (Linux-target-like values)', async (t) => {
  const c: Partial<IdentifyController> = {
    vid: 0x1b36, sn: 'abc123', mn: 'nvmf-fault', fr: '0.1.0', cmic: 0x0b, mdts: 0, cntlid: 0x1234, ver: 0x00020100, oaes: 0x900, ctratt: 0x41,
    cntrltype: 1, crdt1: 5, kas: 10, anatt: 10, anacap: 0x1f, anagrpmax: 128, nanagrpid: 128, sqes: 0x66, cqes: 0x44, maxcmd: 128, nn: 1024,
    oncs: 0x2c, vwc: 1, sgls: 0x00100001, mnan: 1024, subnqn: 'nqn.2014-08.org.example:sub1', ioccsz: 1028, iorcsz: 1, msdbd: 1,
    tnvmcap: (1n << 100n) + 5n, psd: [{ ...emptyPowerState(), mp: 0x9c4, enlat: 0x10, exlat: 0x4 }],
  }
  const b = encodeIdentifyController(c)
  t.equal(b.length, IDENTIFY_DATA_SIZE)
  t.same(b.subarray(0, 2), Buffer.from([0x36, 0x1b]))
  t.equal(b.subarray(4, 24).toString('latin1'), 'abc123'.padEnd(20, ' '), 'SN space padded')
  t.equal(b.subarray(24, 64).toString('latin1'), 'nvmf-fault'.padEnd(40, ' '))
  t.equal(b.subarray(64, 72).toString('latin1'), '0.1.0   ')
  t.equal(b[76], 0x0b)
  t.same(b.subarray(78, 80), Buffer.from([0x34, 0x12]), 'CNTLID at 78')
  t.same(b.subarray(80, 84), Buffer.from([0x00, 0x01, 0x02, 0x00]), 'VER 2.1.0')
  t.equal(b.readUInt32LE(92), 0x900)
  t.equal(b[111], 1)
  t.equal(b.readUInt16LE(128), 5)
  t.equal(b.readUInt16LE(320), 10)
  t.equal(b[342], 10)
  t.equal(b[343], 0x1f)
  t.equal(b.readUInt32LE(344), 128)
  t.equal(b[512], 0x66, 'SQES at 512')
  t.equal(b[513], 0x44)
  t.same(b.subarray(536, 540), Buffer.from([0x01, 0x00, 0x10, 0x00]), 'SGLS at 536')
  t.equal(b.readUInt32LE(540), 1024)
  t.equal(b.subarray(768, 768 + 28).toString(), 'nqn.2014-08.org.example:sub1', 'SUBNQN at 768')
  t.equal(b[768 + 28], 0)
  t.same(b.subarray(1792, 1796), Buffer.from([0x04, 0x04, 0x00, 0x00]), 'IOCCSZ 1028 at 1792')
  t.equal(b.readUInt32LE(1796), 1)
  t.equal(b[1803], 1)
  t.equal(b.readUInt16LE(2048), 0x9c4, 'PSD0 MP')
  t.equal(b.readUInt32LE(2052), 0x10)
  t.equal(b.readUInt32LE(2056), 0x4)
  t.equal(b.readBigUInt64LE(280), 5n)
  t.equal(b.readBigUInt64LE(288), 1n << 36n, 'TNVMCAP high half')
  const d = decodeIdentifyController(b)
  t.equal(d.sn, 'abc123')
  t.equal(d.subnqn, c.subnqn)
  t.equal(d.cntlid, 0x1234)
  t.equal(d.tnvmcap, c.tnvmcap)
  t.equal(d.psd.length, 32)
  t.equal(d.psd[0]?.mp, 0x9c4)
  t.throws(() => decodeIdentifyController(b.subarray(0, 4095)), DecodeError)
  t.throws(() => encodeIdentifyController({ sn: 'x'.repeat(21) }), InvalidArgumentError)
  t.throws(() => encodeIdentifyController({ subnqn: 'x'.repeat(256) }), InvalidArgumentError)
  t.throws(() => encodeIdentifyController({ cntlid: 0x10000 }), InvalidArgumentError)
})

t.test('Identify Namespace golden spot checks', async (t) => {
  const nguid = Buffer.from('00112233445566778899aabbccddeeff', 'hex')
  const ns: Partial<IdentifyNamespace> = {
    nsze: 0x123456789n, ncap: 0x123456789n, nuse: 0x100n, nlbaf: 1, flbas: makeFlbas(1), nmic: 1, anagrpid: 3, nguid, eui64: Buffer.from('0102030405060708', 'hex'),
    lbaf: [{ ms: 0, lbads: 9, rp: 0 }, { ms: 8, lbads: 12, rp: 2 }],
  }
  const b = encodeIdentifyNamespace(ns)
  t.equal(b.readBigUInt64LE(0), 0x123456789n, 'NSZE')
  t.equal(b.readBigUInt64LE(8), 0x123456789n, 'NCAP')
  t.equal(b.readBigUInt64LE(16), 0x100n, 'NUSE')
  t.equal(b[25], 1)
  t.equal(b[26], 1)
  t.equal(b[30], 1, 'NMIC at 30')
  t.equal(b.readUInt32LE(92), 3, 'ANAGRPID at 92')
  t.same(b.subarray(104, 120), nguid, 'NGUID at 104')
  t.same(b.subarray(120, 128), Buffer.from('0102030405060708', 'hex'))
  t.same(b.subarray(128, 136), Buffer.from([0, 0, 9, 0, 8, 0, 12, 2]), 'LBAF at 128')
  const d = decodeIdentifyNamespace(b)
  t.equal(namespaceBlockSize(d), 4096)
  t.equal(d.lbaf.length, 64)
  t.same(d.nguid, nguid)
  t.equal(flbasIndex(makeFlbas(37, true)), 37)
  t.equal(makeFlbas(37, true), (37 & 0xf) | ((37 & 0x30) << 1) | 0x10)
  t.equal(lbadsOf(512), 9)
  t.throws(() => lbadsOf(1000), InvalidArgumentError)
  t.throws(() => decodeIdentifyNamespace(Buffer.alloc(100)), DecodeError)
})

t.test('Active NSID list, NS ID descriptors, CNS 08h and CNS 06h', async (t) => {
  const l = encodeActiveNsList([5, 1, 3, 3, 1000], 1)
  t.same(l.subarray(0, 16), Buffer.from([3, 0, 0, 0, 5, 0, 0, 0, 0xe8, 3, 0, 0, 0, 0, 0, 0]))
  t.same(decodeNsidList(l), [3, 5, 1000])
  t.equal(decodeNsidList(encodeActiveNsList(Array.from({ length: 2000 }, (_, i) => i + 1))).length, 1024)
  const uuid = Buffer.from('aabbccddeeff00112233445566778899', 'hex')
  const nguid = Buffer.from('00112233445566778899aabbccddeeff', 'hex')
  const descs = nsIdDescriptorsFor({ nguid, uuid, eui64: Buffer.alloc(8), csi: 0 })
  t.same(descs.map((d) => d.nidt), [Nidt.NGUID, Nidt.UUID, Nidt.CSI], 'zero EUI-64 left out, CSI last')
  const b = encodeNsIdDescriptors(descs)
  t.same(b.subarray(0, 4), Buffer.from([2, 16, 0, 0]))
  t.same(b.subarray(4, 20), nguid)
  t.same(b.subarray(20, 24), Buffer.from([3, 16, 0, 0]))
  t.same(b.subarray(40, 45), Buffer.from([4, 1, 0, 0, 0]))
  t.same(nsIdentifiersOf(decodeNsIdDescriptors(b)), { nguid, uuid, csi: 0 })
  const bad = Buffer.from(b)
  bad[1] = 8
  t.throws(() => decodeNsIdDescriptors(bad), { name: 'DecodeError', field: 'nidl', offset: 1 })
  const overrun = Buffer.from([0x80, 200, 0, 0, 1, 2])
  t.throws(() => decodeNsIdDescriptors(overrun), { name: 'DecodeError', field: 'nid', offset: 4 })
  t.throws(() => encodeNsIdDescriptors([{ nidt: 3, nid: Buffer.alloc(8) }]), InvalidArgumentError)
  const ind = encodeIdentifyNamespaceIndependent({ nmic: 1, anagrpid: 2, nstat: 1 })
  t.equal(ind[1], 1)
  t.equal(ind.readUInt32LE(4), 2)
  t.equal(ind[14], 1, 'NSTAT at 14')
  t.same(decodeIdentifyNamespaceIndependent(ind), { nsfeat: 0, nmic: 1, rescap: 0, fpi: 0, anagrpid: 2, nsattr: 0, nvmsetid: 0, endgid: 0, nstat: 1 })
  const nvm = encodeIdentifyControllerNvm({ dmrl: 1, dmrsl: 0xffff, dmsl: 5n })
  t.equal(nvm[3], 1)
  t.equal(nvm.readUInt32LE(4), 0xffff)
  t.same(decodeIdentifyControllerNvm(nvm), { vsl: 0, wzsl: 0, wusl: 0, dmrl: 1, dmrsl: 0xffff, dmsl: 5n })
})


t.test('properties: round trips and random bytes', async (t) => {
  t.equal(zeroValue({ name: 'x', offset: 0, size: 8, kind: 'u64' }), 0n)
  fc.assert(
    fc.property(recordFor(IDENTIFY_CONTROLLER_FIELDS), fc.array(recordFor(PSD_FIELDS), { minLength: 32, maxLength: 32 }), (c, psd) => {
      const v = { ...c, psd } as unknown as IdentifyController
      t.same(decodeIdentifyController(encodeIdentifyController(v)), v)
      return true
    }),
    { numRuns: 25 },
  )
  fc.assert(
    fc.property(recordFor(IDENTIFY_NAMESPACE_FIELDS), fc.array(fc.record({ ms: fc.integer({ min: 0, max: 0xffff }), lbads: fc.integer({ min: 0, max: 255 }), rp: fc.integer({ min: 0, max: 3 }) }), { minLength: 64, maxLength: 64 }), (n, lbaf) => {
      const v = { ...n, lbaf } as unknown as IdentifyNamespace
      t.same(decodeIdentifyNamespace(encodeIdentifyNamespace(v)), v)
      return true
    }),
    { numRuns: 25 },
  )
  fc.assert(fc.property(recordFor(IDENTIFY_NS_INDEPENDENT_FIELDS), (v) => { t.same(decodeIdentifyNamespaceIndependent(encodeIdentifyNamespaceIndependent(v)), v); return true }), { numRuns: 50 })
  fc.assert(fc.property(recordFor(IDENTIFY_CTRL_NVM_FIELDS), (v) => { t.same(decodeIdentifyControllerNvm(encodeIdentifyControllerNvm(v)), v); return true }), { numRuns: 50 })
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 0xfffffffe }), { maxLength: 50 }), (ns) => {
      const want = [...new Set(ns)].sort((a, b) => a - b)
      t.same(decodeNsidList(encodeActiveNsList(ns)), want)
      return true
    }),
    { numRuns: 100 },
  )
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 4200 }), (bytes) => {
      for (const dec of [decodeIdentifyController, decodeIdentifyNamespace, decodeNsIdDescriptors, decodeNsidList, decodeIdentifyNamespaceIndependent, decodeIdentifyControllerNvm]) {
        try {
          dec(bytes)
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e
        }
      }
      return true
    }),
    { numRuns: 60 },
  )
  // Descriptor-shaped random input (small NIDLs) exercises the walk itself.
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 20 })), { maxLength: 10 }), fc.integer({ min: 0, max: 120 }), (hdrs, len) => {
      const b = Buffer.alloc(len)
      let o = 0
      for (const [nidt, nidl] of hdrs) {
        if (o + 2 > len) break
        b[o] = nidt
        b[o + 1] = nidl
        o += 4 + nidl
      }
      try {
        decodeNsIdDescriptors(b)
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e
      }
      return true
    }),
    { numRuns: 300 },
  )
})
