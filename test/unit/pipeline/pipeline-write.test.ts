/**
 * The write path through the real pipeline with a recording driver (I1, I13): `execute` reaches
 * the driver only after phase A, write analysis, the write classes, the function policy, phase B
 * (what it reads and what it writes) and the user's confirmation of exactly that call, in that
 * order. Without a confirmer, or with any refusal, the driver sees no write.
 */
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import type { RelationInfo, SourceDriver } from '../../../src/exec/drivers/driver.js'
import { silentLogger } from '../../../src/log/logger.js'
import { runToolCall, type PipelineDeps } from '../../../src/pipeline/pipeline.js'
import { createPrincipal, createRequestContext, type ConfirmationVerdict, type WriteConfirmationRequest } from '../../../src/pipeline/request-context.js'
import { CatalogCache } from '../../../src/policy/function-policy.js'
import { loadPolicy } from '../../../src/policy/load-policy.js'
import { AnalysisCache } from '../../../src/sql/analysis-cache.js'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'
import { ok } from '../../../src/util/result.js'

const calls: string[] = []
const table = (name: string, columns = ['id', 'name', 'email']): RelationInfo => ({
  schema: 'public', name, kind: 'r', columns, reads: [], calls: [], descendants: [],
})
const RELATIONS: Record<string, RelationInfo> = {
  orders: table('orders'),
  customers: table('customers'),
  secrets: table('secrets'),
  audit_view: { ...table('audit_view'), kind: 'v' },
}

const driver: SourceDriver = {
  dialect: 'postgres',
  async read(r) {
    calls.push(`read:${r.sql}`)
    return ok({ columns: [], rows: [], rowCount: 0, truncated: false, truncatedBy: null, bytes: 0 })
  },
  async write(r) {
    calls.push(`write:${r.statementClass}:${r.sql}`)
    return ok({ rowCount: 1, returning: null })
  },
  explain: async () => assert.fail('not used'),
  listSchemas: async () => ok([]),
  listTables: async () => ok([]),
  describeTable: async () => ok(null),
  lookupFunctions: async () => ok([]),
  // Every operator name resolves to a built-in immutable one (=, ~~, …).
  lookupOperators: async (names) =>
    ok(names.map((name) => ({ schema: 'pg_catalog', name, function: { schema: 'pg_catalog', name: 'texteq', argCount: 2, volatility: 'i' as const, securityDefiner: false, kind: 'f' as const } }))),
  lookupTypes: async (names) => ok(names.map(() => null)),
  async lookupRelations(names) {
    calls.push(`lookupRelations:${names.map((n) => n.name).join(',')}`)
    return ok(names.map((n) => RELATIONS[n.name] ?? null))
  },
  inspectRole: async () => assert.fail('not used'),
  async close() {},
}

const POLICY = `
version: 1
principals: { alice: [writer], rita: [restricted], bob: [reader], ivan: [inserter] }
roles:
  writer:
    sources: { main: { access: { write: [insert, update] } } }
  restricted:
    sources:
      main:
        access: { write: [insert, update, delete] }
        tables: { allow: [public.orders, public.customers, public.audit_view] }
        masks: { public.customers: { email: hash } }
  reader:
    sources: { main: {} }
  inserter:
    sources: { main: { access: { write: [insert] } } }
`

let deps: PipelineDeps
before(async () => {
  await loadPostgresParser()
  const policy = loadPolicy('p.yaml', ['main'], () => POLICY)
  assert.ok(policy.ok, policy.ok ? '' : policy.message)
  const source = { name: 'main', kind: 'postgres' as const, driver, catalogCache: new CatalogCache(), searchPath: ['public'], allowFunctions: [] }
  deps = {
    sources: { defaultSource: 'main', get: (n) => (n === 'main' ? source : undefined), names: () => ['main'], close: async () => {} },
    limits: { maxRows: 500, maxBytes: 524288, statementTimeoutMs: 30_000, lockTimeoutMs: 5_000, maxSqlLength: 20_000, maxSqlDepth: 100 },
    logger: silentLogger(),
    analysisCache: new AnalysisCache(),
    policy: policy.policy,
  }
})

async function execute(principal: string, sql: string, verdict: ConfirmationVerdict | null = { kind: 'confirmed' }) {
  calls.length = 0
  const asked: WriteConfirmationRequest[] = []
  const confirmer =
    verdict === null
      ? undefined
      : {
          async confirm(request: WriteConfirmationRequest) {
            calls.push('confirm')
            asked.push(request)
            return verdict
          },
        }
  const ctx = createRequestContext({ principal: createPrincipal(principal, []), transport: 'stdio', ...(confirmer ? { confirmer } : {}) })
  const outcome = await runToolCall(deps, { name: 'execute', args: { sql }, ctx })
  return { outcome, asked }
}

const code = (o: { ok: boolean; code?: string }) => (o.ok ? 'ok' : o.code)

test('a confirmed write reaches the driver once, after the confirmation, with the analysed text', async () => {
  const { outcome, asked } = await execute('alice', ' UPDATE orders SET name = $$x$$ WHERE id = 1 ; ')
  assert.equal(code(outcome), 'ok')
  assert.deepEqual(calls, ['confirm', "write:update:UPDATE orders SET name = $$x$$ WHERE id = 1"])
  assert.equal(asked[0]?.principal, 'alice')
  assert.equal(asked[0]?.target, 'orders')
  assert.match(asked[0]?.binding ?? '', /^[0-9a-f]{64}$/)
})

test('the binding changes with the statement, the parameters and the principal', async () => {
  const a = (await execute('alice', 'DELETE FROM orders WHERE id = 1', { kind: 'refused', code: 'ERR_WRITE_DECLINED' })).asked[0]?.binding
  const b = (await execute('alice', 'DELETE FROM orders WHERE id = 2', { kind: 'refused', code: 'ERR_WRITE_DECLINED' })).asked[0]?.binding
  assert.equal(a, undefined, 'alice may not delete: never asked')
  assert.equal(b, undefined)
  const x = (await execute('alice', 'UPDATE orders SET id = 1')).asked[0]?.binding
  const y = (await execute('alice', 'UPDATE orders SET id = 2')).asked[0]?.binding
  const z = (await execute('rita', 'UPDATE orders SET id = 1')).asked[0]?.binding
  assert.ok(x && y && z && x !== y && x !== z)
})

for (const [label, principal, sql, expected] of [
  ['a principal without write access', 'bob', 'INSERT INTO orders VALUES (1)', 'ERR_POLICY_DENIED'],
  ['a class not granted (delete)', 'alice', 'DELETE FROM orders', 'ERR_POLICY_DENIED'],
  ['ON CONFLICT DO UPDATE without the update class', 'ivan', 'INSERT INTO orders VALUES (1) ON CONFLICT (id) DO UPDATE SET name = excluded.name', 'ERR_POLICY_DENIED'],
  ['an INSERT into a target outside the allow list', 'rita', 'INSERT INTO secrets VALUES (1)', 'ERR_POLICY_DENIED'],
  ['DDL', 'alice', 'DROP TABLE orders', 'ERR_SQL_NOT_DML'],
  ['a read through execute', 'alice', 'SELECT 1', 'ERR_SQL_NOT_DML'],
  ['a data-modifying CTE', 'alice', 'WITH d AS (DELETE FROM orders RETURNING *) INSERT INTO orders SELECT * FROM d', 'ERR_SQL_FORBIDDEN_CONSTRUCT'],
  ['a denied function', 'alice', "INSERT INTO orders SELECT 1 FROM pg_read_file('/etc/passwd')", 'ERR_SQL_FORBIDDEN_FUNCTION'],
  ['a target outside the allow list', 'rita', 'DELETE FROM secrets', 'ERR_POLICY_DENIED'],
  ['a target that does not exist (same answer)', 'rita', 'DELETE FROM nowhere', 'ERR_POLICY_DENIED'],
  ['a view as target under restriction', 'rita', 'DELETE FROM audit_view', 'ERR_POLICY_DENIED'],
  ['a target with column rules (masked email)', 'rita', "UPDATE customers SET name = 'x' WHERE email LIKE 'a%'", 'ERR_POLICY_DENIED'],
  ['a read of a forbidden relation inside a write', 'rita', 'INSERT INTO orders SELECT * FROM secrets', 'ERR_POLICY_DENIED'],
] as const) {
  test(`${label}: ${expected}, never confirmed, never written`, async () => {
    const { outcome } = await execute(principal, sql)
    assert.equal(code(outcome), expected)
    assert.ok(!calls.includes('confirm'), calls.join(' '))
    assert.ok(!calls.some((c) => c.startsWith('write')), calls.join(' '))
  })
}

test('a masked relation read by a write is read through its projection', async () => {
  const { outcome } = await execute('rita', 'INSERT INTO orders (id, name, email) SELECT id, name, email FROM customers')
  assert.equal(code(outcome), 'ok')
  const write = calls.find((c) => c.startsWith('write')) ?? ''
  assert.match(write, /FROM\s+\(SELECT "id", "name", pg_catalog\.encode\(pg_catalog\.sha256/)
  assert.match(write, /^write:insert:INSERT INTO orders \(id, name, email\)/)
})

test('no confirmer (a transport that cannot ask): refused, never written', async () => {
  const { outcome } = await execute('alice', 'UPDATE orders SET id = 1', null)
  assert.equal(code(outcome), 'ERR_WRITE_CONFIRMATION_UNAVAILABLE')
  assert.ok(!calls.some((c) => c.startsWith('write')))
})

test('declined, timed out or pending: never written; pending carries the input-required result', async () => {
  for (const verdict of [
    { kind: 'refused', code: 'ERR_WRITE_DECLINED' },
    { kind: 'refused', code: 'ERR_WRITE_CONFIRMATION_TIMEOUT' },
    { kind: 'refused', code: 'ERR_WRITE_CONFIRMATION_INVALID' },
  ] as const) {
    const { outcome } = await execute('alice', 'UPDATE orders SET id = 1', verdict)
    assert.equal(code(outcome), verdict.code)
    assert.ok(!calls.some((c) => c.startsWith('write')))
  }
  const pending = await execute('alice', 'UPDATE orders SET id = 1', { kind: 'input_required', result: { resultType: 'input_required' } })
  assert.equal(code(pending.outcome), 'ERR_WRITE_CONFIRMATION_REQUIRED')
  assert.deepEqual(!pending.outcome.ok && pending.outcome.inputRequired, { resultType: 'input_required' })
  assert.ok(!calls.some((c) => c.startsWith('write')))
})

test('the query tool still refuses the same write text (separate analysis caches)', async () => {
  await execute('alice', 'UPDATE orders SET id = 3')
  calls.length = 0
  const ctx = createRequestContext({ principal: createPrincipal('alice', []), transport: 'stdio' })
  const r = await runToolCall(deps, { name: 'query', args: { sql: 'UPDATE orders SET id = 3' }, ctx })
  assert.equal(code(r), 'ERR_SQL_NOT_READ_ONLY')
  assert.deepEqual(calls, [])
})
