/** Host→target streams come back out of a capture (lib/pcap.ts writes it), split into segments. */
import t from 'tap'
import { PcapWriter } from '../../lib/pcap.js'
import { hostStreamsFromCapture } from '../../fuzz/pcap-sessions.js'
import { DecodeError } from '../../lib/errors.js'

t.test('two connections to port 4420 and one to another port', async (t) => {
  const w = new PcapWriter({ mss: 100 })
  const a = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff))
  const b = Buffer.from('second connection, host to target')
  const f1 = w.flow({ client: { addr: '10.0.0.1', port: 40000 }, server: { addr: '10.0.0.2', port: 4420 } })
  f1.fromClient(a.subarray(0, 300))
  f1.fromServer(Buffer.from('not collected'))
  f1.fromClient(a.subarray(300))
  f1.close()
  const f2 = w.flow({ client: { addr: '10.0.0.1', port: 40001 }, server: { addr: '10.0.0.2', port: 4420 } })
  f2.fromClient(b)
  f2.close()
  const f3 = w.flow({ client: { addr: '10.0.0.1', port: 40002 }, server: { addr: '10.0.0.2', port: 8009 } })
  f3.fromClient(Buffer.from('discovery'))
  const streams = hostStreamsFromCapture(w.toBuffer(), 4420)
  t.equal(streams.length, 2)
  t.ok(streams.some((s) => s.equals(a)), 'first stream reassembled from 10 segments')
  t.ok(streams.some((s) => s.equals(b)))
  t.throws(() => hostStreamsFromCapture(Buffer.alloc(64), 4420), DecodeError)
})
