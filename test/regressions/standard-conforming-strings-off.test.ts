/**
 * Regression: a role or database with standard_conforming_strings = off.
 * libpg-query always parses with it on, so `SELECT ('a\' || ' ), pg_sleep(5) --')` is two string
 * literals to the analysis stage, but a string and a pg_sleep(5) call to a server running with it
 * off. The driver forces it on in every transaction; this test shows the server then reads the text
 * exactly as the parser did, and that without the fix the server would have read it differently.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { createPostgresDriver } from '../../src/exec/drivers/postgres/postgres-driver.js'
import type { SourceDriver } from '../../src/exec/drivers/driver.js'
import { silentLogger } from '../../src/log/logger.js'
import { analyzeSql } from '../../src/sql/analyze-sql.js'
import { loadPostgresParser } from '../../src/sql/parser/postgres-parser.js'
import { requirePostgres } from '../helpers/postgres-env.js'

const ROLE = 'sqlwarden_scs_off'
const SQL = "SELECT ('a\\' || ' ), pg_catalog.pg_typeof(1) AS smuggled --') AS v"
let adminUrl = ''
let driver: SourceDriver

before(async () => {
  adminUrl = await requirePostgres()
  await loadPostgresParser()
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} LOGIN; END IF; END $$`)
  await admin.query(`ALTER ROLE ${ROLE} SET standard_conforming_strings = off`)
  await admin.end()
  const url = new URL(adminUrl)
  url.username = ROLE
  driver = createPostgresDriver({ connectionString: url.toString(), poolSize: 1, searchPath: ['public'], lockTimeoutMs: 1000, logger: silentLogger(), cancel: 'protocol' })
})

after(async () => {
  await driver?.close()
})

test('the analysis stage sees one string-valued column and no function call', () => {
  const r = analyzeSql(SQL, { maxSqlLength: 20_000, maxSqlDepth: 100 })
  assert.ok(r.ok)
  assert.deepEqual(r.value.functions, [])
})

test('without the fix, a server with standard_conforming_strings = off reads a second column', async () => {
  const url = new URL(adminUrl)
  url.username = ROLE
  const raw = new pg.Client({ connectionString: url.toString() })
  await raw.connect()
  try {
    const r = await raw.query({ text: SQL, rowMode: 'array' })
    assert.equal(r.fields.length, 2, 'the role default really is off, so the bypass shape is real')
  } finally {
    await raw.end()
  }
})

test('through the driver the server reads the text as the parser did: one string column', async () => {
  const r = await driver.read({ sql: SQL, params: [], limits: { maxRows: 5, maxBytes: 10_000, statementTimeoutMs: 2_000 } })
  assert.ok(r.ok)
  assert.equal(r.value.columns.length, 1)
  assert.deepEqual(r.value.rows, [['a\\ ), pg_catalog.pg_typeof(1) AS smuggled --']])
})
