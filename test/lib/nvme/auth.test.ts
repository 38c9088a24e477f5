/**
 * DH-HMAC-CHAP building blocks: the DHHC-1 secret format (against nvme-cli when installed), the key
 * transformation (against the openssl CLI's HMAC), the message codecs with their precise decode
 * errors, the RFC 7919 groups, and the response computation.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { createHash, createHmac } from 'node:crypto'
import { AuthFailure, AuthId, DHCHAP_HASHES } from '../../../lib/nvme/auth-ids.js'
import { formatDhchapSecret, generateDhchapSecret, parseDhchapSecret, transformDhchapKey } from '../../../lib/nvme/auth-secret.js'
import { decodeAuthNegotiate, encodeAuthNegotiate } from '../../../lib/nvme/auth-negotiate.js'
import { decodeAuthChallenge, encodeAuthChallenge } from '../../../lib/nvme/auth-challenge.js'
import { decodeAuthReply, encodeAuthReply } from '../../../lib/nvme/auth-reply.js'
import { decodeAuthSuccess1, decodeAuthSuccess2, encodeAuthSuccess1, encodeAuthSuccess2 } from '../../../lib/nvme/auth-success.js'
import { decodeAuthFailure, encodeAuthFailure } from '../../../lib/nvme/auth-failure.js'
import { FFDHE_GROUPS } from '../../../lib/nvme/auth-ffdhe.js'
import { augmentChallenge, controllerResponse, DhExchange, hostResponse } from '../../../lib/nvme/auth-transcript.js'

const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:6a2c0a5e-3c0f-4b8e-9a4d-1f2e3d4c5b6a'
const SUBNQN = 'nqn.2026-01.io.nvmf-fault:auth'

function have(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

t.test('DHHC-1 secrets: round trip and every defect named', async (t) => {
  const key = Buffer.alloc(32, 7)
  const text = formatDhchapSecret({ hash: 'sha256', key })
  t.match(text, /^DHHC-1:01:[A-Za-z0-9+/]+=*:$/)
  t.same(parseDhchapSecret(text), { hash: 'sha256', key })
  t.same(parseDhchapSecret(text.slice(0, -1)).key, key, 'trailing colon optional (Linux strrchr)')
  for (const [hash, len] of [['sha384', 48], ['sha512', 64]] as const) {
    const s = parseDhchapSecret(generateDhchapSecret({ hash }))
    t.equal(s.hash, hash)
    t.equal(s.key.length, len, 'key length defaults to the hash length')
  }
  t.equal(parseDhchapSecret(generateDhchapSecret()).hash, undefined, '00: no transformation')
  const bad: [string, RegExp][] = [
    ['DHHC-2:01:AAAA:', /must look like/],
    ['DHHC-1:04:' + text.split(':')[2] + ':', /not 00, 01, 02 or 03/],
    ['DHHC-1:01:' + Buffer.alloc(20).toString('base64') + ':', /32, 48 or 64 bytes/],
    ['DHHC-1:01:' + Buffer.concat([key, Buffer.alloc(4)]).toString('base64') + ':', /CRC-32/],
  ]
  for (const [s, re] of bad) t.throws(() => parseDhchapSecret(s, 'dhchapSecret'), { name: 'InvalidArgumentError', code: 'ERR_NVMEOF_INVALID_ARG', field: 'dhchapSecret', message: re }, s)
})

t.test('nvme-cli reads our secrets and we read its', { skip: have('nvme', ['version']) ? false : 'nvme-cli (nvme) is not installed' }, async (t) => {
  for (const m of [0, 1, 2, 3]) {
    const theirs = execFileSync('nvme', ['gen-dhchap-key', '-m', String(m), '-n', HOSTNQN], { encoding: 'utf8' }).trim()
    const s = parseDhchapSecret(theirs)
    t.equal(s.hash === undefined ? 0 : DHCHAP_HASHES[s.hash].id, m, `nvme gen-dhchap-key -m ${m}: ${theirs.slice(0, 12)}...`)
  }
  const ours = generateDhchapSecret({ hash: 'sha384' })
  const out = execFileSync('nvme', ['check-dhchap-key', '-k', ours], { encoding: 'utf8' })
  t.match(out, /Key is valid/, 'nvme check-dhchap-key accepts ours')
})

t.test('key transformation = HMAC(key, NQN || "NVMe-over-Fabrics"), checked with openssl', { skip: have('openssl', ['version']) ? false : 'openssl is not installed' }, async (t) => {
  const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex')
  for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
    const out = execFileSync('openssl', ['dgst', `-${hash}`, '-mac', 'HMAC', '-macopt', `hexkey:${key.toString('hex')}`], { input: `${HOSTNQN}NVMe-over-Fabrics`, encoding: 'utf8' })
    const expected = /([0-9a-f]{64,128})\s*$/.exec(out)?.[1]
    t.equal(transformDhchapKey({ hash, key }, HOSTNQN).toString('hex'), expected, hash)
  }
  t.same(transformDhchapKey({ hash: undefined, key }, HOSTNQN), key, 'hash 00: the key itself')
})

t.test('message codecs round trip', async (t) => {
  const neg = { tid: 7, scC: 0, hashIds: [1, 2, 3], dhgroupIds: [0, 1, 2, 3, 4, 5] }
  const nb = encodeAuthNegotiate(neg)
  t.equal(nb.length, 72, 'AUTH_Negotiate with one descriptor is 72 bytes (Linux)')
  t.same(decodeAuthNegotiate(nb), neg)
  const ch = { tid: 7, hashId: 1, dhgroupId: 1, seqnum: 0x12345678, challenge: Buffer.alloc(32, 1), dhValue: Buffer.alloc(256, 2) }
  t.same(decodeAuthChallenge(encodeAuthChallenge(ch)), ch)
  const rp = { tid: 7, response: Buffer.alloc(48, 3), challenge: Buffer.alloc(48, 4), seqnum: 9, dhValue: Buffer.alloc(0) }
  t.same(decodeAuthReply(encodeAuthReply(rp)), rp)
  t.same(decodeAuthReply(encodeAuthReply({ ...rp, challenge: undefined, seqnum: 0 })).challenge, undefined)
  t.same(decodeAuthSuccess1(encodeAuthSuccess1({ tid: 7, hl: 64, response: Buffer.alloc(64, 5) })), { tid: 7, hl: 64, response: Buffer.alloc(64, 5) })
  t.same(decodeAuthSuccess1(encodeAuthSuccess1({ tid: 7, hl: 32, response: undefined })), { tid: 7, hl: 32, response: undefined })
  t.same(decodeAuthSuccess2(encodeAuthSuccess2({ tid: 3 })), { tid: 3 })
  const f1 = encodeAuthFailure(1, { tid: 3, rescodeExp: AuthFailure.FAILED })
  t.same([...f1], [0, AuthId.FAILURE1, 0, 0, 3, 0, 1, 1], 'AUTH_Failure1 bytes')
  t.same(decodeAuthFailure(1, f1), { tid: 3, rescode: 1, rescodeExp: 1 })
})

t.test('malformed messages: DecodeError names the field and offset', async (t) => {
  const isErr = (field: string, offset: number): { name: string; code: string; field: string; offset: number } => ({ name: 'DecodeError', code: 'ERR_NVMEOF_DECODE', field, offset })
  const nb = encodeAuthNegotiate({ tid: 1, scC: 0, hashIds: [1], dhgroupIds: [0] })
  t.throws(() => decodeAuthNegotiate(nb.subarray(0, 40)), { name: 'DecodeError', message: /too short/ }, 'truncated')
  const napd = Buffer.from(nb)
  napd[7] = 2
  t.throws(() => decodeAuthNegotiate(napd), isErr('NAPD', 7))
  const authid = Buffer.from(nb)
  authid[8] = 9
  t.throws(() => decodeAuthNegotiate(authid), isErr('AUTHID', 8))
  const halen = Buffer.from(nb)
  halen[10] = 31
  t.throws(() => decodeAuthNegotiate(halen), isErr('HALEN', 10))
  const type = Buffer.from(nb)
  type[0] = 1
  t.throws(() => decodeAuthNegotiate(type), isErr('AUTH_TYPE', 0))
  const ch = encodeAuthChallenge({ tid: 1, hashId: 1, dhgroupId: 0, seqnum: 1, challenge: Buffer.alloc(32), dhValue: Buffer.alloc(0) })
  const hl = Buffer.from(ch)
  hl[6] = 48
  t.throws(() => decodeAuthChallenge(hl), isErr('HL', 6))
  const hid = Buffer.from(ch)
  hid[8] = 9
  t.throws(() => decodeAuthChallenge(hid), isErr('HASHID', 8))
  const gid = Buffer.from(ch)
  gid[9] = 6
  t.throws(() => decodeAuthChallenge(gid), isErr('DHGID', 9))
  const dhv = Buffer.from(ch)
  dhv.writeUInt16LE(16, 10)
  t.throws(() => decodeAuthChallenge(dhv), isErr('DHVLEN', 10), 'DH value with the NULL group')
  const rp = encodeAuthReply({ tid: 1, response: Buffer.alloc(32), challenge: undefined, seqnum: 0, dhValue: Buffer.alloc(0) })
  t.throws(() => decodeAuthReply(rp.subarray(0, 40)), isErr('DHVLEN', 10), '2*HL beyond the data')
  const cv = Buffer.from(rp)
  cv[8] = 2
  t.throws(() => decodeAuthReply(cv), isErr('CVALID', 8))
  const big = Buffer.from(rp)
  big.writeUInt16LE(0xffff, 10)
  t.throws(() => decodeAuthReply(big), isErr('DHVLEN', 10))
  t.throws(() => decodeAuthSuccess2(encodeAuthFailure(1, { tid: 1, rescodeExp: 1 })), isErr('AUTH_TYPE', 0), 'Failure1 where Success2 was expected')
  t.throws(() => decodeAuthSuccess2(encodeAuthSuccess1({ tid: 1, hl: 32, response: undefined })), isErr('AUTH_ID', 1), 'Success1 where Success2 was expected')
})

t.test('RFC 7919 groups: both sides derive one session key; bad public values are refused', async (t) => {
  for (const [name, g] of Object.entries(FFDHE_GROUPS)) {
    t.equal(g.primeHex.length, g.bytes * 2, `${name} prime is ${g.bytes * 8} bits`)
    t.ok(g.primeHex.startsWith('FFFFFFFFFFFFFFFFADF85458A2BB4A9A') && g.primeHex.endsWith('FFFFFFFFFFFFFFFF'), `${name} has the RFC 7919 form`)
  }
  const a = new DhExchange('ffdhe2048')
  const b = new DhExchange('ffdhe2048')
  t.equal(a.publicValue.length, 256)
  const ka = a.sessionKey(b.publicValue)
  t.ok(ka !== undefined && ka.length === 256)
  t.same(ka, b.sessionKey(a.publicValue), 'shared secret agrees')
  const p = Buffer.from(FFDHE_GROUPS.ffdhe2048.primeHex, 'hex')
  const pMinus1 = Buffer.from(p)
  pMinus1[255] = (pMinus1[255] as number) - 1
  const one = Buffer.alloc(256)
  one[255] = 1
  t.equal(a.sessionKey(one), undefined, '1 refused')
  t.equal(a.sessionKey(pMinus1), undefined, 'p-1 refused')
  t.equal(a.sessionKey(Buffer.alloc(255, 3)), undefined, 'wrong length refused')
})

t.test('responses: R1 and R2 bind role, NQNs, sequence number, transaction and session key', async (t) => {
  const base = { hash: 'sha256' as const, key: Buffer.alloc(32, 1), challenge: Buffer.alloc(32, 2), sessionKey: undefined, seqnum: 5, tid: 1, scC: 0, hostnqn: HOSTNQN, subnqn: SUBNQN }
  const r1 = hostResponse(base)
  const manual = createHmac('sha256', base.key)
    .update(base.challenge)
    .update(Buffer.from([5, 0, 0, 0, 1, 0, 0]))
    .update('HostHost')
    .update(HOSTNQN)
    .update(Buffer.of(0))
    .update(SUBNQN)
    .digest()
  t.same(r1, manual, 'R1 = HMAC(K, C1 || le32 S1 || le16 T_ID || SC_C || "HostHost" || NQNh || 00 || NQNc)')
  t.not(controllerResponse(base).toString('hex'), r1.toString('hex'), 'R2 differs from R1')
  t.not(hostResponse({ ...base, seqnum: 6 }).toString('hex'), r1.toString('hex'))
  t.not(hostResponse({ ...base, tid: 2 }).toString('hex'), r1.toString('hex'))
  const ks = Buffer.alloc(256, 9)
  t.same(augmentChallenge('sha256', ks, base.challenge), createHmac('sha256', createHash('sha256').update(ks).digest()).update(base.challenge).digest(), "C' = HMAC(H(Ks), C)")
  t.not(hostResponse({ ...base, sessionKey: ks }).toString('hex'), r1.toString('hex'), 'the session key augments the challenge')
})
