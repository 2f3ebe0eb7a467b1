import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runCli, writeTempConfig } from '../helpers/cli-process.js'

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
