/**
 * I1 and I3: nothing reaches a database before tool lookup, input validation and SQL analysis have
 * allowed it, and a refusal leaves no trace. A recording fake driver stands in for the database
 * (this proves the pipeline's order, not the database's behaviour; the live corpus does that).
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FunctionInfo, SourceDriver } from '../../../src/exec/drivers/driver.js'
import { silentLogger } from '../../../src/log/logger.js'
import { runToolCall, type PipelineDeps } from '../../../src/pipeline/pipeline.js'
import { createRequestContext, LOCAL_PRINCIPAL } from '../../../src/pipeline/request-context.js'
import { allowAllPolicy } from '../../../src/policy/compile-policy.js'
import { CatalogCache } from '../../../src/policy/function-policy.js'
import { AnalysisCache } from '../../../src/sql/analysis-cache.js'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'
import { ok } from '../../../src/util/result.js'

const calls: string[] = []
const pgCatalog = (name: string, argCount = 1): FunctionInfo => ({
  schema: 'pg_catalog', name, argCount, volatility: 'i', securityDefiner: false, kind: 'f',
})

const driver: SourceDriver = {
  dialect: 'postgres',
  async read(r) {
    calls.push(`read:${r.sql}`)
    return ok({ columns: [{ name: 'x', type: 'integer' }], rows: [[1]], rowCount: 1, truncated: false, truncatedBy: null, bytes: 3 })
  },
  async write(r) {
    calls.push(`write:${r.sql}`)
    return ok({ rowCount: 1, returning: null })
  },
  async explain(r) {
    calls.push(`explain:${r.sql}`)
    return ok({ columns: [{ name: 'QUERY PLAN', type: 'json' }], rows: [[[{ Plan: {} }]]], rowCount: 1, truncated: false, truncatedBy: null, bytes: 10 })
  },
  async listSchemas() {
    calls.push('listSchemas')
    return ok([])
  },
  async listTables() {
    calls.push('listTables')
    return ok([])
  },
  async describeTable() {
    calls.push('describeTable')
    return ok(null)
  },
  async lookupFunctions(names) {
    calls.push(`lookupFunctions:${names.join(',')}`)
    return ok(names.filter((n) => n === 'lower').map((n) => pgCatalog(n)))
  },
  async lookupTypes(names) {
    calls.push(`lookupTypes:${names.map((n) => n.name).join(',')}`)
    return ok(names.map(() => null))
  },
  async lookupRelations(names) {
    calls.push(`lookupRelations:${names.map((n) => n.name).join(',')}`)
    return ok(names.map(() => null))
  },
  async lookupOperators(names) {
    calls.push(`lookupOperators:${names.join(',')}`)
    return ok([])
  },
  async inspectRole() {
    throw new Error('not used')
  },
  async close() {},
}

let deps: PipelineDeps
before(async () => {
  await loadPostgresParser()
  const source = { name: 'main', kind: 'postgres' as const, driver, catalogCache: new CatalogCache(), searchPath: ['public'], allowFunctions: [] }
  deps = {
    sources: { defaultSource: 'main', get: (n) => (n === 'main' ? source : undefined), names: () => ['main'], close: async () => {} },
    limits: { maxRows: 500, maxBytes: 524288, statementTimeoutMs: 30_000, lockTimeoutMs: 5_000, maxSqlLength: 20_000, maxSqlDepth: 100 },
    logger: silentLogger(),
    analysisCache: new AnalysisCache(),
    policy: allowAllPolicy(),
  }
})

async function call(name: string, args: unknown) {
  calls.length = 0
  return runToolCall(deps, { name, args, ctx: createRequestContext({ principal: LOCAL_PRINCIPAL, transport: 'stdio' }) })
}

for (const [label, name, args, code] of [
  ['an unknown tool', 'drop_everything', { sql: 'SELECT 1' }, 'ERR_TOOL_UNKNOWN'],
  ['an unknown key', 'query', { sql: 'SELECT 1', sudo: true }, 'ERR_TOOL_INVALID_ARGUMENTS'],
  ['a wrong parameter type', 'query', { sql: 'SELECT $1', params: [[1]] }, 'ERR_TOOL_INVALID_ARGUMENTS'],
  ['a missing sql', 'query', {}, 'ERR_TOOL_INVALID_ARGUMENTS'],
  ['non-object arguments', 'query', 'SELECT 1', 'ERR_TOOL_INVALID_ARGUMENTS'],
  ['an unknown source', 'query', { sql: 'SELECT 1', source: 'other' }, 'ERR_SOURCE_UNKNOWN'],
  ['unparseable SQL', 'query', { sql: 'SELEC 1' }, 'ERR_SQL_PARSE'],
  ['a write', 'query', { sql: 'DELETE FROM t' }, 'ERR_SQL_NOT_READ_ONLY'],
  ['stacked statements', 'query', { sql: 'SELECT 1; COMMIT; DROP TABLE t' }, 'ERR_SQL_MULTI_STATEMENT'],
  ['a parameter count mismatch', 'query', { sql: 'SELECT $1, $2', params: [1] }, 'ERR_SQL_PARAMS_MISMATCH'],
  ['too long SQL', 'query', { sql: `SELECT '${'x'.repeat(20_001)}'` }, 'ERR_SQL_TOO_LARGE'],
  ['a denied builtin', 'query', { sql: "SELECT pg_read_file('/etc/passwd')" }, 'ERR_SQL_FORBIDDEN_FUNCTION'],
  ['EXPLAIN ANALYZE through explain', 'explain', { sql: 'EXPLAIN ANALYZE SELECT 1' }, 'ERR_SQL_FORBIDDEN_CONSTRUCT'],
] as const) {
  test(`${label} is refused with ${code} before anything reaches the database`, async () => {
    const r = await call(name, args)
    assert.equal(r.ok, false)
    assert.equal(!r.ok && r.code, code)
    assert.deepEqual(calls, [])
  })
}

test('an unknown function name is looked up in the catalog, and refused when nothing is found, without a read', async () => {
  const r = await call('query', { sql: 'SELECT no_such_fn(1)' })
  assert.equal(!r.ok && r.code, 'ERR_SQL_FORBIDDEN_FUNCTION')
  assert.deepEqual(calls, ['lookupFunctions:no_such_fn'])
})

test('an allowed read reaches the driver exactly once, with the analysed statement text', async () => {
  const r = await call('query', { sql: '  SELECT lower($1) ;  ', params: ['A'] })
  assert.ok(r.ok)
  assert.deepEqual(calls.filter((c) => c.startsWith('read')), ['read:SELECT lower($1)'])
})

test('max_rows lowers the cap and never raises it', async () => {
  let seen = 0
  const original = driver.read
  driver.read = async (r) => {
    seen = r.limits.maxRows
    return original(r)
  }
  try {
    await call('query', { sql: 'SELECT 1', max_rows: 3 })
    assert.equal(seen, 3)
    await call('query', { sql: 'SELECT 1', max_rows: 10_000 })
    assert.equal(seen, 500)
  } finally {
    driver.read = original
  }
})

test('a stage that throws becomes ERR_INTERNAL, never an exception', async () => {
  const original = driver.read
  driver.read = async () => {
    throw new Error('boom: postgres://user:secret@db')
  }
  try {
    const r = await call('query', { sql: 'SELECT 1' })
    assert.equal(!r.ok && r.code, 'ERR_INTERNAL')
  } finally {
    driver.read = original
  }
})
