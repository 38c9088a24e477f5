/**
 * The job a guest runs (kernel/vm.ts): its options checked at the edge, and the small cpio that
 * carries the script, its arguments, environment and the init's settings (appended to the image's
 * initramfs; kernel/guest/init reads /job/*).
 */
import { existsSync, readFileSync } from 'node:fs'
import { InvalidArgumentError } from '../lib/errors.js'
import { encodeCpio } from './cpio.js'
import type { GuestOptions } from './vm.js'

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

export function validateGuestOptions(opts: GuestOptions): void {
  if (!Number.isFinite(opts.timeoutSec) || opts.timeoutSec < 5 || opts.timeoutSec > 3600) {
    throw new InvalidArgumentError('timeoutSec', 'must be a number of seconds in [5, 3600]')
  }
  const optionalInt = (field: keyof GuestOptions, v: number | undefined, min: number, max: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw new InvalidArgumentError(field, `must be an integer in [${min}, ${max}]`)
  }
  optionalInt('jobTimeoutSec', opts.jobTimeoutSec, 0, 3600)
  optionalInt('bootTimeoutSec', opts.bootTimeoutSec, 1, 3600)
  optionalInt('memMiB', opts.memMiB, 128, 16384)
  optionalInt('cpus', opts.cpus, 1, 16)
  for (const k of Object.keys(opts.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new InvalidArgumentError('env', `has a bad variable name '${k}'`)
  }
  for (const f of opts.hostfwd ?? []) {
    if (!Number.isInteger(f.host) || f.host < 0 || f.host > 65535 || !Number.isInteger(f.guest) || f.guest < 1 || f.guest > 65535) {
      throw new InvalidArgumentError('hostfwd', `has a bad forward ${JSON.stringify(f)}`)
    }
  }
  if (typeof opts.script === 'string' && !existsSync(opts.script)) {
    throw new InvalidArgumentError('script', `no such file: ${opts.script}`)
  }
}

export function jobArchive(opts: GuestOptions): Buffer {
  const text = typeof opts.script === 'string' ? readFileSync(opts.script) : Buffer.from(opts.script.text)
  const args = `set --${(opts.args ?? []).map((a) => ` ${shellQuote(a)}`).join('')}\n`
  const env = Object.entries(opts.env ?? {})
    .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
    .join('')
  const jobTimeout = opts.jobTimeoutSec ?? (opts.timeoutSec > 20 ? opts.timeoutSec - 8 : 0)
  const config = [
    `VM_JOB_TIMEOUT=${jobTimeout}`,
    `VM_JOB_LOGLEVEL=${opts.jobLogLevel ?? 4}`,
    ...(opts.hostnqn !== undefined ? [`VM_HOSTNQN=${shellQuote(opts.hostnqn)}`] : []),
    ...(opts.hostid !== undefined ? [`VM_HOSTID=${shellQuote(opts.hostid)}`] : []),
  ].join('\n')
  return encodeCpio([
    { kind: 'dir', path: 'job' },
    { kind: 'file', path: 'job/script', data: text, mode: 0o755 },
    { kind: 'file', path: 'job/args', data: Buffer.from(args) },
    { kind: 'file', path: 'job/env', data: Buffer.from(env) },
    { kind: 'file', path: 'job/config', data: Buffer.from(config + '\n') },
  ])
}
