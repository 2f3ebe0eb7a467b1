/**
 * The allowlist walker: statement classes, refused constructs, and what it collects (relations with
 * CTE scoping, function calls in every position, attribute names, operators).
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'
import { walkPostgresStatement } from '../../../src/sql/walk-postgres-tree.js'
import { accepted, assertRefused, functionNames, operatorNames, relationNames } from './sql-test-helpers.js'

before(async () => {
  await loadPostgresParser()
})

describe('statements other than reads', () => {
  const cases: [string, string][] = [
    ['INSERT INTO t VALUES (1)', 'InsertStmt'],
    ['UPDATE t SET a = 1', 'UpdateStmt'],
    ['DELETE FROM t', 'DeleteStmt'],
    ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'MergeStmt'],
    ['TRUNCATE t', 'TruncateStmt'],
    ['BEGIN', 'TransactionStmt'],
    ['COMMIT', 'TransactionStmt'],
    ['SET search_path = x', 'VariableSetStmt'],
    ['RESET ALL', 'VariableSetStmt'],
    ['SET ROLE postgres', 'VariableSetStmt'],
    ["COPY t TO '/tmp/x'", 'CopyStmt'],
    ['CREATE TABLE x AS SELECT 1', 'CreateTableAsStmt'],
    ['DO $$ BEGIN NULL; END $$', 'DoStmt'],
    ['CALL p()', 'CallStmt'],
    ['LISTEN c', 'ListenStmt'],
    ['NOTIFY c', 'NotifyStmt'],
    ['UNLISTEN *', 'UnlistenStmt'],
    ['LOCK TABLE t', 'LockStmt'],
    ['PREPARE p AS SELECT 1', 'PrepareStmt'],
    ['EXECUTE p', 'ExecuteStmt'],
    ['DEALLOCATE p', 'DeallocateStmt'],
    ['DECLARE c CURSOR FOR SELECT 1', 'DeclareCursorStmt'],
    ['FETCH c', 'FetchStmt'],
    ['CLOSE c', 'ClosePortalStmt'],
    ['VACUUM', 'VacuumStmt'],
    ['ANALYZE t', 'VacuumStmt'],
    ['CLUSTER t', 'ClusterStmt'],
    ['REINDEX TABLE t', 'ReindexStmt'],
    ['REFRESH MATERIALIZED VIEW v', 'RefreshMatViewStmt'],
    ['CHECKPOINT', 'CheckPointStmt'],
    ['DISCARD ALL', 'DiscardStmt'],
    ["LOAD 'x'", 'LoadStmt'],
    ['GRANT SELECT ON t TO PUBLIC', 'GrantStmt'],
    ['CREATE TABLE t (a int)', 'CreateStmt'],
    ['DROP TABLE t', 'DropStmt'],
    ['ALTER TABLE t ADD COLUMN b int', 'AlterTableStmt'],
    ["ALTER SYSTEM SET work_mem = '1GB'", 'AlterSystemStmt'],
  ]
  for (const [sql, subject] of cases) {
    test(`${sql} → ${subject}`, () => assertRefused(sql, 'ERR_SQL_NOT_READ_ONLY', subject))
  }
})

describe('refused constructs inside a read', () => {
  test('data-modifying CTEs, at the top and nested', () => {
    assertRefused('WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'ERR_SQL_NOT_READ_ONLY', 'DeleteStmt')
    assertRefused('WITH i AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1', 'ERR_SQL_NOT_READ_ONLY', 'InsertStmt')
    assertRefused('WITH u AS (UPDATE t SET a = 1 RETURNING 1) SELECT 1', 'ERR_SQL_NOT_READ_ONLY', 'UpdateStmt')
    assertRefused('SELECT * FROM (WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d) s', 'ERR_SQL_NOT_READ_ONLY', 'DeleteStmt')
    assertRefused('SELECT (WITH d AS (DELETE FROM t RETURNING 1) SELECT 1)', 'ERR_SQL_NOT_READ_ONLY', 'DeleteStmt')
    assertRefused('WITH a AS (WITH d AS (DELETE FROM t RETURNING 1) SELECT 1) SELECT 1', 'ERR_SQL_NOT_READ_ONLY', 'DeleteStmt')
  })

  test('SELECT … INTO', () => {
    assertRefused('SELECT 1 INTO t', 'ERR_SQL_NOT_READ_ONLY', 'IntoClause')
    assertRefused('SELECT * INTO TEMP t FROM u', 'ERR_SQL_NOT_READ_ONLY', 'IntoClause')
  })

  test('locking clauses, wherever they are', () => {
    for (const sql of [
      'SELECT * FROM t FOR UPDATE',
      'SELECT * FROM t FOR NO KEY UPDATE',
      'SELECT * FROM t FOR SHARE',
      'SELECT * FROM t FOR KEY SHARE SKIP LOCKED',
      'SELECT * FROM (SELECT * FROM t FOR UPDATE) s',
      'WITH x AS (SELECT * FROM t FOR UPDATE) SELECT * FROM x',
    ]) {
      assertRefused(sql, 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'locking_clause')
    }
  })

  test('TABLESAMPLE: only BERNOULLI and SYSTEM', () => {
    accepted('SELECT * FROM t TABLESAMPLE BERNOULLI (10)')
    accepted('SELECT * FROM t TABLESAMPLE system (10) REPEATABLE (1)')
    accepted('SELECT * FROM t TABLESAMPLE pg_catalog.bernoulli (10)')
    assertRefused('SELECT * FROM t TABLESAMPLE system_rows (10)', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'tablesample:system_rows')
    assertRefused('SELECT * FROM t TABLESAMPLE public.bernoulli (10)', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'tablesample:bernoulli')
  })

  test('three-part names', () => {
    assertRefused('SELECT * FROM db.s.t', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'catalog_qualified_name')
    assertRefused('SELECT db.s.f()', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'catalog_qualified_name')
  })

  test('nodes outside the allowlist', () => {
    assertRefused('VALUES (DEFAULT)', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'SetToDefault')
    assertRefused('SELECT merge_action()', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'MergeSupportFunc')
  })
})

describe('EXPLAIN', () => {
  test('of a read, with reviewed options', () => {
    for (const sql of [
      'EXPLAIN SELECT 1',
      'EXPLAIN VERBOSE SELECT 1',
      'EXPLAIN (FORMAT JSON) SELECT 1',
      "EXPLAIN (FORMAT 'yaml', COSTS off, VERBOSE 1, SETTINGS true, SUMMARY on, GENERIC_PLAN, MEMORY false) SELECT $1",
      'EXPLAIN (COSTS 0) VALUES (1)',
      'EXPLAIN TABLE t',
    ]) {
      assert.equal(accepted(sql).statementClass, 'explain', sql)
    }
  })

  test('ANALYZE in every spelling', () => {
    for (const sql of [
      'EXPLAIN ANALYZE SELECT 1',
      'EXPLAIN ANALYSE SELECT 1',
      'EXPLAIN ANALYZE VERBOSE SELECT 1',
      'EXPLAIN (ANALYZE) SELECT 1',
      'EXPLAIN (ANALYZE true) SELECT 1',
      'EXPLAIN (ANALYZE false) SELECT 1',
      'EXPLAIN (ANALYZE off) SELECT 1',
      'EXPLAIN (ANALYZE 0) SELECT 1',
      'EXPLAIN (COSTS off, ANALYZE) SELECT 1',
      'EXPLAIN ("ANALYZE") SELECT 1',
      'EXPLAIN ("analyse") SELECT 1',
    ]) {
      assertRefused(sql, 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'explain:analyze')
    }
  })

  test('of anything but a read, before looking at the options', () => {
    assertRefused('EXPLAIN ANALYZE DELETE FROM t', 'ERR_SQL_NOT_READ_ONLY', 'DeleteStmt')
    assertRefused('EXPLAIN INSERT INTO t VALUES (1)', 'ERR_SQL_NOT_READ_ONLY', 'InsertStmt')
    assertRefused('EXPLAIN EXECUTE p', 'ERR_SQL_NOT_READ_ONLY', 'ExecuteStmt')
    assertRefused('EXPLAIN CREATE TABLE x AS SELECT 1', 'ERR_SQL_NOT_READ_ONLY', 'CreateTableAsStmt')
    assertRefused('EXPLAIN DECLARE c CURSOR FOR SELECT 1', 'ERR_SQL_NOT_READ_ONLY', 'DeclareCursorStmt')
    assertRefused('EXPLAIN SELECT 1 INTO t', 'ERR_SQL_NOT_READ_ONLY', 'IntoClause')
  })

  test('unreviewed options and values', () => {
    assertRefused('EXPLAIN (BUFFERS) SELECT 1', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'explain:buffers')
    assertRefused('EXPLAIN (WAL) SELECT 1', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'explain:wal')
    assertRefused('EXPLAIN (TIMING off) SELECT 1', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'explain:timing')
    assertRefused('EXPLAIN (SERIALIZE) SELECT 1', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'explain:serialize')
    assertRefused('EXPLAIN (FORMAT html) SELECT 1', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'explain:format')
    assertRefused('EXPLAIN (FORMAT) SELECT 1', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'explain:format')
    assertRefused("EXPLAIN (COSTS 'maybe') SELECT 1", 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'explain:costs')
    assertRefused('EXPLAIN ("COSTS") SELECT 1', 'ERR_SQL_FORBIDDEN_CONSTRUCT', 'explain:COSTS')
  })

  test('the explained query is walked like a read', () => {
    const analysis = accepted('EXPLAIN SELECT lower(name) FROM customers WHERE id = $1')
    assert.deepEqual(functionNames(analysis), ['lower'])
    assert.deepEqual(relationNames(analysis), ['customers'])
    assert.equal(analysis.maxParamIndex, 1)
  })
})

describe('SHOW', () => {
  test('reviewed settings, case-insensitively', () => {
    assert.deepEqual(accepted('SHOW server_version').shownSettings, ['server_version'])
    assert.deepEqual(accepted('SHOW TimeZone').shownSettings, ['timezone'])
    assert.deepEqual(accepted('SHOW "TimeZone"').shownSettings, ['timezone'])
    assert.deepEqual(accepted('SHOW TIME ZONE').shownSettings, ['timezone'])
    assert.deepEqual(accepted('SHOW TRANSACTION ISOLATION LEVEL').shownSettings, ['transaction_isolation'])
  })

  test('SHOW ALL and sensitive or custom settings', () => {
    assertRefused('SHOW ALL', 'ERR_SQL_FORBIDDEN_SETTING', 'all')
    assertRefused('SHOW data_directory', 'ERR_SQL_FORBIDDEN_SETTING', 'data_directory')
    assertRefused('SHOW "ssl_key_file"', 'ERR_SQL_FORBIDDEN_SETTING', 'ssl_key_file')
    assertRefused('SHOW sqlwarden.principal', 'ERR_SQL_FORBIDDEN_SETTING', 'sqlwarden.principal')
    assertRefused('SHOW SESSION AUTHORIZATION', 'ERR_SQL_FORBIDDEN_SETTING', 'session_authorization')
  })
})

describe('relations and CTE scoping', () => {
  const cases: [string, string[]][] = [
    ['SELECT * FROM t', ['t']],
    ['SELECT * FROM s.t, t, s.t', ['s.t', 't']],
    ['TABLE ONLY s.t', ['s.t']],
    ['SELECT * FROM a JOIN b USING (id) LEFT JOIN c ON true', ['a', 'b', 'c']],
    ['SELECT (SELECT max(x) FROM a) FROM b WHERE EXISTS (SELECT 1 FROM c)', ['a', 'b', 'c']],
    ['WITH x AS (SELECT 1) SELECT * FROM x', []],
    // A plain WITH: a CTE's own query cannot see itself, so `x` inside is the table x.
    ['WITH x AS (SELECT * FROM x) SELECT * FROM x', ['x']],
    ['WITH RECURSIVE x AS (SELECT 1 UNION ALL SELECT * FROM x) SELECT * FROM x', []],
    // A plain WITH: a CTE sees only the CTEs before it.
    ['WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a', ['b']],
    ['WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b', []],
    ['WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a', []],
    // A schema-qualified name is never a CTE.
    ['WITH x AS (SELECT 1) SELECT * FROM public.x', ['public.x']],
    // CTE names are visible in nested subqueries…
    ['WITH x AS (SELECT 1) SELECT * FROM (SELECT * FROM x) s', []],
    ['WITH x AS (SELECT 1) SELECT (SELECT count(*) FROM x)', []],
    ['WITH x AS (SELECT 1) SELECT * FROM x UNION SELECT * FROM x', []],
    // …but not outside the statement that defines them.
    ['SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) s, x', ['x']],
    ['(WITH x AS (SELECT 1) SELECT * FROM x) UNION SELECT * FROM x', ['x']],
    ['SELECT 1 WHERE EXISTS (WITH x AS (SELECT 1) SELECT * FROM x) AND EXISTS (SELECT * FROM x)', ['x']],
    // An inner CTE's query sees the outer CTE of the same name.
    ['WITH x AS (SELECT * FROM t) SELECT * FROM (WITH x AS (SELECT * FROM x) SELECT * FROM x) s', ['t']],
    // Quoted names are case-sensitive.
    ['WITH "X" AS (SELECT 1) SELECT * FROM x', ['x']],
    ['WITH x AS (SELECT 1) SELECT * FROM "x"', []],
  ]
  for (const [sql, expected] of cases) {
    test(sql, () => assert.deepEqual(relationNames(accepted(sql)), expected))
  }
})

describe('function calls in every position', () => {
  const cases: [string, string[]][] = [
    ['SELECT f(1)', ['f']],
    ['SELECT s.f(1)', ['s.f']],
    ['SELECT * FROM t WHERE f(a)', ['f']],
    ['SELECT * FROM f(1)', ['f']],
    ['SELECT * FROM ROWS FROM (f(1), g(2) AS (a int)) AS x', ['f', 'g']],
    ['SELECT * FROM t, LATERAL f(t.a)', ['f']],
    ['SELECT CAST(f(1) AS int), g(1)::text', ['f', 'g']],
    ['SELECT CASE WHEN f(1) THEN g(2) ELSE h(3) END', ['f', 'g', 'h']],
    ['SELECT COALESCE(f(1), g(2)), NULLIF(h(1), 1), GREATEST(i(1), 2)', ['f', 'g', 'h', 'i']],
    ['SELECT (SELECT f(1)), EXISTS (SELECT g(1)), 1 IN (SELECT h(1)), ARRAY(SELECT i(1))', ['f', 'g', 'h', 'i']],
    ['SELECT sum(a) OVER (PARTITION BY f(b) ORDER BY g(c) ROWS BETWEEN h(1) PRECEDING AND CURRENT ROW) FROM t', ['f', 'g', 'h', 'sum']],
    ['SELECT sum(a) OVER w FROM t WINDOW w AS (ORDER BY f(a))', ['f', 'sum']],
    ['SELECT a FROM t ORDER BY f(a)', ['f']],
    ['SELECT count(*) FROM t GROUP BY f(a) HAVING g(count(*))', ['count', 'count', 'f', 'g']],
    ['SELECT * FROM t LIMIT f(1) OFFSET g(1)', ['f', 'g']],
    ['VALUES (f(1)), (g(2))', ['f', 'g']],
    ['SELECT DISTINCT ON (f(a)) a FROM t', ['f']],
    ['SELECT count(*) FILTER (WHERE f(a)), string_agg(a, g(1) ORDER BY h(a)) FROM t', ['count', 'f', 'g', 'h', 'string_agg']],
    ['SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY f(a)) FROM t', ['f', 'percentile_cont']],
    ['SELECT ARRAY[f(1)], ROW(g(1)), (h(1), 2)', ['f', 'g', 'h']],
    ['SELECT * FROM t WHERE a IN (f(1), 2) AND b BETWEEN g(1) AND h(2)', ['f', 'g', 'h']],
    ['SELECT f(1) COLLATE "C"', ['f']],
    ['SELECT f(a => g(1))', ['f', 'g']],
    ['SELECT * FROM t TABLESAMPLE BERNOULLI (f(1)) REPEATABLE (g(1))', ['f', 'g']],
    ['WITH x AS (SELECT f(1)) SELECT * FROM x', ['f']],
    ['WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE f(n)) SELECT * FROM r', ['f']],
    ['SELECT 1 UNION SELECT f(1) INTERSECT SELECT g(1)', ['f', 'g']],
    ['SELECT json_build_object(f(1), 2), JSON_OBJECT(g(1) VALUE h(2)), JSON_ARRAY(i(1))', ['f', 'g', 'h', 'i', 'json_build_object']],
    ["SELECT JSON_QUERY(f(1), '$.a' DEFAULT g(1) ON EMPTY), JSON_VALUE(h(1), '$')", ['f', 'g', 'h']],
    ["SELECT * FROM JSON_TABLE(f(1), '$[*]' COLUMNS (a int PATH '$' DEFAULT g(1) ON EMPTY)) jt", ['f', 'g']],
    ["SELECT * FROM XMLTABLE('/a' PASSING f(1) COLUMNS x int PATH g(1) DEFAULT h(1))", ['f', 'g', 'h']],
    ['SELECT xmlelement(name a, f(1)), xmlserialize(content g(1) AS text)', ['f', 'g']],
    ['SELECT f(1) IS JSON, g(1) IS NOT NULL, h(1) IS TRUE', ['f', 'g', 'h']],
    ['SELECT x FROM t WHERE f(a) LIKE g(b) ESCAPE h(c)', ['f', 'g', 'h', 'pg_catalog.like_escape']],
    ['SELECT EXTRACT(year FROM now()), now() AT TIME ZONE f(1)', ['f', 'now', 'now', 'pg_catalog.extract', 'pg_catalog.timezone']],
    ['SELECT * FROM t CROSS JOIN LATERAL (SELECT f(t.a)) s', ['f']],
    ['SELECT * FROM a JOIN b ON f(a.x, b.x)', ['f']],
    ['SELECT * FROM t GROUP BY ROLLUP (f(a)), CUBE (g(b)), GROUPING SETS ((h(c)))', ['f', 'g', 'h']],
  ]
  for (const [sql, expected] of cases) {
    test(sql, () => assert.deepEqual(functionNames(accepted(sql)), expected))
  }

  test('argument count and string-constant arguments', () => {
    const [call] = accepted("SELECT current_setting('TimeZone', true)").functions
    assert.deepEqual(call, { schema: null, name: 'current_setting', argCount: 2, constStringArgs: ['TimeZone', null] })
    const [star] = accepted('SELECT count(*) FROM t').functions
    assert.equal(star?.argCount, 0)
    const [empty] = accepted("SELECT f('', E'a\\'b', $$c$$, 'x'::text, name)").functions
    assert.deepEqual(empty?.constStringArgs, ['', "a'b", 'c', null, null])
  })

  test('names arrive folded and decoded', () => {
    assert.deepEqual(functionNames(accepted("SELECT U&\"s\\0065tval\"('s', 1)")), ['setval'])
    assert.deepEqual(functionNames(accepted("SELECT U&\"!0070g_sleep\" UESCAPE '!' (1)")), ['pg_sleep'])
    assert.deepEqual(functionNames(accepted('SELECT U&"pg_sl\\+000065ep"(1)')), ['pg_sleep'])
    assert.deepEqual(functionNames(accepted('SELECT SeTvAl(1), "NEXTVAL"(2)')), ['NEXTVAL', 'setval'])
  })
})

describe('attribute names', () => {
  const cases: [string, string[]][] = [
    ['SELECT (amount).pg_sleep FROM orders', ['pg_sleep']],
    ['SELECT (1).pg_sleep', ['pg_sleep']],
    ['SELECT t.pg_sleep FROM t', ['pg_sleep']],
    ['SELECT a.b.c FROM t', ['b', 'c']],
    ['SELECT (x).y[1].z FROM t', ['y', 'z']],
    ['SELECT (t.*).name FROM t', ['name']],
    ['SELECT t.* FROM t', []],
    ['SELECT a FROM t', []],
    ['SELECT (1).U&"pg_sl\\0065ep"', ['pg_sleep']],
    ['SELECT * FROM t ORDER BY t.created_at', ['created_at']],
    ['SELECT * FROM a JOIN b ON a.id = b.a_id', ['a_id', 'id']],
  ]
  for (const [sql, expected] of cases) {
    test(sql, () => assert.deepEqual([...accepted(sql).attributeNames].sort(), expected))
  }
})

describe('operators', () => {
  const cases: [string, string[]][] = [
    ['SELECT a + b * c FROM t', ['*', '+']],
    ['SELECT - a, @ b FROM t', ['-', '@']],
    ['SELECT a OPERATOR(pg_catalog.+) b, a OPERATOR(public.===) b FROM t', ['pg_catalog.+', 'public.===']],
    ['SELECT * FROM t WHERE a = ANY (ARRAY[1]) AND b < ALL (ARRAY[2])', ['<', '=']],
    ['SELECT * FROM t WHERE a IN (1, 2) AND b NOT IN (3)', ['<>', '=']],
    ['SELECT * FROM t WHERE a IN (SELECT 1)', ['=']],
    ['SELECT * FROM t WHERE a > ANY (SELECT 1) AND (a, b) <= ALL (SELECT 1, 2)', ['<=', '>']],
    ['SELECT * FROM t WHERE a BETWEEN 1 AND 2', ['<=', '>=']],
    ['SELECT * FROM t WHERE a NOT BETWEEN SYMMETRIC 1 AND 2', ['<', '>']],
    ['SELECT NULLIF(a, b), a IS DISTINCT FROM b FROM t', ['=']],
    ["SELECT a LIKE 'x', a NOT ILIKE 'y', a SIMILAR TO 'z' FROM t", ['!~~*', '~', '~~']],
    ['SELECT CASE a WHEN 1 THEN 2 END FROM t', ['=']],
    ['SELECT CASE WHEN a THEN 2 END FROM t', []],
    ['SELECT a FROM t ORDER BY a USING <', ['<']],
    ['SELECT a FROM t ORDER BY a USING OPERATOR(pg_catalog.>)', ['pg_catalog.>']],
    ["SELECT j -> 'a', j ->> 'b', j @> '{}', j #> '{a}' FROM t", ['#>', '->', '->>', '@>']],
    ['SELECT a + b + c + d FROM t', ['+']],
  ]
  for (const [sql, expected] of cases) {
    test(sql, () => assert.deepEqual(operatorNames(accepted(sql)), expected))
  }
})

describe('a tree the allowlist has not reviewed', () => {
  const select = (inner: Record<string, unknown>): unknown => ({
    SelectStmt: { targetList: [{ ResTarget: { val: inner } }], limitOption: 'LIMIT_OPTION_DEFAULT', op: 'SETOP_NONE' },
  })

  test('an unknown node type is refused by name', () => {
    const result = walkPostgresStatement(select({ FuncExpr: { funcid: 1 } }))
    assert.ok(!result.ok)
    assert.equal(result.code, 'ERR_SQL_FORBIDDEN_CONSTRUCT')
    assert.equal(result.subject, 'FuncExpr')
  })

  test('an unknown field of a known node is refused', () => {
    const result = walkPostgresStatement({ SelectStmt: { bogus: 1, op: 'SETOP_NONE' } })
    assert.ok(!result.ok)
    assert.equal(result.subject, 'SelectStmt.bogus')
  })

  test('fields named like Object.prototype members do not resolve to them', () => {
    const constructorField = walkPostgresStatement(select({ A_Const: { constructor: { ival: 1 } } }))
    assert.ok(!constructorField.ok)
    assert.equal(constructorField.subject, 'A_Const.constructor')
    const protoField = walkPostgresStatement(select(JSON.parse('{"A_Const": {"__proto__": {"ival": 1}}}') as Record<string, unknown>))
    assert.ok(!protoField.ok)
    assert.equal(protoField.subject, 'A_Const.__proto__')
    const toStringNode = walkPostgresStatement(select({ toString: {} }))
    assert.ok(!toStringNode.ok)
    assert.equal(toStringNode.subject, 'toString')
  })

  test('a statement nested where a read is expected is not read-only', () => {
    const result = walkPostgresStatement({
      SelectStmt: { fromClause: [{ RangeSubselect: { subquery: { InsertStmt: {} } } }], op: 'SETOP_NONE' },
    })
    assert.ok(!result.ok)
    assert.equal(result.code, 'ERR_SQL_NOT_READ_ONLY')
    assert.equal(result.subject, 'InsertStmt')
  })

  test('malformed shapes are refused, never guessed', () => {
    const shapes: unknown[] = [
      null,
      'SelectStmt',
      [],
      { SelectStmt: {}, InsertStmt: {} },
      { SelectStmt: [] },
      select({ A_Const: {}, ColumnRef: {} }),
      select({ A_Const: { location: { nested: true } } }),
      select({ TypeCast: { arg: { A_Const: {} }, typeName: [] } }),
      select({ FuncCall: { funcname: [{ Integer: { ival: 1 } }] } }),
      select({ FuncCall: { funcname: [] } }),
      select({ ColumnRef: { fields: [{ A_Const: {} }] } }),
      select({ ParamRef: { number: 1.5 } }),
      { SelectStmt: { withClause: { ctes: [{ SelectStmt: {} }] }, op: 'SETOP_NONE' } },
    ]
    for (const shape of shapes) {
      const result = walkPostgresStatement(shape)
      assert.ok(!result.ok, JSON.stringify(shape))
      assert.equal(result.code, 'ERR_SQL_FORBIDDEN_CONSTRUCT', JSON.stringify(shape))
    }
  })

  test('an A_Expr kind the walker does not know is refused', () => {
    const result = walkPostgresStatement(select({ A_Expr: { kind: 'AEXPR_NEW', name: [{ String: { sval: '=' } }] } }))
    assert.ok(!result.ok)
    assert.equal(result.subject, 'A_Expr.AEXPR_NEW')
  })
})
