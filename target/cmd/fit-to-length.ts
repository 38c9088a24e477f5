/**
 * Data sized to the command: Identify, Get Features and the discovery controller answer with a
 * fixed-size page that the host may ask for only part of (or more than), so the page is cut or
 * zero-padded to the command's data length in one place.
 */

/** The page zero-padded or truncated to the command's data length. */
export function fit(page: Buffer, length: number): Buffer {
  if (page.length === length) return page
  const out = Buffer.alloc(length)
  page.copy(out, 0, 0, Math.min(length, page.length))
  return out
}
