/** Target config: DH-HMAC-CHAP host entries, validated with the dotted path of every bad field. */
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { parseTargetConfig } from '../../target/config.js'
import { generateDhchapSecret } from '../../lib/nvme/auth-secret.js'

const HOST = 'nqn.2014-08.org.nvmexpress:uuid:0b7a3c44-5e1f-4d2a-9c3b-7e6f5a4d3c2b'
const KEY = generateDhchapSecret({ hash: 'sha256' })
const CTRL = generateDhchapSecret({ hash: 'sha384' })
const ports = [{ id: 1, address: '127.0.0.1', port: 0 }]

t.test('hosts with dhchapKey, dhchapCtrlKey and allowed hashes/groups (YAML null is the NULL group)', async (t) => {
  const c = parseTargetConfig(parseYaml(`
ports: [{ id: 1, address: 127.0.0.1, port: 4420 }]
hosts:
  - nqn: ${HOST}
    dhchapKey: "${KEY}"
    dhchapCtrlKey: "${CTRL}"
    dhchapHashes: [sha512, sha256]
    dhchapDhgroups: [ffdhe3072, null]
  - nqn.2014-08.org.example:plain
`))
  t.same(c.hosts, [HOST, 'nqn.2014-08.org.example:plain'])
  t.same(c.hostAuth, [{ nqn: HOST, dhchapKey: KEY, dhchapCtrlKey: CTRL, dhchapHashes: ['sha512', 'sha256'], dhchapDhgroups: ['ffdhe3072', 'null'] }])
  const d = parseTargetConfig({ ports, hosts: [{ nqn: HOST, dhchapKey: KEY }] })
  t.same(d.hostAuth[0]?.dhchapHashes, ['sha256', 'sha384', 'sha512'], 'default: every hash')
  t.same(d.hostAuth[0]?.dhchapDhgroups, ['null', 'ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192'], 'default: every group')
})

t.test('bad entries name their field', async (t) => {
  const bad: [unknown, string, RegExp][] = [
    [{ nqn: HOST, dhchapKey: 'DHHC-1:01:abc:' }, 'hosts[0].dhchapKey', /32, 48 or 64 bytes/],
    [{ nqn: HOST, dhchapKey: KEY, dhchapCtrlKey: KEY.replace('DHHC-1:01', 'DHHC-1:07') }, 'hosts[0].dhchapCtrlKey', /not 00, 01, 02 or 03/],
    [{ nqn: HOST, dhchapCtrlKey: CTRL }, 'hosts[0].dhchapCtrlKey', /needs dhchapKey/],
    [{ nqn: HOST, dhchapKey: KEY, dhchapHashes: ['md5'] }, 'hosts[0].dhchapHashes[0]', /one of sha256/],
    [{ nqn: HOST, dhchapKey: KEY, dhchapDhgroups: [] }, 'hosts[0].dhchapDhgroups', /non-empty/],
    [{ nqn: HOST, dhchapSecret: KEY }, 'hosts[0].dhchapSecret', /unknown field/],
  ]
  for (const [h, path, re] of bad) t.throws(() => parseTargetConfig({ ports, hosts: [h] }), { name: 'ConfigError', path, message: re }, path)
  t.throws(() => parseTargetConfig({ ports, hosts: [{ nqn: HOST, dhchapKey: KEY }, { nqn: HOST, dhchapKey: KEY }] }), { name: 'ConfigError', path: 'hosts[1].nqn' })
})
