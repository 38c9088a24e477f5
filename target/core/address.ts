/** Address helpers for the core (no `node:net`: that module belongs to the TCP transport). */

/** True for an IPv6 literal (contains a colon); discovery entries use it for ADRFAM. */
export function isIPv6(address: string): boolean {
  return address.includes(':')
}
