/**
 * Test helper: bounded waits — a promise with a time limit, a command's completion or undefined, a
 * polled condition — shared by the raw host and the tests that drive it. Apart from raw-host.ts as
 * they wait for anything, not only for raw PDUs.
 */

/**
 * Default bound of every wait for something that must happen (a PDU, a completion, a condition):
 * generous, since the suite runs on loaded 2-core machines; it only costs time when a test fails.
 * A test that expects *no* answer passes its own short timeout.
 */
export const POSITIVE_WAIT_MS = 30_000

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`timeout waiting for ${what}`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(t))
}

/** The completion, or undefined when the command timed out or its connection closed. */
export function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  return p.catch(() => undefined)
}

/** Wait until `cond()` holds (polling, bounded). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = POSITIVE_WAIT_MS): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
