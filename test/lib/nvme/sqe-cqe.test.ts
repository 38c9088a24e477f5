import t from 'tap'
import fc from 'fast-check'
import { encodeSqe, decodeSqe, makeSqe, SQE_SIZE, sqeFctype, rwDwords, rwFields, type Sqe } from '../../../lib/nvme/sqe.js'
import { encodeCqe, decodeCqe, CQE_SIZE, cqePhase, cqeResult64, result64ToDwords, type Cqe } from '../../../lib/nvme/cqe.js'
import {
  encodeSgl, decodeSgl, sglIdentifier, sglInCapsule, sglTransportDataBlock, SGL_TRANSPORT_DATA_BLOCK, SGL_DATA_BLOCK_OFFSET,
  isTransportDataBlock, isInCapsuleDataBlock, type SglDescriptor,
} from '../../../lib/nvme/sgl.js'
import { DecodeError, InvalidArgumentError } from '../../../lib/errors.js'
import { IoOpcode } from '../../../lib/nvme/opcodes.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

t.test('SGL identifiers and golden bytes', async (t) => {
  t.equal(SGL_TRANSPORT_DATA_BLOCK, 0x5a)
  t.equal(SGL_DATA_BLOCK_OFFSET, 0x01)
  t.equal(sglIdentifier(sglTransportDataBlock(4096)), 0x5a)
  t.equal(sglIdentifier(sglInCapsule(1024)), 0x01)
  const b = Buffer.alloc(16)
  encodeSgl(sglTransportDataBlock(4096), b)
  t.same(b, hex('0000000000000000 00100000 000000 5a'))
  t.ok(isTransportDataBlock(decodeSgl(b)))
  encodeSgl(sglInCapsule(1024), b)
  t.same(b, hex('0000000000000000 00040000 000000 01'))
  t.ok(isInCapsuleDataBlock(decodeSgl(b)))
  const keyed: SglDescriptor = { address: 0x1122334455667788n, length: 0xabcdef, type: 4, subtype: 0xf, key: 0xdeadbeef }
  encodeSgl(keyed, b)
  t.same(b, hex('8877665544332211 efcdab efbeadde 4f'))
  t.same(decodeSgl(b), keyed)
  t.throws(() => decodeSgl(Buffer.alloc(15)), DecodeError)
  t.throws(() => encodeSgl({ ...keyed, length: 0x1000000 }, b), InvalidArgumentError)
})

t.test('SQE golden: spec 11 admin Connect SQE', async (t) => {
  const sqe = makeSqe({ opc: 0x7f, cid: 0, nsid: 1, sgl: sglInCapsule(1024), cdw10: 0, cdw11: 31, cdw12: 5000 })
  const want = hex(`
    7f 40 00 00 01 00 00 00 00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    00 04 00 00 00 00 00 01 00 00 00 00 1f 00 00 00
    88 13 00 00 00 00 00 00 00 00 00 00 00 00 00 00`)
  t.same(encodeSqe(sqe), want)
  t.same(decodeSqe(want), sqe)
  t.equal(sqeFctype(decodeSqe(want)), 1)
})

t.test('SQE golden: read with every field distinct', async (t) => {
  const sqe: Sqe = {
    opc: 0x02, flags: 0x40, cid: 0x1234, nsid: 0x01020304, cdw2: 0x05060708, cdw3: 0x090a0b0c, mptr: 0x1112131415161718n,
    sgl: sglTransportDataBlock(0x2000), cdw10: 0x21222324, cdw11: 0x25262728, cdw12: 0x292a2b2c, cdw13: 0x2d2e2f30,
    cdw14: 0x31323334, cdw15: 0x35363738,
  }
  const b = encodeSqe(sqe)
  t.equal(b.length, SQE_SIZE)
  t.same(b, hex(`02 40 34 12 04 03 02 01 08 07 06 05 0c 0b 0a 09 18 17 16 15 14 13 12 11
    00 00 00 00 00 00 00 00 00 20 00 00 00 00 00 5a 24 23 22 21 28 27 26 25 2c 2b 2a 29 30 2f 2e 2d 34 33 32 31 38 37 36 35`))
  // encode into a caller buffer at an offset
  const target = Buffer.alloc(8 + 64)
  t.equal(encodeSqe(sqe, target, 8), 72)
  t.same(target.subarray(8), b)
  t.same(decodeSqe(target, 8), sqe)
  t.throws(() => decodeSqe(Buffer.alloc(63)), DecodeError)
  t.throws(() => encodeSqe({ ...sqe, cid: 0x10000 }), InvalidArgumentError)
})

t.test('read/write dwords', async (t) => {
  const d = rwDwords({ slba: 0x123456789an, nlb: 7, fua: true })
  const sqe = makeSqe({ opc: IoOpcode.WRITE, nsid: 1, ...d })
  const f = rwFields(sqe)
  t.equal(f.slba, 0x123456789an)
  t.equal(f.nlb, 7)
  t.equal(f.fua, true)
  t.equal(f.lr, false)
  t.equal(sqe.cdw12, (1 << 30) + 7)
})

t.test('CQE golden: spec 11 Connect response (CNTLID 1) and a status with DNR', async (t) => {
  const cqe: Cqe = { dw0: 1, dw1: 0, sqhd: 0, sqid: 0, cid: 0, status: 0 }
  t.same(encodeCqe(cqe), hex('01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00'))
  const err: Cqe = { dw0: 0x10010, dw1: 0, sqhd: 5, sqid: 0, cid: 0x1003, status: 0x4182 }
  const b = encodeCqe(err)
  t.same(b, hex('10 00 01 00 00 00 00 00 05 00 00 00 03 10 04 83'))
  t.same(decodeCqe(b), err)
  b[14] = (b[14] ?? 0) | 1
  t.equal(cqePhase(b), 1)
  t.same(decodeCqe(b), err, 'phase ignored')
  t.equal(b.length, CQE_SIZE)
  t.throws(() => decodeCqe(Buffer.alloc(15)), DecodeError)
  t.throws(() => encodeCqe({ ...err, status: 0x8000 }), InvalidArgumentError)
  t.equal(cqeResult64({ dw0: 0xffffffff, dw1: 2 }), 0x2ffffffffn)
  t.same(result64ToDwords(0x2ffffffffn), { dw0: 0xffffffff, dw1: 2 })
})

const u32 = fc.integer({ min: 0, max: 0xffffffff })
const u16 = fc.integer({ min: 0, max: 0xffff })
const u8 = fc.integer({ min: 0, max: 0xff })
const sglArb: fc.Arbitrary<SglDescriptor> = fc.oneof(
  fc.record({ address: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), length: u32, type: fc.constantFrom(0, 1, 2, 3, 5, 15), subtype: fc.integer({ min: 0, max: 15 }) }),
  fc.record({ address: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), length: fc.integer({ min: 0, max: 0xffffff }), type: fc.constant(4), subtype: fc.integer({ min: 0, max: 15 }), key: u32 }),
)
const sqeArb: fc.Arbitrary<Sqe> = fc.record({
  opc: u8, flags: u8, cid: u16, nsid: u32, cdw2: u32, cdw3: u32, mptr: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), sgl: sglArb,
  cdw10: u32, cdw11: u32, cdw12: u32, cdw13: u32, cdw14: u32, cdw15: u32,
})

t.test('properties: SQE/CQE/SGL round trips; random bytes decode; short buffers throw DecodeError', async (t) => {
  fc.assert(fc.property(sqeArb, (s) => { t.same(decodeSqe(encodeSqe(s)), s); return true }), { numRuns: 200 })
  fc.assert(
    fc.property(fc.record({ dw0: u32, dw1: u32, sqhd: u16, sqid: u16, cid: u16, status: fc.integer({ min: 0, max: 0x7fff }) }), (c) => {
      t.same(decodeCqe(encodeCqe(c)), c)
      return true
    }),
    { numRuns: 200 },
  )
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (bytes) => {
      for (const dec of [decodeSqe, decodeCqe, decodeSgl]) {
        try {
          dec(bytes)
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e
        }
      }
      if (bytes.length >= 64) t.same(encodeSqe(decodeSqe(bytes)).subarray(0, 24), Buffer.from(bytes.subarray(0, 24)))
      return true
    }),
    { numRuns: 300 },
  )
})
