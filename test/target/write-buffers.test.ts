/**
 * Write data gathered from H2CData lands in buffers of the connection's pool, given back once the
 * command's response is sent and handed out again for later writes and reads. Rounds of concurrent
 * 64 KiB writes (R2T/H2CData: beyond the in-capsule size), each round's data different, then every
 * range read back: a buffer reused while still in use would show as another round's bytes.
 */
import t from 'tap'
import { targetAndHost } from '../helpers/target-and-host.js'

const SUBNQN = 'nqn.2026-01.io.nvmf-fault:write-buffers'
const SIZE = 64 * 1024
const SLOTS = 8

function fill(round: number, slot: number): Buffer {
  const b = Buffer.allocUnsafe(SIZE)
  for (let i = 0; i < SIZE; i += 4) b.writeUInt32LE(((round << 24) ^ (slot << 16) ^ i) >>> 0, i)
  return b
}

for (const digests of [false, true]) {
  t.test(`pooled H2C write buffers keep every write's own data (digests ${digests ? 'on' : 'off'})`, async (t) => {
    const { target, dev } = await targetAndHost(t, SUBNQN, { hdgst: digests, ddgst: digests })
    const lba = (slot: number): number => (slot * SIZE) / 512
    for (let round = 1; round <= 4; round++) {
      await Promise.all(Array.from({ length: SLOTS }, (_, slot) => dev.write(lba(slot), fill(round, slot))))
      // Reads of whole chunks in between: the pool also serves read buffers of other sizes.
      const back = await Promise.all(Array.from({ length: SLOTS }, (_, slot) => dev.read(lba(slot), SIZE / 512)))
      for (let slot = 0; slot < SLOTS; slot++) t.ok(back[slot]!.equals(fill(round, slot)), `round ${round} slot ${slot} read back`)
    }
    const stored = await target.readNamespace(SUBNQN, 1, 0, SLOTS * SIZE)
    for (let slot = 0; slot < SLOTS; slot++) t.ok(stored.subarray(slot * SIZE, (slot + 1) * SIZE).equals(fill(4, slot)), `slot ${slot} holds the last round in the store`)
  })
}
