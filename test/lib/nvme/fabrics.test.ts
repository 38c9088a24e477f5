import t from 'tap'
import fc from 'fast-check'
import {
  makeConnectSqe, connectFields, encodeConnectData, decodeConnectData, CONNECT_DATA_SIZE, makeConnectResponseDw0,
  parseConnectResponseDw0, makeConnectInvalidParamDw0, parseConnectInvalidParamDw0, makePropertyGetSqe, makePropertySetSqe,
  propertyGetFields, propertySetFields, Property, propertySize, makeDisconnectSqe, disconnectFields, makeAuthSqe, authFields,
  AUTH_SECP_NVME, decodeCap, encodeCap, decodeCc, encodeCc, decodeCsts, encodeCsts, makeVersion, parseVersion, isFabricsCommand,
  CONNECT_DYNAMIC_CNTLID, type ConnectData,
} from '../../../lib/nvme/fabrics.js'
import { encodeSqe, decodeSqe, sqeFctype } from '../../../lib/nvme/sqe.js'
import { FabricsType } from '../../../lib/nvme/opcodes.js'
import { DecodeError, InvalidArgumentError } from '../../../lib/errors.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

t.test('Connect SQE matches spec section 11 byte for byte', async (t) => {
  const sqe = makeConnectSqe({ cid: 0, qid: 0, sqsize: 31, kato: 5000 })
  t.same(encodeSqe(sqe), hex(`
    7f 40 00 00 01 00 00 00 00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    00 04 00 00 00 00 00 01 00 00 00 00 1f 00 00 00
    88 13 00 00 00 00 00 00 00 00 00 00 00 00 00 00`))
  const io = makeConnectSqe({ cid: 7, qid: 3, sqsize: 127, cattr: 4 })
  const f = connectFields(decodeSqe(encodeSqe(io)))
  t.same({ cid: f.cid, recfmt: f.recfmt, qid: f.qid, sqsize: f.sqsize, cattr: f.cattr, kato: f.kato }, { cid: 7, recfmt: 0, qid: 3, sqsize: 127, cattr: 4, kato: 0 })
  t.equal(encodeSqe(io)[42], 3, 'QID at 42')
  t.equal(encodeSqe(io)[46], 4, 'CATTR at 46')
  t.ok(isFabricsCommand(io, FabricsType.CONNECT))
  t.throws(() => makeConnectSqe({ cid: 0, qid: 0x10000, sqsize: 1 }), InvalidArgumentError)
})

t.test('Connect data golden layout', async (t) => {
  const hostid = hex('00112233445566778899aabbccddeeff')
  const d: ConnectData = { hostid, cntlid: CONNECT_DYNAMIC_CNTLID, subnqn: 'nqn.2014-08.org.example:sub', hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:00112233-4455-6677-8899-aabbccddeeff' }
  const b = encodeConnectData(d)
  t.equal(b.length, CONNECT_DATA_SIZE)
  t.same(b.subarray(0, 32), hex('00112233445566778899aabbccddeeff ffff 0000000000000000000000000000'))
  t.equal(b.subarray(256, 256 + d.subnqn.length).toString(), d.subnqn)
  t.equal(b[256 + d.subnqn.length], 0)
  t.equal(b.subarray(512, 512 + d.hostnqn.length).toString(), d.hostnqn)
  t.ok(b.subarray(768).every((x) => x === 0), 'reserved 768-1023 zero')
  t.same(decodeConnectData(b), d)
  t.throws(() => decodeConnectData(b.subarray(0, 1023)), DecodeError)
  t.throws(() => encodeConnectData({ ...d, subnqn: 'x'.repeat(256) }), InvalidArgumentError)
  t.throws(() => encodeConnectData({ ...d, hostid: Buffer.alloc(15) }), InvalidArgumentError)
  // a field without NUL is cut at its 256 bytes, never overruns into the next one
  const noNul = Buffer.from(b)
  noNul.fill(0x41, 256, 512)
  t.equal(decodeConnectData(noNul).subnqn, 'A'.repeat(256))
})

t.test('Connect response DW0', async (t) => {
  t.equal(makeConnectResponseDw0({ cntlid: 1 }), 1)
  t.same(parseConnectResponseDw0(0x00060005), { cntlid: 5, authreq: 6 })
  t.equal(makeConnectInvalidParamDw0({ ipo: 16, inData: true }), 0x00010010)
  t.equal(makeConnectInvalidParamDw0({ ipo: 44 }), 44)
  t.same(parseConnectInvalidParamDw0(0x00010100), { ipo: 256, iattr: 1 })
})

t.test('Property Get/Set', async (t) => {
  const g = encodeSqe(makePropertyGetSqe({ cid: 9, size: 8, ofst: Property.CAP }))
  t.same(g.subarray(0, 5), hex('7f 40 09 00 04'))
  t.equal(g[40], 1, 'ATTRIB 8 bytes')
  t.equal(g.readUInt32LE(44), 0)
  t.same(propertyGetFields(decodeSqe(g)), { cid: 9, attrib: 1, size: 8, ofst: 0 })
  const s = encodeSqe(makePropertySetSqe({ cid: 2, size: 4, ofst: Property.CC, value: 0x460001n }))
  t.equal(s[4], 0x00, 'FCTYPE Property Set')
  t.equal(s.readUInt32LE(44), 0x14)
  t.equal(s.readUInt32LE(48), 0x460001)
  t.same(propertySetFields(decodeSqe(s)), { cid: 2, attrib: 0, size: 4, ofst: 0x14, value: 0x460001n })
  const s8 = makePropertySetSqe({ cid: 2, size: 8, ofst: 0x28, value: 0x1122334455667788n })
  t.equal(propertySetFields(s8).value, 0x1122334455667788n)
  t.throws(() => makePropertySetSqe({ cid: 1, size: 4, ofst: 0x14, value: 1n << 32n }), InvalidArgumentError)
  t.equal(propertySize(Property.CAP), 8)
  t.equal(propertySize(Property.CSTS), 4)
  t.equal(propertySize(0x44), undefined)
})

t.test('Disconnect and Authentication framing', async (t) => {
  const d = makeDisconnectSqe({ cid: 3 })
  t.equal(sqeFctype(d), 0x08)
  t.same(disconnectFields(d), { cid: 3, recfmt: 0 })
  const send = encodeSqe(makeAuthSqe('send', { cid: 4, length: 100, spsp0: 1, spsp1: 0 }))
  t.equal(send[4], 0x05)
  t.equal(send[41], 1)
  t.equal(send[43], AUTH_SECP_NVME)
  t.equal(send.readUInt32LE(44), 100)
  t.equal(send[39], 0x01, 'send data in-capsule')
  const recv = makeAuthSqe('receive', { cid: 4, length: 512 })
  t.equal(sqeFctype(recv), 0x06)
  t.same(authFields(decodeSqe(encodeSqe(recv))), { cid: 4, spsp0: 0, spsp1: 0, secp: 0xe9, length: 512, sgl: { address: 0n, length: 512, type: 5, subtype: 0xa } })
})

t.test('CAP, VS, CC, CSTS', async (t) => {
  const cap = encodeCap({ mqes: 1023, to: 15, cqr: true })
  t.equal(cap, 1023n | (1n << 16n) | (15n << 24n) | (1n << 37n))
  const c = decodeCap(cap)
  t.equal(c.mqes, 1023)
  t.equal(c.to, 15)
  t.equal(c.css, 1)
  t.equal(c.crwms, false)
  t.equal(encodeCap(c), cap)
  t.equal(makeVersion(2, 1, 0), 0x00020100)
  t.same(parseVersion(0x00010300), { mjr: 1, mnr: 3, ter: 0 })
  const cc = encodeCc({ en: true, iosqes: 6, iocqes: 4 })
  t.equal(cc, 0x00460001)
  t.same(decodeCc(cc), { en: true, css: 0, mps: 0, ams: 0, shn: 0, iosqes: 6, iocqes: 4, crime: false })
  t.equal(decodeCc(0x4000).shn, 1)
  t.equal(encodeCsts({ rdy: true, shst: 2 }), 0x9)
  t.same(decodeCsts(0x9), { rdy: true, cfs: false, shst: 2, nssro: false, pp: false })
})

t.test('properties: Connect data round trip and random bytes', async (t) => {
  const nqn = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789.:-'.split('')), minLength: 0, maxLength: 255 })
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 0xffff }), nqn, nqn, (h, cntlid, subnqn, hostnqn) => {
      const d = { hostid: Buffer.from(h), cntlid, subnqn, hostnqn }
      t.same(decodeConnectData(encodeConnectData(d)), d)
      return true
    }),
    { numRuns: 100 },
  )
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2000 }), (n) => {
      try {
        decodeConnectData(Buffer.alloc(n, 0x7a))
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e
      }
      return true
    }),
    { numRuns: 50 },
  )
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 61n) - 1n }), (v) => {
    // bits 19:18, 23:19 (reserved) ... only defined fields survive
    const defined = encodeCap(decodeCap(v))
    return decodeCap(defined).mqes === decodeCap(v).mqes && encodeCap(decodeCap(defined)) === defined
  }), { numRuns: 200 })
})
