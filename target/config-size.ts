/**
 * Sizes as people write them in a config or on a command line ("1GiB", "512MiB", "64M", or a
 * number of bytes): one parser for namespace sizes and the fault CLI.
 */

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1000, kb: 1000, kib: 1024,
  m: 1000 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1000 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
  t: 1000 ** 4, tb: 1000 ** 4, tib: 1024 ** 4,
}

/** "1GiB" → 1073741824. Returns a reason string on failure. */
export function parseSize(v: unknown): number | string {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v > 0 ? v : 'must be a positive integer number of bytes'
  if (typeof v !== 'string') return 'must be a number of bytes or a string such as "1GiB"'
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v)
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || unit === undefined) return `cannot parse size "${v}" (use e.g. 1073741824, "1GiB", "512MiB")`
  const n = Math.round(Number(m[1]) * unit)
  return Number.isSafeInteger(n) && n > 0 ? n : `size "${v}" out of range`
}
