import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { loadPostgresParser, parsePostgres } from '../../../src/sql/parser/postgres-parser.js'
import { measureTreeDepth } from '../../../src/sql/tree-depth.js'

before(async () => {
  await loadPostgresParser()
})

function statementDepth(sql: string, limit = 1_000): number {
  const parsed = parsePostgres(sql)
  assert.ok(parsed.ok)
  return measureTreeDepth(parsed.value.stmts[0]?.stmt, limit)
}

describe('measureTreeDepth', () => {
  test('wrappers count with the node they wrap; arrays do not count', () => {
    assert.equal(measureTreeDepth({ A: { b: 1 } }, 10), 1)
    assert.equal(measureTreeDepth({ A: { b: [{ C: { d: { e: 1 } } }] } }, 10), 3)
    assert.equal(measureTreeDepth([[[[{ x: 1 }]]]], 10), 1)
    assert.equal(measureTreeDepth('scalar', 10), 0)
    assert.equal(measureTreeDepth(null, 10), 0)
  })

  test('SELECT 1 is four deep; each nested subquery adds three levels', () => {
    assert.equal(statementDepth('SELECT 1'), 4)
    assert.equal(statementDepth('SELECT (SELECT 1)'), 7)
    assert.equal(statementDepth('SELECT (SELECT (SELECT 1))'), 10)
  })

  test('stops early and reports limit + 1', () => {
    assert.equal(statementDepth('SELECT (SELECT (SELECT 1))', 5), 6)
  })

  test('unwrapped nested nodes count too (set operations nest through larg/rarg)', () => {
    const union = 'SELECT 1' + ' UNION SELECT 1'.repeat(200)
    assert.ok(statementDepth(union) > 200)
  })

  test('a tree far deeper than any stack is measured without recursion', () => {
    let tree: unknown = { leaf: 1 }
    for (let i = 0; i < 200_000; i += 1) tree = { A_Expr: { lexpr: tree } }
    assert.equal(measureTreeDepth(tree, 300_000), 200_001)
    assert.equal(measureTreeDepth(tree, 100), 101)
  })
})
