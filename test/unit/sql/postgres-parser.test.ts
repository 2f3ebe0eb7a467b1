import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import {
  fingerprintPostgres,
  isPostgresParserLoaded,
  loadPostgresParser,
  parsePostgres,
} from '../../../src/sql/parser/postgres-parser.js'

describe('postgres parser wrapper', () => {
  before(async () => {
    await loadPostgresParser()
    await loadPostgresParser()
  })

  test('loads once and reports it', () => {
    assert.ok(isPostgresParserLoaded())
  })

  test('parses into statements with byte offsets', () => {
    const parsed = parsePostgres("SELECT 'é'; SELECT 2")
    assert.ok(parsed.ok)
    assert.equal(parsed.value.stmts.length, 2)
    assert.equal(parsed.value.stmts[1]?.stmt_location, 13, 'UTF-8 bytes: é is two')
    assert.ok(parsed.value.version >= 170000)
  })

  test('never throws; the parser message is only the cause', () => {
    for (const text of ['SELEC 1', '', "SELECT 'x"]) {
      const parsed = parsePostgres(text)
      assert.ok(!parsed.ok)
      assert.equal(parsed.code, 'ERR_SQL_PARSE')
      assert.equal(parsed.subject, undefined)
      assert.ok(parsed.cause instanceof Error)
    }
  })

  test('running out of parser stack is a depth failure', () => {
    const parsed = parsePostgres('SELECT ' + '(SELECT '.repeat(3_000) + '1' + ')'.repeat(3_000))
    assert.ok(!parsed.ok)
    assert.equal(parsed.code, 'ERR_SQL_TOO_DEEP')
  })

  test('fingerprints ignore constants and formatting', () => {
    const a = fingerprintPostgres('SELECT * FROM t WHERE a = 1')
    const b = fingerprintPostgres('select * from t where a = 2 -- x')
    assert.ok(a.ok && b.ok)
    assert.equal(a.value, b.value)
  })
})
