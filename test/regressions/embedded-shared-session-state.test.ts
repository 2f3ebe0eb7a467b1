/**
 * Regression: on the embedded database every connection shares PGlite's one backend, so the
 * PostgreSQL driver's backstop for state a ROLLBACK cannot undo (destroy the connection) did not
 * clear it: a session advisory lock or a prepared statement taken by one call (had the parser gate
 * let it through) was still there for the next caller. Found by test/integration/isolation.test.ts;
 * fixed by the embedded driver's shared-session probe and worker restart (decision D17).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import type { SourceDriver } from '../../src/exec/drivers/driver.js'
import { createPostgresDriver } from '../../src/exec/drivers/postgres/postgres-driver.js'
import { startEmbeddedDatabase } from '../../src/exec/embedded/embedded-database.js'
import { createEmbeddedDriver } from '../../src/exec/embedded/embedded-driver.js'
import { silentLogger } from '../../src/log/logger.js'
import { makeTempDir } from '../integration/embedded/embedded-fixtures.js'

const LIMITS = { maxRows: 10, maxBytes: 100_000, statementTimeoutMs: 20_000 }
let driver: SourceDriver
let cleanup: () => Promise<void>

before(async () => {
  const tmp = await makeTempDir('regression-shared-session')
  const db = await startEmbeddedDatabase({ dataDir: path.join(tmp.dir, 'demo'), logger: silentLogger() })
  driver = createEmbeddedDriver({ db, createPostgresDriver, searchPath: ['public'], lockTimeoutMs: 1_000, logger: silentLogger() })
  cleanup = async () => {
    await driver.close()
    await tmp.cleanup()
  }
})

after(async () => {
  await cleanup()
})

const count = async (sql: string) => {
  const r = await driver.read({ sql, params: [], limits: LIMITS })
  assert.ok(r.ok, r.ok ? '' : r.code)
  return Number(r.value.rows[0]?.[0])
}

test('a session advisory lock taken by one call is gone for the next', async () => {
  await driver.read({ sql: 'SELECT pg_advisory_lock(77)', params: [], limits: LIMITS })
  assert.equal(await count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0)
})

test('a prepared statement made by one call is gone for the next', async () => {
  await driver.read({ sql: 'PREPARE leftover AS SELECT 1', params: [], limits: LIMITS })
  assert.equal(await count('SELECT count(*) FROM pg_prepared_statements'), 0)
})

test('the demo data is intact after the restarts', async () => {
  assert.equal(await count('SELECT count(*) FROM customers'), 1000)
})
