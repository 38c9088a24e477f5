// DH-HMAC-CHAP with the Linux kernel host (guest under QEMU, nvme-cli --dhchap-secret, with and
// without --dhchap-ctrl-secret) against our target: unidirectional, re-authentication through sysfs
// and on the target's request (Authentication Required without DNR),
// bidirectional, a wrong host secret and a wrong controller secret (guest/auth-host.sh). Needs a
// Debian 6.16+ kernel (fixtures/auth-kernel.ts); skips, saying why, without one.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import t from 'tap'
import { createTarget } from '../../target/index.js'
import { generateDhchapSecret } from '../../lib/nvme/auth-secret.js'
import { authKernel } from './fixtures/auth-kernel.js'
import { consoleTail, describeRun, freePort, GUEST_HOST_IP, startGuest } from './fixtures/vm.js'

const SUBNQN = 'nqn.2014-08.org.nvmf-fault:auth-interop'
const HOSTID = '5b1e9f3a-7c2d-4e8f-9a0b-1c2d3e4f5a6b'
const HOSTNQN = `nqn.2014-08.org.nvmexpress:uuid:${HOSTID}`
const SCRIPT = fileURLToPath(new URL('./fixtures/guest/auth-host.sh', import.meta.url))
const EXPECTED = ['uni', 'uni_dmesg', 'reauth', 'io_after_reauth', 'target_reauth_dmesg', 'io_after_target_reauth', 'bidi', 'bidi_dmesg', 'bad_key_refused', 'bad_key_logged', 'bad_ctrl_key_refused']

const k = await authKernel(() => {})
t.test('Linux kernel host authenticates to our target (DH-HMAC-CHAP)', { skip: k.ok ? false : k.reason }, async (t) => {
  if (!k.ok) return
  const logDir = mkdtempSync(join(tmpdir(), 'nvmf-fault-auth-'))
  t.teardown(() => rmSync(logDir, { recursive: true, force: true }))
  const logFile = join(logDir, 'target.log')
  const logger = pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true }))
  const key = generateDhchapSecret({ hash: 'sha256' })
  const ctrlKey = generateDhchapSecret({ hash: 'sha512' })
  const port = await freePort()
  const target = await createTarget({
    logger,
    ports: [{ id: 1, address: '127.0.0.1', port, advertise: { address: GUEST_HOST_IP, port } }],
    subsystems: [{ nqn: SUBNQN, allowAnyHost: false, hosts: [HOSTNQN], namespaces: [{ nsid: 1, size: '16MiB' }] }],
    // The kernel host offers every hash and group; our preference picks SHA-512 with ffdhe2048.
    hosts: [{ nqn: HOSTNQN, dhchapKey: key, dhchapCtrlKey: ctrlKey, dhchapHashes: ['sha512', 'sha256'], dhchapDhgroups: ['ffdhe2048', 'null'] }],
  })
  t.teardown(() => target.close())
  const vm = await startGuest({
    script: SCRIPT,
    env: { AH_SUBNQN: SUBNQN, AH_PORT: String(port), AH_KEY: key, AH_CTRL_KEY: ctrlKey, AH_BAD_KEY: generateDhchapSecret({ hash: 'sha256' }) },
    hostnqn: HOSTNQN,
    hostid: HOSTID,
    image: k.image,
    timeoutSec: 600,
    memMiB: 512,
    ...(process.env.NVMF_FAULT_INTEROP_VERBOSE === '1' ? { onConsoleLine: (l: string) => t.comment(`[vm] ${l}`) } : {}),
  })
  t.teardown(() => vm.kill())
  const calls = vm.share.serveCalls(async (cmd) => {
    if (cmd === 'counters') return JSON.stringify(target.authCounters())
    if (cmd === 'reauth-request') return String(target.requestReauthentication({ subnqn: SUBNQN }))
    throw new Error(`unknown call '${cmd}'`)
  })
  const r = await vm.done
  calls.stop()
  t.comment(describeRun(r))
  t.comment(`guest kernel ${r.kernelVersion} (${k.image.kernelPackage}), ${r.nvmeCliVersion}`)
  for (const [key2, v] of Object.entries(r.results)) if (!key2.startsWith('check.')) t.comment(`${key2}: ${v}`)
  const c = target.authCounters()
  t.comment(`target auth counters: ${JSON.stringify(c)}`)
  for (const name of EXPECTED) t.equal(r.results[`check.${name}`], 'ok', name)
  t.equal(r.rc, 0, 'every guest check passed')
  t.ok(c.successes >= 4, 'the target counted the kernel host successes (admin + I/O queues, twice, plus re-authentication)')
  t.ok(c.failures >= 2, 'the target counted the wrong host secret and the AUTH_Failure2 of the wrong controller secret')
  t.ok((c.failuresByReason['Authentication failed'] ?? 0) >= 1)
  if (r.rc !== 0) {
    t.comment(consoleTail(r, 120))
    t.comment(readFileSync(logFile, 'utf8').split('\n').filter((l) => /auth/i.test(l)).slice(-40).join('\n'))
  }
})
