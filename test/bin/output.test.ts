/**
 * The CLI's printing layer as functions: JSON with 64-bit values, nvme-cli's discovery JSON shape
 * and spellings, error lines and exit codes, and when a progress bar is drawn.
 */
import t from 'tap'
import { CommanderError } from 'commander'
import { jsonText, jsonValue } from '../../bin/cli-output.js'
import { EXIT, errorLine, exitCodeFor } from '../../bin/exit-codes.js'
import { shouldShowProgress } from '../../bin/progress.js'
import { ControlRequestError } from '../../faults/control-client.js'
import { ConfigError, ConnectionError, InvalidArgumentError, NvmeStatusError, TimeoutError } from '../../lib/errors.js'
import { eflagsName, nvmeCliDiscoveryLog, treqName } from '../../initiator/discovery-json.js'

t.test('64-bit values print as JSON numbers where they fit, as decimal strings beyond 2^53 - 1', async (t) => {
  t.equal(jsonValue('x', 5n), 5)
  t.equal(jsonValue('x', 2n ** 53n - 1n), Number.MAX_SAFE_INTEGER)
  t.equal(jsonValue('x', 2n ** 64n - 1n), '18446744073709551615', 'no digit lost')
  t.equal(jsonValue('genctr', '17'), 17, 'a 64-bit counter carried as a string by the control plane')
  t.equal(jsonValue('genctr', '18446744073709551615'), '18446744073709551615')
  t.equal(jsonValue('subnqn', '123'), '123', 'other strings stay strings')
  t.same(JSON.parse(jsonText({ discovery: { genctr: '3' }, ns: [{ blocks: '4096', uuid: 'u' }], big: 1n })), { discovery: { genctr: 3 }, ns: [{ blocks: 4096, uuid: 'u' }], big: 1 })
})

t.test("nvme-cli's discovery JSON: keys, value spellings and genctr as a number", async (t) => {
  const base = { cntlid: 0xffff, asqsz: 32, trsvcid: '4420', traddr: '127.0.0.1', portid: 1 }
  const out = nvmeCliDiscoveryLog({
    genctr: 7n,
    entries: [
      { ...base, trtype: 3, adrfam: 1, subtype: 3, treq: 4, eflags: 0x3, subnqn: 'nqn.2014-08.org.nvmexpress.discovery', sectype: 0 },
      { ...base, trtype: 3, adrfam: 2, subtype: 2, treq: 2, eflags: 0, subnqn: 'blktests-subsystem-1', sectype: 2, traddr: '::1' },
      { ...base, trtype: 1, adrfam: 254, subtype: 1, treq: 3, eflags: 9, subnqn: 'x' },
    ],
  })
  t.equal(out.genctr, 7)
  t.same(Object.keys(out.records[0]!), ['trtype', 'adrfam', 'subtype', 'treq', 'portid', 'trsvcid', 'subnqn', 'traddr', 'eflags', 'sectype'], "nvme-cli's keys in nvme-cli's order")
  t.match(out.records[0], { trtype: 'tcp', adrfam: 'ipv4', subtype: 'current discovery subsystem', treq: 'not specified, sq flow control disable supported', portid: 1, eflags: 'explicit discovery connections, duplicate discovery information', sectype: 'none' })
  t.match(out.records[1], { adrfam: 'ipv6', subtype: 'nvme subsystem', treq: 'not required', eflags: 'none', sectype: 'tls13', traddr: '::1' })
  t.match(out.records[2], { trtype: 'rdma', adrfam: 'unrecognized', subtype: 'discovery subsystem referral', treq: 'unrecognized', eflags: 'unrecognized' })
  t.notOk('sectype' in out.records[2]!, 'sectype only for TCP entries')
  t.equal(nvmeCliDiscoveryLog({ genctr: 2n ** 60n, entries: [] }).genctr, '1152921504606846976')
  t.equal(treqName(1), 'required')
  t.equal(treqName(5), 'required, sq flow control disable supported')
  t.equal(eflagsName(4), 'no cdc connectivity')
  t.equal(eflagsName(6), 'explicit discovery connections, no cdc connectivity')
})

t.test('every error is one line with its code, and its exit code', async (t) => {
  t.equal(errorLine(new InvalidArgumentError('rw', 'must be one of read, write')), "nvmf-fault: 'rw' must be one of read, write [ERR_NVMEOF_INVALID_ARG]")
  t.equal(errorLine(new Error('two\n  lines')), 'nvmf-fault: two; lines [ERR_UNEXPECTED]', 'newlines folded, no code → ERR_UNEXPECTED')
  t.equal(errorLine(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'")), "nvmf-fault: unknown option '--x' [commander.unknownOption]")
  const refused = new ControlRequestError({ code: 'ERR_NVMEOF_CONFIG', message: 'fault.params.status: unknown status', path: 'fault.params.status' })
  t.equal(errorLine(refused), 'nvmf-fault: fault.params.status: unknown status [ERR_NVMEOF_CONFIG]')

  t.equal(exitCodeFor(new CommanderError(1, 'commander.missingMandatoryOptionValue', 'x')), EXIT.USAGE)
  t.equal(exitCodeFor(new InvalidArgumentError('nsid', 'bad')), EXIT.USAGE)
  t.equal(exitCodeFor(new ConfigError('ports[0]', 'bad')), EXIT.USAGE)
  t.equal(exitCodeFor(Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' })), EXIT.USAGE)
  t.equal(exitCodeFor(refused), EXIT.FAILED, 'a request the target refused is a failed operation')
  t.equal(exitCodeFor(new ConnectionError('refused')), EXIT.UNREACHABLE)
  t.equal(exitCodeFor(new TimeoutError('no answer')), EXIT.UNREACHABLE)
  t.equal(exitCodeFor(new NvmeStatusError(0x302, { cid: 1, qid: 1 })), EXIT.FAILED)
  t.equal(exitCodeFor(new Error('boom')), EXIT.FAILED)
})

t.test('a progress bar only for a person: both streams on a terminal, normal output', async (t) => {
  t.equal(shouldShowProgress({ stdoutIsTty: true, stderrIsTty: true, format: 'normal' }), true)
  t.equal(shouldShowProgress({ stdoutIsTty: false, stderrIsTty: true, format: 'normal' }), false, 'stdout piped or redirected')
  t.equal(shouldShowProgress({ stdoutIsTty: true, stderrIsTty: false, format: 'normal' }), false, 'stderr redirected')
  t.equal(shouldShowProgress({ stdoutIsTty: true, stderrIsTty: true, format: 'json' }), false, '-o json')
})
