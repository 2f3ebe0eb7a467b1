import { before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { rewriteRelations, maskExpression } from '../../../src/policy/relation-rewrite.js'
import type { RelationPlan } from '../../../src/policy/relation-policy.js'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'

const limits = { maxSqlLength: 20_000, maxSqlDepth: 100 }
const plan = (written: { schema: string | null; name: string }[], columns = [{ column: 'id', mask: null }, { column: 'email', mask: { kind: 'hash' as const } }]): RelationPlan => ({
  wraps: written.map((w) => ({ written: w, schema: 'app', name: 'customers', columns })),
})
const customers = plan([{ schema: null, name: 'customers' }])
const projection = `SELECT "id", ${maskExpression({ kind: 'hash' }, '"email"')} AS "email" FROM `

function rewrite(sql: string, p: RelationPlan = customers): string {
  const r = rewriteRelations(sql, p, limits)
  assert.ok(r.ok, `rewrite of ${sql} failed: ${!r.ok ? r.code + ' ' + r.subject : ''}`)
  return r.value.statementText
}

/** The statement text is trimmed at the end, as analysis slices it. */
const t = (expected: string) => expected.trimEnd()

function refused(sql: string, p: RelationPlan = customers): void {
  const r = rewriteRelations(sql, p, limits)
  assert.ok(!r.ok && r.code === 'ERR_POLICY_DENIED', `expected a refusal for ${sql}`)
}

describe('relation rewrite', () => {
  before(loadPostgresParser)

  test('an unaliased relation gets its own name as alias', () => {
    assert.equal(rewrite('SELECT email FROM customers'), t(`SELECT email FROM  (${projection}"app"."customers") AS "customers" `))
  })

  test('an aliased relation keeps the alias the statement wrote', () => {
    assert.equal(rewrite('SELECT c.email FROM customers c'), t(`SELECT c.email FROM  (${projection}"app"."customers")  c`))
    assert.equal(rewrite('SELECT c.email FROM customers AS c(a, b)'), t(`SELECT c.email FROM  (${projection}"app"."customers")  AS c(a, b)`))
  })

  test('ONLY, ONLY (…) and TABLE are part of the replaced span', () => {
    assert.equal(rewrite('SELECT 1 FROM ONLY customers'), t(`SELECT 1 FROM  (${projection}ONLY "app"."customers") AS "customers" `))
    assert.equal(rewrite('SELECT 1 FROM ONLY ( customers ) x'), t(`SELECT 1 FROM  (${projection}ONLY "app"."customers")  x`))
    assert.equal(rewrite('TABLE customers'), t(`SELECT * FROM (${projection}"app"."customers") AS "customers" `))
    assert.equal(rewrite('SELECT 1 FROM customers *'), t(`SELECT 1 FROM  (${projection}"app"."customers") AS "customers" `))
  })

  test('a qualified name with comments and whitespace inside is replaced whole', () => {
    const p = plan([{ schema: 'app', name: 'customers' }])
    assert.equal(rewrite('SELECT 1 FROM app /* c */ . customers', p), t(`SELECT 1 FROM  (${projection}"app"."customers") AS "customers" `))
  })

  test('byte offsets, not UTF-16 offsets: text before the name may hold multi-byte characters', () => {
    const out = rewrite("SELECT 'é😀' AS x, email FROM customers")
    assert.equal(out, t(`SELECT 'é😀' AS x, email FROM  (${projection}"app"."customers") AS "customers" `))
  })

  test('every site is replaced: set operations, subqueries, CTE bodies', () => {
    const out = rewrite('WITH c AS (SELECT email FROM customers) SELECT email FROM c UNION ALL SELECT email FROM customers WHERE id IN (SELECT id FROM customers)')
    assert.equal(out.split('"app"."customers"').length - 1, 3)
  })

  test('a CTE with the same name is not a relation and is left alone', () => {
    const out = rewrite('WITH customers AS (SELECT 1 AS id) SELECT * FROM customers, app.customers x', plan([{ schema: 'app', name: 'customers' }]))
    assert.equal(out, `WITH customers AS (SELECT 1 AS id) SELECT * FROM customers,  (${projection}"app"."customers")  x`)
  })

  test('syntax the projection cannot replace is refused, not passed through', () => {
    refused('SELECT 1 FROM customers TABLESAMPLE bernoulli (10)')
  })

  test('a plan naming a relation the statement does not name is refused', () => {
    refused('SELECT 1 FROM orders', plan([{ schema: null, name: 'customers' }]))
  })

  test('identifiers are quoted exactly: quotes inside names are doubled', () => {
    const p: RelationPlan = { wraps: [{ written: { schema: null, name: 'we"ird' }, schema: 'a"b', name: 'we"ird', columns: [{ column: 'c"1', mask: { kind: 'redact' } }] }] }
    const out = rewrite('SELECT 1 FROM "we""ird"', p)
    assert.match(out, /FROM "a""b"\."we""ird"\) AS "we""ird"/)
    assert.match(out, /AS "c""1"/)
  })

  test('an empty projection (every column denied) is still a valid relation', () => {
    const out = rewrite('SELECT count(*) FROM customers', plan([{ schema: null, name: 'customers' }], []))
    assert.equal(out, 'SELECT count(*) FROM  (SELECT  FROM "app"."customers") AS "customers"')
  })

  test('mask expressions use only qualified built-ins and keep NULL', () => {
    assert.equal(maskExpression({ kind: 'redact' }, '"e"'), `CASE WHEN "e" IS NULL THEN NULL ELSE '[redacted]' END`)
    const partial = maskExpression({ kind: 'partial', keepFirst: 1, keepLast: 2 }, '"e"')
    assert.match(partial, /OPERATOR\(pg_catalog\.<=\) 3/)
    for (const mask of [{ kind: 'redact' as const }, { kind: 'hash' as const }, { kind: 'partial' as const, keepFirst: 1, keepLast: 2 }]) {
      // Every call is pg_catalog-qualified (CAST and OPERATOR are syntax, not lookups).
      const unqualified = [...maskExpression(mask, '"e"').matchAll(/(?<![.\w])([A-Za-z_]+)\(/g)].map((m) => m[1])
      assert.deepEqual(unqualified.filter((n) => n !== 'CAST' && n !== 'OPERATOR'), [], mask.kind)
    }
  })
})
