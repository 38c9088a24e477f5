/** Round-trip properties for the smaller codecs not covered in their own files. */
import t from 'tap'
import fc from 'fast-check'
import { encodeNsIdDescriptors, decodeNsIdDescriptors, type NsIdDescriptor } from '../../../lib/nvme/identify-lists.js'
import { encodeEffectsLog, decodeEffectsLog } from '../../../lib/nvme/log-effects.js'
import {
  makePropertyGetSqe, makePropertySetSqe, propertyGetFields, propertySetFields, encodeCc, decodeCc, encodeCsts, decodeCsts, makeConnectSqe, connectFields,
  makeAuthSqe, authFields,
} from '../../../lib/nvme/fabrics.js'
import { makeGetLogPageSqe, getLogPageFields, getLogPageLength, makeIdentifySqe, identifyFields, encodeDsmRanges, decodeDsmRanges } from '../../../lib/nvme/commands.js'
import { encodeSqe, decodeSqe, rwDwords, rwFields, makeSqe } from '../../../lib/nvme/sqe.js'
import { DecodeError } from '../../../lib/errors.js'

const u8 = fc.integer({ min: 0, max: 0xff })
const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const wire = <T>(sqe: T): T => decodeSqe(encodeSqe(sqe as never)) as T
const runs = { numRuns: 150 }

t.test('NS identification descriptors', async (t) => {
  const desc: fc.Arbitrary<NsIdDescriptor> = fc.oneof(
    fc.constantFrom(1, 2, 3, 4).chain((nidt) => {
      const len = ({ 1: 8, 2: 16, 3: 16, 4: 1 } as Record<number, number>)[nidt] ?? 1
      return fc.uint8Array({ minLength: len, maxLength: len }).map((nid) => ({ nidt, nid: Buffer.from(nid) }))
    }),
    fc.tuple(fc.integer({ min: 5, max: 255 }), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([nidt, nid]) => ({ nidt, nid: Buffer.from(nid) })),
  )
  fc.assert(fc.property(fc.array(desc, { maxLength: 12 }), (ds) => {
    t.same(decodeNsIdDescriptors(encodeNsIdDescriptors(ds)), ds)
    return true
  }), runs)
})

t.test('effects log', async (t) => {
  fc.assert(fc.property(fc.array(u32, { minLength: 256, maxLength: 256 }), fc.array(u32, { minLength: 256, maxLength: 256 }), (acs, iocs) => {
    t.same(decodeEffectsLog(encodeEffectsLog({ acs, iocs })), { acs, iocs })
    return true
  }), { numRuns: 20 })
  t.throws(() => decodeEffectsLog(Buffer.alloc(2047)), DecodeError)
})

t.test('fabrics command fields', async (t) => {
  fc.assert(fc.property(u16, fc.constantFrom(4 as const, 8 as const), u32, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (cid, size, ofst, v) => {
    const value = size === 4 ? v & 0xffffffffn : v
    t.same(propertyGetFields(wire(makePropertyGetSqe({ cid, size, ofst }))), { cid, attrib: size === 8 ? 1 : 0, size, ofst })
    t.same(propertySetFields(wire(makePropertySetSqe({ cid, size, ofst, value }))), { cid, attrib: size === 8 ? 1 : 0, size, ofst, value })
    return true
  }), runs)
  fc.assert(fc.property(u16, u16, u16, u16, u8, u32, (cid, recfmt, qid, sqsize, cattr, kato) => {
    const f = connectFields(wire(makeConnectSqe({ cid, recfmt, qid, sqsize, cattr, kato })))
    return f.cid === cid && f.recfmt === recfmt && f.qid === qid && f.sqsize === sqsize && f.cattr === cattr && f.kato === kato
  }), runs)
  fc.assert(fc.property(u16, u8, u8, u8, u32, fc.constantFrom('send' as const, 'receive' as const), (cid, secp, spsp0, spsp1, length, kind) => {
    const f = authFields(wire(makeAuthSqe(kind, { cid, secp, spsp0, spsp1, length })))
    return f.cid === cid && f.secp === secp && f.spsp0 === spsp0 && f.spsp1 === spsp1 && f.length === length
  }), runs)
  fc.assert(fc.property(fc.boolean(), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 15 }), fc.boolean(),
    (en, css, mps, ams, shn, iosqes, iocqes, crime) => {
      const cc = { en, css, mps, ams, shn, iosqes, iocqes, crime }
      t.same(decodeCc(encodeCc(cc)), cc)
      return true
    }), runs)
  fc.assert(fc.property(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.boolean(), (rdy, cfs, shst, nssro, pp) => {
    const c = { rdy, cfs, shst, nssro, pp }
    t.same(decodeCsts(encodeCsts(c)), c)
    return true
  }), runs)
})

t.test('admin and I/O command fields', async (t) => {
  fc.assert(fc.property(u16, u8, fc.integer({ min: 1, max: 1 << 20 }).map((x) => x * 4), fc.bigInt({ min: 0n, max: (1n << 62n) - 1n }).map((x) => x * 4n), u32, fc.integer({ min: 0, max: 0x7f }), fc.boolean(), u16, u8,
    (cid, lid, length, offset, nsid, lsp, rae, lsi, csi) => {
      const f = getLogPageFields(wire(makeGetLogPageSqe({ cid, lid, length, offset, nsid, lsp, rae, lsi, csi })))
      return f.lid === lid && getLogPageLength(f) === length && f.lpo === offset && f.nsid === nsid && f.lsp === lsp && f.rae === rae && f.lsi === lsi && f.csi === csi
    }), runs)
  fc.assert(fc.property(u16, u8, u16, u32, u16, u8, fc.integer({ min: 0, max: 0x7f }), (cid, cns, cntid, nsid, cnssid, csi, uuidIndex) => {
    t.same(identifyFields(wire(makeIdentifySqe({ cid, cns, cntid, nsid, cnssid, csi, uuidIndex }))), { cns, cntid, nsid, cnssid, csi, uuidIndex })
    return true
  }), runs)
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), u16, fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 15 }), u8, (slba, nlb, fua, lr, deac, prinfo, dsm) => {
    const f = { slba, nlb, fua, lr, deac, prinfo, dsm }
    t.same(rwFields(wire(makeSqe({ opc: 1, ...rwDwords(f) }))), f)
    return true
  }), runs)
  fc.assert(fc.property(fc.array(fc.record({ cattr: u32, nlb: u32, slba: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }), { minLength: 1, maxLength: 256 }), (ranges) => {
    t.same(decodeDsmRanges(encodeDsmRanges(ranges), ranges.length), ranges)
    return true
  }), { numRuns: 30 })
})
