// A suite's nvme-cli in the guest (NVMF_FAULT_GUEST_NVME_CLI=trixie): trixie's nvme-cli 2.13 with
// its own libraries and loader runs in the guest and knows DH-HMAC-CHAP (gen-dhchap-key), which
// bookworm's 2.3 lacks. Runs once the private apt lists exist (any `--kernels` run or a non-default
// NVMF_FAULT_KERNEL fetched them); a plain `npm test` does not fetch them for this.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { cacheRoot } from '../../kernel/cache.js'
import { ensureVmImage, interopAvailability } from './fixtures/vm-image.js'
import { consoleTail, describeRun, runGuest } from './fixtures/vm.js'

const avail = await interopAvailability()
const lists = existsSync(join(cacheRoot(), 'apt', 'lists', 'updated'))
const skip = !avail.ok ? `interop suite skipped: ${avail.reason}` : !lists ? `no private apt lists in ${join(cacheRoot(), 'apt')} (npm run test:interop -- --kernels 6.12 fetches them)` : false

t.test("trixie's nvme-cli runs in the guest", { skip }, async (t) => {
  const image = await ensureVmImage({ nvmeCli: 'trixie', log: (l) => t.comment(l) })
  t.comment(`image ${image.fingerprint}: kernel ${image.kernelRelease}, ${image.nvmeCliVersion}`)
  t.match(image.nvmeCliVersion, /^nvme version 2\.\d+/, 'the image records the suite nvme-cli version')
  const r = await runGuest({
    image,
    script: { text: 'nvme version\nk=$(nvme gen-dhchap-key --hmac=1 --nqn nqn.2014-08.org.example:h) || exit 3\necho "key $k"\n' },
    timeoutSec: 240,
  })
  t.comment(describeRun(r))
  t.equal(r.rc, 0, `guest rc 0${r.rc === 0 ? '' : `\n${consoleTail(r, 30)}`}`)
  t.not(r.nvmeCliVersion, '2.3', `guest nvme-cli is ${r.nvmeCliVersion}, not bookworm's`)
  t.match(r.console, /^key DHHC-1:01:[A-Za-z0-9+/=]+:$/m, 'gen-dhchap-key made a DH-HMAC-CHAP secret')
})
