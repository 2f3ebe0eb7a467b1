/**
 * The write entry point of SQL analysis (analyzeWriteSql, the `execute` tool only): exactly one
 * INSERT, UPDATE or DELETE, the same closed allowlist as reads plus the write-only nodes, every
 * function and operator collected wherever it appears, the target recorded apart, nested writes
 * refused. The read entry point is unchanged: the same texts are refused there.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { analyzeSql, analyzeWriteSql } from '../../../src/sql/analyze-sql.js'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'
import type { QueryAnalysis } from '../../../src/sql/query-analysis.js'

const LIMITS = { maxSqlLength: 20_000, maxSqlDepth: 100 }

before(async () => {
  await loadPostgresParser()
})

function accepted(sql: string): QueryAnalysis {
  const r = analyzeWriteSql(sql, LIMITS)
  if (!r.ok) assert.fail(`${sql}: ${r.code} ${r.subject ?? ''}`)
  return r.value
}

function refused(sql: string): string {
  const r = analyzeWriteSql(sql, LIMITS)
  assert.equal(r.ok, false, sql)
  return r.ok ? '' : `${r.code}${r.subject === undefined ? '' : ` ${r.subject}`}`
}

describe('classes and target', () => {
  test('INSERT, UPDATE and DELETE, with their target apart from what they read', () => {
    const i = accepted('INSERT INTO s.t AS x (a) SELECT b FROM u')
    assert.equal(i.statementClass, 'insert')
    assert.deepEqual(i.write?.classes, ['insert'])
    assert.deepEqual({ schema: i.write?.target.schema, name: i.write?.target.name }, { schema: 's', name: 't' })
    assert.deepEqual(i.write?.target.sites, [{ location: 12, only: false, aliased: true }])
    assert.deepEqual(i.relations.map((r) => r.name), ['u'])
    const u = accepted('UPDATE ONLY t SET a = 1 FROM u WHERE t.id = u.id')
    assert.deepEqual(u.write?.classes, ['update'])
    assert.equal(u.write?.target.sites[0]?.only, true)
    const d = accepted('DELETE FROM t USING u WHERE t.id = u.id RETURNING t.id')
    assert.deepEqual(d.write?.classes, ['delete'])
    assert.equal(d.write?.returning, true)
  })

  test('ON CONFLICT DO UPDATE needs insert and update; DO NOTHING only insert', () => {
    assert.deepEqual(accepted('INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a').write?.classes, ['insert', 'update'])
    assert.deepEqual(accepted('INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING').write?.classes, ['insert'])
    assert.deepEqual(accepted('INSERT INTO t VALUES (1) ON CONFLICT ON CONSTRAINT t_pkey DO NOTHING').write?.classes, ['insert'])
  })

  test('a CTE name never hides the target, and CTE references are not relations', () => {
    const a = accepted('WITH t AS (SELECT 1 AS id) INSERT INTO t SELECT id FROM t')
    assert.equal(a.write?.target.name, 't')
    assert.deepEqual(a.relations, [])
  })
})

describe('functions and operators are collected everywhere', () => {
  const cases: [string, string[], string[]][] = [
    ['INSERT INTO t VALUES (f1($1), DEFAULT) RETURNING f2(a)', ['f1', 'f2'], []],
    ['INSERT INTO t SELECT f3(x) FROM u WHERE x > 1', ['f3'], ['>']],
    ['INSERT INTO t VALUES (1) ON CONFLICT (lower(a)) WHERE a <> 0 DO UPDATE SET a = f4(excluded.a) WHERE t.a < f5()', ['lower', 'f4', 'f5'], ['<>', '<']],
    ['UPDATE t SET (a, b) = (SELECT f6(1), 2) WHERE id IN (SELECT f7())', ['f6', 'f7'], ['=']],
    ['DELETE FROM t USING u WHERE t.a || u.b = f8() RETURNING f9(t)', ['f8', 'f9'], ['||', '=']],
    ['WITH c AS (SELECT f10() AS v) UPDATE t SET a = c.v FROM c', ['f10'], []],
  ]
  for (const [sql, functions, operators] of cases) {
    test(sql, () => {
      const a = accepted(sql)
      assert.deepEqual([...new Set(a.functions.map((f) => f.name))].sort(), [...functions].sort())
      for (const op of operators) assert.ok(a.operators.some((o) => o.name === op), `${op} in ${JSON.stringify(a.operators)}`)
    })
  }
  test('attribute notation in a write is collected like in a read', () => {
    assert.ok(accepted('UPDATE t SET a = (t.b).pg_sleep').attributeNames.includes('pg_sleep'))
  })
})

describe('refused', () => {
  const cases: [string, string][] = [
    ['SELECT 1', 'ERR_SQL_NOT_DML SelectStmt'],
    ['SELECT * INTO x FROM y', 'ERR_SQL_NOT_DML SelectStmt'],
    ['CREATE TABLE x (a int)', 'ERR_SQL_NOT_DML CreateStmt'],
    ['CREATE TABLE x AS SELECT 1', 'ERR_SQL_NOT_DML CreateTableAsStmt'],
    ['DROP TABLE t', 'ERR_SQL_NOT_DML DropStmt'],
    ['TRUNCATE t', 'ERR_SQL_NOT_DML TruncateStmt'],
    ['ALTER TABLE t ADD COLUMN b int', 'ERR_SQL_NOT_DML AlterTableStmt'],
    ['GRANT SELECT ON t TO public', 'ERR_SQL_NOT_DML GrantStmt'],
    ['COPY t FROM STDIN', 'ERR_SQL_NOT_DML CopyStmt'],
    ['MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE', 'ERR_SQL_NOT_DML MergeStmt'],
    ['EXPLAIN ANALYZE DELETE FROM t', 'ERR_SQL_NOT_DML ExplainStmt'],
    ['COMMIT', 'ERR_SQL_NOT_DML TransactionStmt'],
    ['CALL p()', 'ERR_SQL_NOT_DML CallStmt'],
    ['DO $$ BEGIN DELETE FROM t; END $$', 'ERR_SQL_NOT_DML DoStmt'],
    ['WITH d AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM d', 'ERR_SQL_FORBIDDEN_CONSTRUCT data_modifying_cte'],
    ['WITH d AS (UPDATE a SET x = 1 RETURNING *) DELETE FROM b USING d', 'ERR_SQL_FORBIDDEN_CONSTRUCT data_modifying_cte'],
    ['INSERT INTO b SELECT * FROM (WITH d AS (INSERT INTO a VALUES (1) RETURNING *) SELECT * FROM d) z', 'ERR_SQL_FORBIDDEN_CONSTRUCT data_modifying_cte'],
    ['UPDATE t SET a = 1 WHERE EXISTS (WITH m AS (MERGE INTO a USING b ON true WHEN MATCHED THEN DELETE) SELECT 1)', ''],
    ['INSERT INTO t SELECT * FROM u FOR UPDATE', 'ERR_SQL_FORBIDDEN_CONSTRUCT locking_clause'],
    ['DELETE FROM t WHERE CURRENT OF c', 'ERR_SQL_FORBIDDEN_CONSTRUCT CurrentOfExpr'],
    ['UPDATE t SET a[1] = 2', 'ERR_SQL_FORBIDDEN_CONSTRUCT ResTarget.indirection'],
    ['INSERT INTO db.s.t VALUES (1)', 'ERR_SQL_FORBIDDEN_CONSTRUCT catalog_qualified_name'],
    ['INSERT INTO t VALUES (1) ON CONFLICT (a text_pattern_ops) DO NOTHING', 'ERR_SQL_FORBIDDEN_CONSTRUCT IndexElem.opclass'],
    ['INSERT INTO t VALUES (1); DELETE FROM t', 'ERR_SQL_MULTI_STATEMENT'],
  ]
  for (const [sql, expected] of cases) {
    test(sql, () => {
      const got = refused(sql)
      if (expected !== '') assert.equal(got, expected)
    })
  }
})

test('the read entry point still refuses every write (unchanged)', () => {
  for (const sql of ['INSERT INTO t VALUES (1)', 'UPDATE t SET a = 1', 'DELETE FROM t', 'INSERT INTO t VALUES (DEFAULT)']) {
    const r = analyzeSql(sql, LIMITS)
    assert.equal(r.ok, false)
    assert.equal(!r.ok && r.code, 'ERR_SQL_NOT_READ_ONLY', sql)
  }
  // SetToDefault and the other write-only nodes never reach the read allowlist.
  const r = analyzeSql('SELECT * FROM (VALUES (1)) v WHERE EXISTS (SELECT 1)', LIMITS)
  assert.ok(r.ok)
  assert.equal(r.ok && 'write' in r.value, false)
})
