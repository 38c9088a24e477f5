/**
 * Debian version ordering (Debian Policy 5.6.12: `[epoch:]upstream[-revision]`, compared part by
 * part; within a part, non-digit runs compare with `~` before everything and letters before
 * other characters, digit runs compare numerically). Used to pick the newest kernel of an alias.
 */

function order(c: string): number {
  if (c === '~') return -1
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0)
  return c.charCodeAt(0) + 256
}

function comparePart(a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    // non-digit run
    while ((i < a.length && !/\d/.test(a[i] as string)) || (j < b.length && !/\d/.test(b[j] as string))) {
      const ca = i < a.length && !/\d/.test(a[i] as string) ? order(a[i] as string) : 0
      const cb = j < b.length && !/\d/.test(b[j] as string) ? order(b[j] as string) : 0
      if (ca !== cb) return ca < cb ? -1 : 1
      if (i < a.length && !/\d/.test(a[i] as string)) i++
      if (j < b.length && !/\d/.test(b[j] as string)) j++
    }
    // digit run
    let na = ''
    let nb = ''
    while (i < a.length && /\d/.test(a[i] as string)) na += a[i++]
    while (j < b.length && /\d/.test(b[j] as string)) nb += b[j++]
    const d = Number(na === '' ? '0' : na) - Number(nb === '' ? '0' : nb)
    if (d !== 0) return d < 0 ? -1 : 1
  }
  return 0
}

function split(v: string): [number, string, string] {
  const colon = v.indexOf(':')
  const epoch = colon > 0 ? Number(v.slice(0, colon)) : 0
  const rest = colon > 0 ? v.slice(colon + 1) : v
  const dash = rest.lastIndexOf('-')
  return dash > 0 ? [epoch, rest.slice(0, dash), rest.slice(dash + 1)] : [epoch, rest, '']
}

/** Negative if a < b, 0 if equal, positive if a > b (dpkg --compare-versions order). */
export function compareDebVersions(a: string, b: string): number {
  const [ea, ua, ra] = split(a)
  const [eb, ub, rb] = split(b)
  if (ea !== eb) return ea < eb ? -1 : 1
  return comparePart(ua, ub) || comparePart(ra, rb)
}
