import t from 'tap'
import fc from 'fast-check'
import {
  NvmeStatus,
  STATUS_TABLE,
  STATUS_DNR,
  STATUS_MORE,
  STATUS_CRD_SHIFT,
  makeStatus,
  statusSct,
  statusSc,
  statusDnr,
  statusCrd,
  statusMore,
  statusToCqeField,
  cqeFieldToStatus,
  statusName,
  statusEntry,
  isPathError,
  isAnaError,
  withDnr,
} from '../../lib/status.js'
import { InvalidArgumentError } from '../../lib/errors.js'

t.test('constants and spec 8.1 values (Linux form and 16-bit CQE STATUS)', async (t) => {
  t.equal(STATUS_DNR, 0x4000)
  t.equal(STATUS_MORE, 0x2000)
  t.equal(STATUS_CRD_SHIFT, 11)
  // [linux internal, CQE STATUS, CQE STATUS with DNR] rows from the wire reference 8.1
  const rows: Array<[number, number, number, number]> = [
    [0, 0x01, 0x0002, 0x8002], [0, 0x02, 0x0004, 0x8004], [0, 0x0b, 0x0016, 0x8016], [0, 0x0c, 0x0018, 0x8018],
    [0, 0x16, 0x002c, 0x802c], [0, 0x22, 0x0044, 0x8044], [0, 0x83, 0x0106, 0x8106], [1, 0x05, 0x020a, 0x820a],
    [1, 0x82, 0x0304, 0x8304], [1, 0x91, 0x0322, 0x8322], [2, 0x81, 0x0502, 0x8502], [3, 0x02, 0x0604, 0x8604],
    [3, 0x60, 0x06c0, 0x86c0], [3, 0x70, 0x06e0, 0x86e0], [3, 0x71, 0x06e2, 0x86e2],
  ]
  for (const [sct, sc, field, fieldDnr] of rows) {
    const s = makeStatus({ sct, sc })
    t.equal(s, (sct << 8) | sc)
    t.equal(statusToCqeField(s), field, `STATUS of ${sct}/${sc.toString(16)}`)
    t.equal(statusToCqeField(makeStatus({ sct, sc, dnr: true })), fieldDnr)
    t.equal(cqeFieldToStatus(fieldDnr | 1), s | STATUS_DNR, 'phase bit dropped')
  }
  t.equal(NvmeStatus.ANA_INACCESSIBLE, 0x302)
  t.equal(NvmeStatus.ANA_PERSISTENT_LOSS, 0x301)
  t.equal(NvmeStatus.ANA_TRANSITION, 0x303)
  t.equal(NvmeStatus.HOST_PATH_ERROR, 0x370)
  t.equal(NvmeStatus.CONNECT_INVALID_PARAM, 0x182)
  t.equal(NvmeStatus.AUTH_REQUIRED, 0x191)
})

t.test('table: every spec 8.1 code is present with a name; keys match NvmeStatus', async (t) => {
  const spec81: Array<[number, number]> = [
    [0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [0, 6], [0, 7], [0, 8], [0, 0xb], [0, 0xc], [0, 0xd], [0, 0xe], [0, 0xf],
    [0, 0x11], [0, 0x16], [0, 0x18], [0, 0x19], [0, 0x1a], [0, 0x20], [0, 0x21], [0, 0x22], [0, 0x80], [0, 0x81],
    [0, 0x82], [0, 0x83], [1, 1], [1, 2], [1, 5], [1, 9], [1, 0xe], [1, 0x80], [1, 0x81], [1, 0x82], [1, 0x83],
    [1, 0x84], [1, 0x90], [1, 0x91], [2, 0x80], [2, 0x81], [3, 0], [3, 1], [3, 2], [3, 3], [3, 0x60], [3, 0x70], [3, 0x71],
  ]
  for (const [sct, sc] of spec81) {
    t.ok(STATUS_TABLE.some((e) => e.sct === sct && e.sc === sc), `${sct}/${sc.toString(16)} in table`)
  }
  const byKey = NvmeStatus as Readonly<Record<string, number>>
  for (const e of STATUS_TABLE) {
    t.equal(byKey[e.key], e.value, `NvmeStatus.${e.key}`)
    t.ok(e.name.length > 0)
  }
  const pairs = new Set(STATUS_TABLE.map((e) => `${e.value}/${e.context ?? ''}`))
  t.equal(pairs.size, STATUS_TABLE.length, 'no duplicate (code, context)')
})

t.test('statusName distinguishes SCT1 0x80/0x82 for Connect vs NVM I/O', async (t) => {
  t.equal(statusName(0x180), 'Connect Incompatible Format')
  t.equal(statusName(0x180, 'fabrics'), 'Connect Incompatible Format')
  t.equal(statusName(0x180, 'admin'), 'Connect Incompatible Format')
  t.equal(statusName(0x180, 'io'), 'Conflicting Attributes')
  t.equal(statusName(0x182, 'fabrics'), 'Connect Invalid Parameters')
  t.equal(statusName(0x182, 'io'), 'Attempted Write to Read Only Range')
  t.equal(statusName(withDnr(0x302)), 'Asymmetric Access Inaccessible (DNR)')
  t.equal(statusName(0x0), 'Successful Completion')
  t.match(statusName(0x361), /Reserved \(controller detected pathing error\).*SCT 0x3 SC 0x61/)
  t.match(statusName(0x372), /host detected/)
  t.match(statusName(0x7c1), /Vendor Specific/)
  t.equal(statusEntry(0x185, 'io'), undefined)
  t.equal(statusEntry(0x1b9, 'io')?.key, 'ZONE_FULL')
})

t.test('helpers', async (t) => {
  const s = makeStatus({ sct: 3, sc: 2, crd: 2, more: true, dnr: true })
  t.equal(s, 0x4000 | 0x2000 | (2 << 11) | 0x302)
  t.equal(statusSct(s), 3)
  t.equal(statusSc(s), 2)
  t.equal(statusCrd(s), 2)
  t.ok(statusMore(s))
  t.ok(statusDnr(s))
  t.ok(isPathError(s))
  t.ok(isAnaError(s))
  t.notOk(isAnaError(0x300))
  t.notOk(isPathError(0x006))
  t.throws(() => makeStatus({ sct: 8, sc: 0 }), InvalidArgumentError)
  t.throws(() => makeStatus({ sct: 0, sc: 256 }), InvalidArgumentError)
  t.throws(() => makeStatus({ sct: 0, sc: 1, crd: 4 }), InvalidArgumentError)
})

t.test('property: compose/decompose and CQE field round trip', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.boolean(), (sct, sc, crd, more, dnr) => {
      const s = makeStatus({ sct, sc, crd, more, dnr })
      return (
        statusSct(s) === sct && statusSc(s) === sc && statusCrd(s) === crd && statusMore(s) === more && statusDnr(s) === dnr &&
        cqeFieldToStatus(statusToCqeField(s)) === s && (statusToCqeField(s) & 1) === 0 && typeof statusName(s) === 'string'
      )
    }),
    { numRuns: 500 },
  )
  t.pass('property held')
})
