/**
 * Policy and identity end to end over HTTP: two API-key principals, a policy that maps each role to
 * a database role, and a row-level security policy keyed on sqlwarden.principal. The same SQL gives
 * each principal its own rows; tools/list and phase A follow the policy; limits per role apply; a
 * policy mapping to a superuser role stops the start.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { generateApiKey, hashApiKey } from '../../src/auth/api-keys.js'
import { ANALYST_ROLE, E2E_SCHEMA, readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML, SUPPORT_ROLE } from '../helpers/e2e-fixture.js'
import { runCli, startHttpCli, writeTempConfig, type HttpServerProcess } from '../helpers/cli-process.js'
import { assertRefused, call, textOf } from './tool-scenarios.js'

const aliceKey = generateApiKey()
const bobKey = generateApiKey()
let server: HttpServerProcess
let alice: Client
let bob: Client

function configFor(policyFile: string): string {
  return writeTempConfig(
    [
      SHOP_SOURCE_YAML.trimEnd(),
      'http:',
      '  listen: 127.0.0.1:0',
      `policy: ${policyFile}`,
      'auth:',
      '  apiKeys:',
      `    - { principal: alice, roles: [analyst], hash: "${hashApiKey(aliceKey)}", claims: { region: north } }`,
      `    - { principal: bob, roles: [support], hash: "${hashApiKey(bobKey)}", claims: { region: south } }`,
      '',
    ].join('\n'),
  )
}

before(async () => {
  await setupE2eDatabase()
  const policy = writeTempConfig(
    [
      'version: 1',
      'roles:',
      '  analyst:',
      '    sources:',
      `      shop: { dbRole: ${ANALYST_ROLE} }`,
      '  support:',
      '    sources:',
      `      shop: { tools: [query, list_tables], dbRole: ${SUPPORT_ROLE}, limits: { maxRows: 5 } }`,
      '',
    ].join('\n'),
  )
  server = await startHttpCli(['--config', configFor(policy)], { E2E_DB_URL: readerUrl() })
  const connect = async (key: string) => {
    const client = new Client({ name: 'e2e-policy', version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }))
    return client
  }
  alice = await connect(aliceKey)
  bob = await connect(bobKey)
})

after(async () => {
  await alice?.close()
  await bob?.close()
  await server?.stop()
})

test('the same SQL returns each principal its own rows (row-level security through the mapped role)', async () => {
  const sql = 'SELECT id, current_user AS db_role FROM tickets ORDER BY id'
  const a = await call(alice, 'query', { sql })
  const b = await call(bob, 'query', { sql })
  assert.deepEqual(a.structuredContent?.rows, [[1, ANALYST_ROLE]], textOf(a))
  assert.deepEqual(b.structuredContent?.rows, [[2, SUPPORT_ROLE], [3, SUPPORT_ROLE]], textOf(b))
})

test('configured claims drive row-level security (sqlwarden.claim.region), and agents cannot read them directly', async () => {
  const sql = 'SELECT id FROM accounts ORDER BY id'
  assert.deepEqual((await call(alice, 'query', { sql })).structuredContent?.rows, [[1], [3]])
  assert.deepEqual((await call(bob, 'query', { sql })).structuredContent?.rows, [[2]])
  assertRefused(await call(alice, 'query', { sql: "SELECT current_setting('sqlwarden.claim.region')" }), 'ERR_SQL_FORBIDDEN_SETTING')
})

test('interleaved calls of two principals never see each other\u2019s rows or limits', async () => {
  const sql = 'SELECT count(*) AS n, current_user AS db_role FROM tickets WHERE id > $1'
  const runs = await Promise.all(Array.from({ length: 40 }, (_, i) => call(i % 2 === 0 ? alice : bob, 'query', { sql, params: [0] })))
  for (const [i, r] of runs.entries()) {
    assert.equal(r.isError, undefined, textOf(r))
    assert.deepEqual(r.structuredContent?.rows, i % 2 === 0 ? [['1', ANALYST_ROLE]] : [['2', SUPPORT_ROLE]])
  }
  const limited = await Promise.all([call(alice, 'query', { sql: 'SELECT * FROM orders' }), call(bob, 'query', { sql: 'SELECT * FROM orders' })])
  assert.equal(limited[0].structuredContent?.row_count, 500)
  assert.equal(limited[1].structuredContent?.row_count, 5)
})

test('tools/list and phase A follow the policy', async () => {
  assert.deepEqual((await bob.listTools()).tools.map((t) => t.name).sort(), ['list_tables', 'query'])
  assert.equal((await alice.listTools()).tools.length, 5)
  assertRefused(await call(bob, 'explain', { sql: 'SELECT 1' }), 'ERR_POLICY_DENIED')
  assertRefused(await call(bob, 'query', { sql: 'SELECT 1', source: 'secret_source' }), 'ERR_POLICY_DENIED')
})

test('grants apply: the mapped role cannot read what it was not granted', async () => {
  assertRefused(await call(bob, 'query', { sql: 'SELECT * FROM customers' }), 'ERR_EXEC_PERMISSION_DENIED')
})

test('a policy that maps calls to a superuser role stops the start', async () => {
  const policy = writeTempConfig('version: 1\nroles:\n  analyst:\n    sources:\n      shop: { dbRole: postgres }\n')
  const r = await runCli(['--config', configFor(policy)], { E2E_DB_URL: readerUrl() })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /ERR_CONFIG_UNSAFE_ROLE/)
})

test('list_tables and describe_table show a principal only what its database role may read', async () => {
  const tables = await call(bob, 'list_tables', { schema: E2E_SCHEMA })
  assert.deepEqual((tables.structuredContent?.tables as { name: string }[]).map((t) => t.name), ['accounts', 'orders', 'tickets'])
  const hidden = await call(alice, 'describe_table', { table: 'customers' })
  assertRefused(hidden, 'ERR_EXEC_UNDEFINED_OBJECT')
  const missing = await call(alice, 'describe_table', { table: 'no_such_table' })
  assertRefused(missing, 'ERR_EXEC_UNDEFINED_OBJECT')
})
