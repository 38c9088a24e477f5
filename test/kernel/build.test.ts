/**
 * kernel/build.ts without building: the patch sets and the fingerprint that names a cached build
 * (a build itself is `npm run kernel:build`, an hour on 2 cores, never part of the default suite).
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { buildFingerprint, DEFAULT_FRAGMENT, patchVariants } from '../../kernel/build.js'

t.test('seed-bio-qos has a variant per kernel line; an unknown set is a typed error', async (t) => {
  const v = patchVariants('seed-bio-qos').map((f) => f.replace(/^.*\//, ''))
  t.same(v, ['rq-qos-done-bio-skip-check.6.x.patch', 'rq-qos-done-bio-skip-check.7.x.patch'])
  for (const f of patchVariants('seed-bio-qos')) {
    const text = readFileSync(f, 'utf8')
    t.match(text, /^--- a\/block\/blk-rq-qos\.h\n\+\+\+ b\/block\/blk-rq-qos\.h\n/, `${f}: one file, -p1`)
    t.match(text, /^\+\t\t?__rq_qos_done_bio\(q->rq_qos, bio\);$/m, 'calls __rq_qos_done_bio unconditionally')
    t.match(text, /^-.*q->rq_qos\)$/m, 'removes the q->rq_qos check')
  }
  t.throws(() => patchVariants('nope'), { code: 'ERR_NVMEOF_INVALID_ARG', message: /unknown patch set 'nope'/ })
})

t.test('the fingerprint covers source version, patch and fragment', async (t) => {
  const fragmentText = readFileSync(DEFAULT_FRAGMENT, 'utf8')
  t.match(fragmentText, /^CONFIG_KPROBE_EVENTS=y$/m)
  t.match(fragmentText, /^CONFIG_BLK_WBT_MQ=y$/m)
  t.match(fragmentText, /^CONFIG_NVME_MULTIPATH=y$/m)
  const base = { pkg: 'linux-source-6.12', version: '6.12.117-1', patchText: null, fragmentText }
  const fp = buildFingerprint(base)
  t.match(fp, /^[0-9a-f]{16}$/)
  t.equal(buildFingerprint({ ...base }), fp, 'stable')
  t.not(buildFingerprint({ ...base, patchText: 'x' }), fp, 'patch')
  t.not(buildFingerprint({ ...base, version: '6.12.118-1' }), fp, 'version')
  t.not(buildFingerprint({ ...base, fragmentText: fragmentText + 'CONFIG_X=y\n' }), fp, 'fragment')
})
