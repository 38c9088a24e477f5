/**
 * Guest networking, QEMU user mode (slirp) only: the guest reaches this machine's 127.0.0.1:PORT at
 * 10.0.2.2:PORT, and this machine reaches guest listeners through `hostfwd` bound to 127.0.0.1 (a
 * free port picked when asked). No other address is ever bound or reached.
 */
import { createServer } from 'node:net'

/** Guest address of this machine's loopback (slirp gateway). */
export const GUEST_HOST_IP = '10.0.2.2'

export interface HostForward {
  /** Port on 127.0.0.1 of this machine; 0 picks a free one. */
  host: number
  /** TCP port in the guest. */
  guest: number
}

/** A free TCP port on 127.0.0.1 (listen(0), then close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** The `-netdev` value: user-mode network with each forward bound to 127.0.0.1 only. */
export function userNetdev(forwards: readonly HostForward[]): string {
  return 'user,id=n0,net=10.0.2.0/24,host=10.0.2.2,ipv6=off' + forwards.map((f) => `,hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`).join('')
}
