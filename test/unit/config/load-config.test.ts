import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '../../../src/config/load-config.js'

const noFile = () => {
  throw new Error('no file')
}
const file = (text: string) => () => text

test('no flags, no env: one embedded source named default, with the protective defaults', () => {
  const r = loadConfig({}, {}, noFile)
  assert.ok(r.ok)
  assert.equal(r.config.defaultSource, 'default')
  assert.equal(r.config.sources.default?.kind, 'embedded')
  assert.equal(r.config.limits.maxRows, 500)
  assert.equal(r.config.limits.maxBytes, 512 * 1024)
  assert.equal(r.config.limits.statementTimeoutMs, 30_000)
  assert.equal(r.config.http, undefined)
})

test('--db and DATABASE_URL make a postgres source; --db wins', () => {
  const env = { DATABASE_URL: 'postgres://env@127.0.0.1/a' }
  const fromEnv = loadConfig({}, env, noFile)
  assert.ok(fromEnv.ok)
  assert.equal(fromEnv.config.sources.default?.kind, 'postgres')
  const fromFlag = loadConfig({ db: 'postgres://flag@127.0.0.1/b' }, env, noFile)
  assert.ok(fromFlag.ok)
  const source = fromFlag.config.sources.default
  assert.ok(source?.kind === 'postgres')
  assert.equal(source.url, 'postgres://flag@127.0.0.1/b')
})

test('the connection URL is not enumerable, so serializers and logs never see it', () => {
  const r = loadConfig({ db: 'postgres://u:hunter2@127.0.0.1/db' }, {}, noFile)
  assert.ok(r.ok)
  assert.doesNotMatch(JSON.stringify(r.config), /hunter2/)
})

test('config is deeply frozen', () => {
  const r = loadConfig({ db: 'postgres://u@127.0.0.1/db' }, {}, noFile)
  assert.ok(r.ok)
  assert.ok(Object.isFrozen(r.config))
  assert.ok(Object.isFrozen(r.config.limits))
  assert.ok(Object.isFrozen(r.config.sources.default))
  assert.throws(() => {
    ;(r.config.limits as { maxRows: number }).maxRows = 10_000
  })
})

test('flags override limits; durations parse', () => {
  const r = loadConfig({ maxRows: 20, maxBytes: 4096, statementTimeout: '2s' }, {}, noFile)
  assert.ok(r.ok)
  assert.equal(r.config.limits.maxRows, 20)
  assert.equal(r.config.limits.maxBytes, 4096)
  assert.equal(r.config.limits.statementTimeoutMs, 2000)
})

test('an unknown key stops the start with a message naming it', () => {
  const r = loadConfig({ configFile: 'c.yaml' }, {}, file('limits:\n  maxRowz: 5\n'))
  assert.ok(!r.ok)
  assert.match(r.message, /maxRowz/)
})

test('a misspelled safety option is refused, not ignored', () => {
  const r = loadConfig({ configFile: 'c.yaml' }, {}, file('sources:\n  main:\n    kind: postgres\n    url: postgres://x@127.0.0.1/d\n    allowUnsafeRol: true\n'))
  assert.ok(!r.ok)
  assert.match(r.message, /allowUnsafeRol/)
})

test('an unset ${VAR} stops the start and names the variable and the key', () => {
  const r = loadConfig({ configFile: 'c.yaml' }, {}, file('sources:\n  main:\n    kind: postgres\n    url: ${MAIN_DB_URL}\n'))
  assert.ok(!r.ok)
  assert.match(r.message, /MAIN_DB_URL/)
  assert.match(r.message, /sources\.main\.url/)
})

test('${VAR} is interpolated from the environment, and $${ is a literal', () => {
  const r = loadConfig(
    { configFile: 'c.yaml' },
    { MAIN_DB_URL: 'postgres://x@127.0.0.1/d' },
    file('sources:\n  main:\n    kind: postgres\n    url: ${MAIN_DB_URL}\n    allowFunctions: []\n'),
  )
  assert.ok(r.ok)
  const s = r.config.sources.main
  assert.ok(s?.kind === 'postgres')
  assert.equal(s.url, 'postgres://x@127.0.0.1/d')
})

test('SQLWARDEN_CONFIG names the file when --config is absent', () => {
  let read = ''
  const r = loadConfig({}, { SQLWARDEN_CONFIG: '/etc/sw.yaml' }, (p) => {
    read = p
    return 'limits:\n  maxRows: 7\n'
  })
  assert.ok(r.ok)
  assert.equal(read, '/etc/sw.yaml')
  assert.equal(r.config.limits.maxRows, 7)
})

test('several named sources need a valid defaultSource', () => {
  const two = 'sources:\n  a:\n    kind: embedded\n  b:\n    kind: embedded\n'
  const r = loadConfig({ configFile: 'c' }, {}, file(two))
  assert.ok(!r.ok)
  assert.match(r.message, /defaultSource/)
  const bad = loadConfig({ configFile: 'c' }, {}, file(`${two}defaultSource: c\n`))
  assert.ok(!bad.ok)
  const good = loadConfig({ configFile: 'c' }, {}, file(`${two}defaultSource: b\n`))
  assert.ok(good.ok)
  assert.equal(good.config.defaultSource, 'b')
})

test('bad values are refused: negative rows, bad duration, non-postgres URL, bad YAML', () => {
  assert.ok(!loadConfig({ configFile: 'c' }, {}, file('limits:\n  maxRows: -1\n')).ok)
  assert.ok(!loadConfig({ statementTimeout: 'forever' }, {}, noFile).ok)
  assert.ok(!loadConfig({ db: 'mysql://x@127.0.0.1/d' }, {}, noFile).ok)
  assert.ok(!loadConfig({ db: 'not a url' }, {}, noFile).ok)
  assert.ok(!loadConfig({ configFile: 'c' }, {}, file('limits: [1\n')).ok)
  assert.ok(!loadConfig({ configFile: 'missing' }, {}, noFile).ok)
})

test('HTTP binds loopback only until authentication exists', () => {
  for (const ok of ['127.0.0.1:8765', 'localhost:0', '[::1]:9000', '127.0.0.2:1']) {
    assert.ok(loadConfig({ http: ok }, {}, noFile).ok, ok)
  }
  for (const bad of ['0.0.0.0:8765', '192.168.1.10:80', '[::]:80', 'example.com:80', '8765', '127.0.0.1:99999']) {
    const r = loadConfig({ http: bad }, {}, noFile)
    assert.ok(!r.ok, bad)
    assert.match(r.message, /http\.listen/)
  }
})

test('--allow-unsafe-role is off by default and applies to the --db source', () => {
  const off = loadConfig({ db: 'postgres://x@127.0.0.1/d' }, {}, noFile)
  assert.ok(off.ok && off.config.sources.default?.kind === 'postgres' && off.config.sources.default.allowUnsafeRole === false)
  const on = loadConfig({ db: 'postgres://x@127.0.0.1/d', allowUnsafeRole: true }, {}, noFile)
  assert.ok(on.ok && on.config.sources.default?.kind === 'postgres' && on.config.sources.default.allowUnsafeRole === true)
})

const KEY_HASH = `sha256:${'ab'.repeat(32)}`

test('a non-loopback bind is allowed once API keys make every request authenticate', () => {
  const yaml = `auth:\n  apiKeys:\n    - principal: alice\n      roles: [analyst]\n      hash: ${KEY_HASH}\n`
  const r = loadConfig({ configFile: 'c', http: '0.0.0.0:8765' }, {}, file(yaml))
  assert.ok(r.ok, r.ok ? '' : r.message)
  assert.equal(r.config.auth.apiKeys[0]?.principal, 'alice')
})

test('API key entries are strict: a raw key or a malformed hash is refused', () => {
  const raw = 'auth:\n  apiKeys:\n    - principal: alice\n      roles: [analyst]\n      key: swk_plaintext\n'
  assert.ok(!loadConfig({ configFile: 'c' }, {}, file(raw)).ok)
  const bad = 'auth:\n  apiKeys:\n    - principal: alice\n      roles: [analyst]\n      hash: md5:abc\n'
  const r = loadConfig({ configFile: 'c' }, {}, file(bad))
  assert.ok(!r.ok)
  assert.match(r.message, /auth\.apiKeys\.0\.hash/)
  const noRole = `auth:\n  apiKeys:\n    - principal: alice\n      roles: []\n      hash: ${KEY_HASH}\n`
  assert.ok(!loadConfig({ configFile: 'c' }, {}, file(noRole)).ok)
})

test('the stdio principal is local/default, from config, or from SQLWARDEN_PRINCIPAL', () => {
  const d = loadConfig({}, {}, noFile)
  assert.ok(d.ok)
  assert.deepEqual(d.config.auth.stdio, { principal: 'local', roles: ['default'] })
  const c = loadConfig({ configFile: 'c' }, {}, file('auth:\n  stdio:\n    principal: carol\n    roles: [analyst]\n'))
  assert.ok(c.ok && c.config.auth.stdio.principal === 'carol' && c.config.auth.stdio.roles[0] === 'analyst')
  const e = loadConfig({ configFile: 'c' }, { SQLWARDEN_PRINCIPAL: 'dave' }, file('auth:\n  stdio:\n    roles: [analyst]\n'))
  assert.ok(e.ok && e.config.auth.stdio.principal === 'dave' && e.config.auth.stdio.roles[0] === 'analyst')
  assert.ok(!loadConfig({}, { SQLWARDEN_PRINCIPAL: 'not a name!' }, noFile).ok)
})

test('OAuth: strict keys, asymmetric algorithms only, and the JWKS over https unless loopback', () => {
  const base = 'auth:\n  oauth:\n    issuer: https://issuer.example\n    audience: https://mcp.example/mcp\n'
  assert.ok(loadConfig({ configFile: 'c' }, {}, file(`${base}    jwksUri: https://issuer.example/jwks.json\n`)).ok)
  assert.ok(loadConfig({ configFile: 'c' }, {}, file(`${base}    jwksUri: http://127.0.0.1:9999/jwks.json\n`)).ok)
  const plain = loadConfig({ configFile: 'c' }, {}, file(`${base}    jwksUri: http://issuer.example/jwks.json\n`))
  assert.ok(!plain.ok && /jwksUri/.test(plain.message))
  assert.ok(!loadConfig({ configFile: 'c' }, {}, file(`${base}    jwksUri: https://issuer.example/j\n    algorithms: [HS256]\n`)).ok)
  assert.ok(!loadConfig({ configFile: 'c' }, {}, file(`${base}    jwksUri: https://issuer.example/j\n    algorithms: [none]\n`)).ok)
  assert.ok(!loadConfig({ configFile: 'c' }, {}, file(`${base}    jwksUri: https://issuer.example/j\n    audiance: x\n`)).ok)
  const bind = loadConfig({ configFile: 'c', http: '0.0.0.0:8765' }, {}, file(`${base}    jwksUri: https://issuer.example/j\n`))
  assert.ok(bind.ok)
})
