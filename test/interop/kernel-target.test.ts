// The Linux kernel nvmet-tcp target fixture (startKernelTarget), probed from this machine with a
// hand-built ICReq on both forwarded ports, with an ANA change applied through configfs.
import t from 'tap'
import { decodeIcResp, encodeIcReq, PduType } from '../../lib/pdu/index.js'
import { encodeIcReqByHand, probeIcResp } from './fixtures/icreq-probe.js'
import { startKernelTarget } from './fixtures/kernel-target.js'
import { interopAvailability } from './fixtures/vm-image.js'
import { consoleTail, describeRun } from './fixtures/vm.js'

const avail = await interopAvailability()
t.test('kernel nvmet-tcp target fixture', { skip: avail.ok ? false : `interop suite skipped: ${avail.reason}` }, async (t) => {
  const t0 = performance.now()
  const kt = await startKernelTarget({ nsMiB: 64, timeoutSec: 300, log: (l) => t.comment(l) })
  t.teardown(() => kt.vm.kill())
  t.comment(`kernel target ready after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${kt.ports.map((p) => `port ${p.portId} 127.0.0.1:${p.port} -> guest ${p.guestPort}`).join(', ')}`)
  t.equal(kt.ports.length, 2)
  t.equal(kt.addressMap.get(`10.0.2.15:4420`)?.port, kt.ports[0]?.port, 'discovery addresses map to forwarded ports')

  for (const p of kt.ports) {
    const resp = await probeIcResp(p.host, p.port, { timeoutMs: 30_000 })
    t.equal(resp.type, 0x01, `port ${p.portId}: ICResp type`)
    t.equal(resp.hlen, 128, 'ICResp HLEN')
    t.equal(resp.plen, 128, 'ICResp PLEN')
    t.equal(resp.pfv, 0, 'PFV 0')
    t.equal(resp.cpda, 0, 'CPDA 0')
    t.same([resp.hdgst, resp.ddgst], [false, false], 'no digests when none were asked for')
    t.ok(resp.maxh2cdata >= 4096 && resp.maxh2cdata % 4 === 0, `MAXH2CDATA ${resp.maxh2cdata} usable by a host`)
    t.comment(`port ${p.portId}: ICResp ${resp.raw.subarray(0, 16).toString('hex')} maxh2cdata=${resp.maxh2cdata}`)
  }
  // The project's codecs agree with the hand-built bytes and with what the kernel sent.
  t.same(encodeIcReq({ type: PduType.IC_REQ, pfv: 0, hpda: 0, hdgst: true, ddgst: false, maxr2t: 0 }), encodeIcReqByHand({ hdgst: true }), 'lib/pdu ICReq = hand-built ICReq')
  const first = await probeIcResp('127.0.0.1', kt.ports[0]?.port ?? 0, { timeoutMs: 30_000 })
  t.same(decodeIcResp(first.raw), { type: PduType.IC_RESP, pfv: 0, cpda: 0, hdgst: false, ddgst: false, maxh2cdata: first.maxh2cdata }, 'lib/pdu decodes the kernel ICResp')
  const dig = await probeIcResp('127.0.0.1', kt.ports[1]?.port ?? 0, { timeoutMs: 30_000, hdgst: true, ddgst: true })
  t.same([dig.hdgst, dig.ddgst], [true, true], 'the kernel target echoes the requested digests')

  await kt.setAnaState(1, 1, 'inaccessible')
  let show = await kt.command('show')
  t.match(show, /port 1: .*\n\s+ana group 1: inaccessible/, 'port 1 group 1 inaccessible in configfs')
  t.match(show, /port 2: .*\n\s+ana group 1: optimized/, 'port 2 unchanged')
  await kt.setAnaState(1, 1, 'optimized')
  await kt.command('ns-add 2 16')
  show = await kt.command('show')
  t.match(show, /ns 2: enable=1/, 'namespace added on request')
  await t.rejects(kt.setAnaState(3, 1, 'optimized'), { code: 'ERR_NVMEOF_INVALID_ARG' })
  await t.rejects(kt.command('bogus'), /unknown request/)

  const r = await kt.stop()
  t.comment(describeRun(r))
  t.equal(r.rc, 0, `guest kernel log clean${r.rc === 0 ? '' : `\n${consoleTail(r)}`}`)
})
