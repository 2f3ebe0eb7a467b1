import assert from 'node:assert/strict'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { effectiveAudit } from '../../../src/audit/audit-settings.js'
import { loadConfig } from '../../../src/config/load-config.js'
import type { Config } from '../../../src/config/config-schema.js'

function config(cli: Parameters<typeof loadConfig>[0] = {}): Config {
  const r = loadConfig(cli, {}, () => {
    throw new Error('no file')
  })
  if (!r.ok) throw new Error(r.message)
  return r.config
}

test('the embedded default audits to a file under the same cache root as the embedded database', () => {
  assert.equal(effectiveAudit(config(), { SQLWARDEN_CACHE_DIR: '/var/cache/sw' })?.file, '/var/cache/sw/audit/audit.jsonl')
  // A relative override is resolved against the working directory, as for the database itself.
  assert.equal(effectiveAudit(config(), { SQLWARDEN_CACHE_DIR: 'rel/cache' })?.file, resolve('rel/cache', 'audit', 'audit.jsonl'))
  if (process.platform === 'linux') {
    assert.equal(effectiveAudit(config(), { XDG_CACHE_HOME: '/xdg' })?.file, '/xdg/sqlwarden/audit/audit.jsonl')
    assert.equal(effectiveAudit(config(), { SQLWARDEN_CACHE_DIR: '  ' })?.file, join(homedir(), '.cache', 'sqlwarden', 'audit', 'audit.jsonl'))
  }
})

test('a real database gets no default audit trail', () => {
  assert.equal(effectiveAudit(config({ db: 'postgres://u@127.0.0.1/db' }), {}), null)
})
