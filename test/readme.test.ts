/** The README's library example is the runnable examples/pdu-roundtrip.ts, and it runs. */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')

t.test('README shows examples/pdu-roundtrip.ts verbatim (as an installed user imports it)', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const example = readFileSync(join(root, 'examples', 'pdu-roundtrip.ts'), 'utf8').replace("from '../index.js'", "from 'nvmf-fault'")
  t.ok(readme.includes(example), 'README contains the example')
  for (const line of ['npm ci', 'npm start', 'npm test']) t.ok(readme.includes(line), `README set-up mentions ${line}`)
})

t.test('the example encodes, frames and decodes a CapsuleCmd', async (t) => {
  const out = execFileSync(process.execPath, [...process.execArgv, join(root, 'examples', 'pdu-roundtrip.ts')], { encoding: 'utf8' })
  t.match(out, /CapsuleCmd: 76 bytes, header 040148004c000000/)
  t.match(out, /decoded: opc 0x2 cid 0x1003 nsid 1 slba 2048 nlb\+1 8/)
})
