import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runCli, writeTempConfig } from '../helpers/cli-process.js'
import { readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML } from '../helpers/e2e-fixture.js'

test('sqlwarden policy check prints what each role reaches, and refuses a bad policy naming the key', async () => {
  const good = writeTempConfig('version: 1\nroles:\n  analyst:\n    sources:\n      shop: { dbRole: sw_analyst, limits: { maxRows: 50 } }\n')
  const ok = await runCli(['policy', 'check', good])
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, /role analyst on source shop: tools query, list_schemas, list_tables, describe_table, explain; runs as sw_analyst; maxRows 50/)
  const bad = writeTempConfig('version: 1\nroles:\n  a:\n    sources:\n      shop: { dbrole: x }\n')
  const refused = await runCli(['policy', 'check', bad])
  assert.equal(refused.code, 2)
  assert.match(refused.stderr, /ERR_CONFIG_INVALID: policy .*roles\.a\.sources\.shop: .*dbrole/)
})

test('policy check against a config refuses a source the config lacks', async () => {
  const policy = writeTempConfig('version: 1\nroles:\n  a:\n    sources:\n      warehouse: {}\n')
  const config = writeTempConfig('sources:\n  shop:\n    kind: postgres\n    url: postgres://x@127.0.0.1/d\n')
  const r = await runCli(['policy', 'check', policy, '--config', config])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /sources\.warehouse: no such source in the config/)
})

test('sqlwarden policy explain shows the decision and its reason without running the query', async () => {
  await setupE2eDatabase()
  const policy = writeTempConfig('version: 1\nroles:\n  support:\n    sources:\n      shop: { tools: [query], limits: { maxRows: 5 } }\n')
  const config = writeTempConfig(`${SHOP_SOURCE_YAML}policy: ${policy}\n`)
  const env = { E2E_DB_URL: readerUrl() }
  const allowed = await runCli(['policy', 'explain', '--config', config, '--as', 'bob', '--role', 'support', 'SELECT count(*) FROM customers'], env)
  assert.equal(allowed.code, 0, allowed.stderr)
  assert.match(allowed.stdout, /decision: ALLOW on source shop/)
  assert.match(allowed.stdout, /maxRows 5/)
  assert.match(allowed.stdout, /relations: customers/)
  const tool = await runCli(['policy', 'explain', '--config', config, '--as', 'bob', '--role', 'support', '--tool', 'explain', 'SELECT 1'], env)
  assert.equal(tool.code, 1)
  assert.match(tool.stdout, /decision: DENY ERR_POLICY_DENIED/)
  const nobody = await runCli(['policy', 'explain', '--config', config, '--as', 'eve', 'SELECT 1'], env)
  assert.equal(nobody.code, 1)
  const sql = await runCli(['policy', 'explain', '--config', config, '--as', 'bob', '--role', 'support', 'DELETE FROM customers'], env)
  assert.equal(sql.code, 1)
  assert.match(sql.stdout, /ERR_SQL_NOT_READ_ONLY/)
})
