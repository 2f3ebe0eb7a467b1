/**
 * analyzeSql: the order of the checks (length, parse, depth, one statement, walker) and what it
 * reports about an accepted statement (statementText, fingerprint, maxParamIndex).
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { analyzeSql, sliceStatement } from '../../../src/sql/analyze-sql.js'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'
import { accepted, assertRefused, functionNames, LIMITS, refused } from './sql-test-helpers.js'

before(async () => {
  await loadPostgresParser()
})

describe('length cap', () => {
  test('refuses text longer than maxSqlLength before parsing', () => {
    const sql = 'SELECT 1 /* ' + 'x'.repeat(100) + ' */'
    const failure = refused(sql, { maxSqlLength: 50, maxSqlDepth: 100 })
    assert.equal(failure.code, 'ERR_SQL_TOO_LARGE')
    assert.deepEqual(failure.data, { maxSqlLength: 50 })
    assert.equal(failure.cause, undefined, 'no parser was involved')
  })

  test('the cap wins over a syntax error (the parser never sees the text)', () => {
    assert.equal(refused('SELEC ' + 'x'.repeat(100), { maxSqlLength: 50, maxSqlDepth: 100 }).code, 'ERR_SQL_TOO_LARGE')
  })

  test('text exactly at the cap is parsed', () => {
    const sql = 'SELECT 1'.padEnd(64, ' ')
    accepted(sql, { maxSqlLength: 64, maxSqlDepth: 100 })
  })

  test('refuses a 200 KB text quickly', () => {
    const started = performance.now()
    assert.equal(refused('SELECT ' + '1 + '.repeat(50_000) + '1').code, 'ERR_SQL_TOO_LARGE')
    assert.ok(performance.now() - started < 50)
  })
})

describe('parse errors', () => {
  test('a syntax error is ERR_SQL_PARSE with the parser message only in cause', () => {
    const failure = refused("SELEC 'secret-literal'")
    assert.equal(failure.code, 'ERR_SQL_PARSE')
    assert.equal(failure.subject, undefined)
    assert.equal(failure.data, undefined)
    assert.ok(failure.cause instanceof Error)
  })

  test('a NUL or a lone surrogate is refused: the parser would read a different text than the server', () => {
    for (const sql of ['SELECT 1\u0000; DROP TABLE t', "SELECT 'a\u0000'", 'SELECT 1 -- \u0000', "SELECT '\ud800'", 'SELECT "\udc00x"']) {
      const failure = refused(sql)
      assert.equal(failure.code, 'ERR_SQL_PARSE', JSON.stringify(sql))
    }
    assert.equal(accepted("SELECT '😀 \u{1F600}'").statementClass, 'select')
  })

  test('unterminated strings, comments and dollar quotes do not parse', () => {
    for (const sql of ["SELECT 'abc", 'SELECT 1 /* DROP TABLE t;', 'SELECT $$ abc', 'SELECT "abc']) {
      assert.equal(refused(sql).code, 'ERR_SQL_PARSE', sql)
    }
  })
})

describe('depth cap', () => {
  test('a long operator chain is too deep', () => {
    const failure = refused('SELECT 1' + ' + 1'.repeat(150))
    assert.equal(failure.code, 'ERR_SQL_TOO_DEEP')
    assert.deepEqual(failure.data, { maxSqlDepth: 100 })
  })

  test('nested subqueries are too deep', () => {
    assert.equal(refused('SELECT ' + '(SELECT '.repeat(40) + '1' + ')'.repeat(40)).code, 'ERR_SQL_TOO_DEEP')
  })

  test('nesting that exhausts the parser itself is too deep, not a parse error', () => {
    const roomy = { maxSqlLength: 1_000_000, maxSqlDepth: 100 }
    const sql = 'SELECT ' + '(SELECT '.repeat(2_000) + '1' + ')'.repeat(2_000)
    assert.equal(refused(sql, roomy).code, 'ERR_SQL_TOO_DEEP')
    assert.equal(refused('SELECT ' + 'ARRAY['.repeat(6_000) + '1' + ']'.repeat(6_000), roomy).code, 'ERR_SQL_TOO_DEEP')
  })

  test('the parser keeps working after it ran out of stack', () => {
    refused('SELECT ' + '(SELECT '.repeat(2_000) + '1' + ')'.repeat(2_000), { maxSqlLength: 1_000_000, maxSqlDepth: 100 })
    assert.deepEqual(functionNames(accepted('SELECT lower(name) FROM customers')), ['lower'])
  })

  test('parentheses alone add no depth', () => {
    accepted('SELECT ' + '('.repeat(200) + '1' + ')'.repeat(200))
  })

  test('the limit is configurable', () => {
    accepted('SELECT (SELECT (SELECT 1))')
    assert.equal(refused('SELECT (SELECT (SELECT 1))', { maxSqlLength: 1000, maxSqlDepth: 8 }).code, 'ERR_SQL_TOO_DEEP')
  })

  test('depth is checked before the statement count', () => {
    const deep = 'SELECT 1' + ' + 1'.repeat(150)
    assert.equal(refused(`SELECT 1; ${deep}`).code, 'ERR_SQL_TOO_DEEP')
  })
})

describe('exactly one statement', () => {
  test('empty, whitespace, comment-only and semicolon-only text is ERR_SQL_EMPTY', () => {
    for (const sql of ['', ' ', '\n\t', '-- nothing', '/* nothing */', ';', ' ; ;; ', '/* a */ ; -- b\n;']) {
      assert.equal(refused(sql).code, 'ERR_SQL_EMPTY', JSON.stringify(sql))
    }
  })

  test('two or more statements are ERR_SQL_MULTI_STATEMENT', () => {
    for (const sql of [
      'SELECT 1; SELECT 2',
      'SELECT 1;; SELECT 2',
      'COMMIT; DROP TABLE t',
      'END; DELETE FROM t',
      'ROLLBACK; BEGIN READ WRITE; DELETE FROM t',
      '-- c\nCOMMIT; DROP TABLE t',
      '/* c */ COMMIT; DROP TABLE t',
      'SELECT $$x$$; DELETE FROM t',
    ]) {
      const failure = refused(sql)
      assert.equal(failure.code, 'ERR_SQL_MULTI_STATEMENT', sql)
    }
    assert.deepEqual(refused('SELECT 1; SELECT 2; SELECT 3').data, { statements: 3 })
  })

  test('trailing empty statements do not count', () => {
    for (const sql of ['SELECT 1;', 'SELECT 1;;', 'SELECT 1 ; ; ', ';SELECT 1', 'SELECT 1; -- done']) {
      assert.equal(accepted(sql).statementText, 'SELECT 1', sql)
    }
  })

  test('semicolons inside literals, identifiers and comments are not separators', () => {
    for (const sql of [
      "SELECT 'a;b'",
      'SELECT $$ ; DROP TABLE t; $$',
      'SELECT $q$ ; $$ ; $q$',
      'SELECT 1 AS ";"',
      'SELECT 1 -- ; DROP TABLE t',
      'SELECT /* ; */ 1',
      'SELECT 1 /* a /* nested ; */ still ; */',
    ]) {
      accepted(sql)
    }
  })
})

describe('statementText', () => {
  test('drops surrounding whitespace and trailing semicolons', () => {
    assert.equal(accepted('  SELECT 1  ;  \n').statementText, 'SELECT 1')
  })

  test('starts at the first token (leading comments go) and keeps the inner text exactly', () => {
    assert.equal(accepted('-- report\n/* x */ SELECT  1 /* y */ ;').statementText, 'SELECT  1 /* y */')
  })

  test('keeps a trailing line comment of the last statement (callers appending text must add a newline)', () => {
    assert.equal(accepted('SELECT 1 -- done').statementText, 'SELECT 1 -- done')
  })

  test('skips an empty statement before the real one', () => {
    assert.equal(accepted(' ; ;  SELECT 2 ;').statementText, 'SELECT 2')
  })

  test('slices by UTF-8 byte offsets, not UTF-16 indexes', () => {
    assert.equal(accepted("; SELECT 'héllo ✓ 😀' AS greeting ;").statementText, "SELECT 'héllo ✓ 😀' AS greeting")
    assert.equal(accepted("/* ü */ ; SELECT 'ü'").statementText, "SELECT 'ü'")
  })

  test('sliceStatement refuses an offset outside the text', () => {
    assert.equal(sliceStatement('SELECT 1', { stmt: {}, stmt_location: 99 }), null)
    assert.equal(sliceStatement('SELECT ü', { stmt: {}, stmt_location: 99 }), null)
    assert.equal(sliceStatement('SELECT 1;', { stmt: {}, stmt_location: 0, stmt_len: 8 }), 'SELECT 1')
  })
})

describe('fingerprint and parameters', () => {
  test('the fingerprint ignores constants, whitespace, comments and keyword case', () => {
    const a = accepted('SELECT * FROM orders WHERE id = 1').fingerprint
    const b = accepted('select *\n  from orders /* x */ where id = 42;').fingerprint
    const c = accepted('SELECT * FROM customers WHERE id = 1').fingerprint
    assert.match(a, /^[0-9a-f]{16}$/)
    assert.equal(a, b)
    assert.notEqual(a, c)
  })

  test('maxParamIndex is the highest $n, 0 without parameters', () => {
    assert.equal(accepted('SELECT 1').maxParamIndex, 0)
    assert.equal(accepted('SELECT $2, $1').maxParamIndex, 2)
    assert.equal(accepted('SELECT * FROM t WHERE a = $3 AND b IN ($1, $12)').maxParamIndex, 12)
    assert.equal(accepted('EXPLAIN SELECT * FROM t WHERE a = $4').maxParamIndex, 4)
  })

  test('$n beyond the protocol limit and $0 are refused', () => {
    assert.equal(accepted('SELECT $65535').maxParamIndex, 65_535)
    assertRefused('SELECT $65536', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'param_index')
    assertRefused('SELECT $0', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'param_index')
  })
})

describe('statement classes', () => {
  test('SELECT, VALUES, TABLE, WITH and set operations are select', () => {
    for (const sql of ['SELECT 1', 'VALUES (1)', 'TABLE t', 'WITH x AS (SELECT 1) SELECT * FROM x', 'SELECT 1 UNION SELECT 2', '(SELECT 1)']) {
      assert.equal(accepted(sql).statementClass, 'select', sql)
    }
  })

  test('EXPLAIN and SHOW', () => {
    assert.equal(accepted('EXPLAIN SELECT 1').statementClass, 'explain')
    const show = accepted('SHOW TimeZone')
    assert.equal(show.statementClass, 'show')
    assert.deepEqual(show.shownSettings, ['timezone'])
  })

  test('the result does not depend on an earlier refused call', () => {
    refused('SELECT 1; SELECT 2')
    const analysis = analyzeSql('SELECT 1', LIMITS)
    assert.ok(analysis.ok)
  })
})
