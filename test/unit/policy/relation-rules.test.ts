import { test } from 'node:test'
import assert from 'node:assert/strict'
import { compileRelationRules, isRestricted } from '../../../src/policy/relation-rules.js'
import { sourceGrantSchema, policySchema } from '../../../src/policy/policy-schema.js'

const grant = (g: unknown) => sourceGrantSchema.parse(g)

test('a grant without schemas, tables, columns or masks is unrestricted', () => {
  assert.equal(isRestricted(grant({ tools: ['query'] })), false)
  assert.equal(compileRelationRules([grant({ dbRole: 'r' })]), null)
  assert.equal(compileRelationRules([]), null)
})

test('deny lists win over allow lists; allow lists of schemas and tables combine', () => {
  const r = compileRelationRules([grant({ schemas: { allow: ['app'] }, tables: { allow: ['other.t'], deny: ['app.secrets'] } })])
  assert.ok(r)
  assert.equal(r.relationAllowed('app', 'orders'), true)
  assert.equal(r.relationAllowed('other', 't'), true)
  assert.equal(r.relationAllowed('other', 'u'), false)
  assert.equal(r.relationAllowed('app', 'secrets'), false)
})

test('catalog schemas are readable only when an allow list names them, even for a deny-only grant', () => {
  const r = compileRelationRules([grant({ tables: { deny: ['app.secrets'] } })])
  assert.ok(r)
  assert.equal(r.relationAllowed('app', 'orders'), true)
  for (const [schema, name] of [['pg_catalog', 'pg_stats'], ['information_schema', 'tables'], ['pg_toast', 'pg_toast_1'], ['pg_temp_3', 'x']] as const) {
    assert.equal(r.relationAllowed(schema, name), false, `${schema}.${name}`)
  }
  const named = compileRelationRules([grant({ tables: { allow: ['pg_catalog.pg_class'] } })])
  assert.equal(named?.relationAllowed('pg_catalog', 'pg_class'), true)
  assert.equal(named?.relationAllowed('pg_catalog', 'pg_stats'), false)
})

test('names are case-sensitive, as the catalog stores them', () => {
  const r = compileRelationRules([grant({ tables: { allow: ['app.Orders'] } })])
  assert.equal(r?.relationAllowed('app', 'Orders'), true)
  assert.equal(r?.relationAllowed('app', 'orders'), false)
})

test('column allow lists deny every other column; masks apply to allowed columns', () => {
  const r = compileRelationRules([
    grant({ columns: { 'app.c': { allow: ['id', 'email'] } }, masks: { 'app.c': { email: 'hash' } } }),
  ])
  assert.ok(r)
  assert.deepEqual(r.columnRule('app', 'c', 'id'), { kind: 'allow' })
  assert.deepEqual(r.columnRule('app', 'c', 'email'), { kind: 'hash' })
  assert.deepEqual(r.columnRule('app', 'c', 'phone'), { kind: 'deny' })
  assert.equal(r.hasColumnRules('app', 'c'), true)
  assert.equal(r.hasColumnRules('app', 'd'), false)
})

test('several restricted grants: every one must allow the relation; any denial or mask applies; the strongest mask wins', () => {
  const r = compileRelationRules([
    grant({ tables: { allow: ['app.a', 'app.b'] }, masks: { 'app.a': { x: { partial: { keepLast: 2 } } } } }),
    grant({ tables: { allow: ['app.a'] }, masks: { 'app.a': { x: 'redact' } }, columns: { 'app.a': { deny: ['y'] } } }),
    grant({ tools: ['query'] }),
  ])
  assert.ok(r)
  assert.equal(r.relationAllowed('app', 'a'), true)
  assert.equal(r.relationAllowed('app', 'b'), false)
  assert.deepEqual(r.columnRule('app', 'a', 'x'), { kind: 'redact' })
  assert.deepEqual(r.columnRule('app', 'a', 'y'), { kind: 'deny' })
})

test('equal rules have equal keys; different rules different keys', () => {
  const a = compileRelationRules([grant({ tables: { allow: ['app.a'] } })])
  const b = compileRelationRules([grant({ tables: { allow: ['app.a'] } })])
  const c = compileRelationRules([grant({ tables: { allow: ['app.b'] } })])
  assert.equal(a?.key, b?.key)
  assert.notEqual(a?.key, c?.key)
})

test('the schema refuses unknown keys, bad names and useless masks', () => {
  const bad = [
    { tables: { allow: ['orders'] } },
    { tables: {} },
    { tables: { allow: ['app.a'], only: ['x'] } },
    { columns: { 'app.a': { deny: ['bad name'] } } },
    { masks: { 'app.a': { x: 'scramble' } } },
    { masks: { 'app.a': { x: { partial: { keepFirst: 0, keepLast: 0 } } } } },
    { masks: { 'app.a': { x: { partial: { keepFirst: 1, extra: 1 } } } } },
    { functions: ['peek'] },
  ]
  for (const g of bad) assert.equal(sourceGrantSchema.safeParse(g).success, false, JSON.stringify(g))
  assert.equal(policySchema.safeParse({ version: 1, roles: { r: { sources: { s: { tables: { allow: ['a.b'] } } } } } }).success, true)
})
