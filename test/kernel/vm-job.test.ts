/**
 * The guest runner's edges that need no QEMU: options checked before anything starts (a typed error
 * naming the field), the job archive's layout, and the TCG threading switch.
 */
import t from 'tap'
import { jobArchive, validateGuestOptions } from '../../kernel/vm-job.js'
import { tcgAccel } from '../../kernel/vm.js'

t.test('bad guest options are refused with the field named', async (t) => {
  const base = { script: { text: 'exit 0\n' }, timeoutSec: 60 }
  t.doesNotThrow(() => validateGuestOptions(base))
  t.throws(() => validateGuestOptions({ ...base, timeoutSec: 1 }), { code: 'ERR_NVMEOF_INVALID_ARG', message: /timeoutSec/ })
  t.throws(() => validateGuestOptions({ ...base, cpus: 0 }), { message: /cpus/ })
  t.throws(() => validateGuestOptions({ ...base, env: { 'BAD-NAME': 'x' } }), { message: /env.*BAD-NAME/ })
  t.throws(() => validateGuestOptions({ ...base, hostfwd: [{ host: 0, guest: 0 }] }), { message: /hostfwd/ })
  t.throws(() => validateGuestOptions({ ...base, script: '/nonexistent/job.sh' }), { message: /script.*no such file/ })
})

t.test('the job archive carries script, quoted arguments, environment and settings', async (t) => {
  const a = jobArchive({ script: { text: 'echo hi\n' }, args: ["it's"], env: { A: 'b c' }, timeoutSec: 60, jobTimeoutSec: 7 }).toString('latin1')
  t.match(a, /job\/script/)
  t.match(a, /set -- 'it'\\''s'\n/)
  t.match(a, /export A='b c'\n/)
  t.match(a, /VM_JOB_TIMEOUT=7\n/)
})

t.test('TCG threading follows NVMF_FAULT_VM_TCG_THREAD', async (t) => {
  t.equal(tcgAccel({}), 'tcg', "QEMU's default")
  t.equal(tcgAccel({ NVMF_FAULT_VM_TCG_THREAD: 'single' }), 'tcg,thread=single')
  t.equal(tcgAccel({ NVMF_FAULT_VM_TCG_THREAD: 'multi' }), 'tcg,thread=multi')
  t.throws(() => tcgAccel({ NVMF_FAULT_VM_TCG_THREAD: 'bogus' }), { code: 'ERR_NVMEOF_INVALID_ARG', message: /NVMF_FAULT_VM_TCG_THREAD.*bogus/ })
})
