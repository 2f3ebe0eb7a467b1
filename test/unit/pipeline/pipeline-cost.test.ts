/**
 * The cost stage with a recording fake driver (D25, I16): it runs after every other stage and
 * before the read, only for `query` SELECTs with a ceiling; an estimate that cannot be obtained
 * refuses (fail closed) and nothing is read; the read gets what is left of the time limit.
 * The real estimates and boundaries are in test/integration/postgres/cost-ceiling.test.ts.
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { LimitsConfig } from '../../../src/config/config-schema.js'
import type { ReadRequest, ReadResult, SourceDriver } from '../../../src/exec/drivers/driver.js'
import { silentLogger } from '../../../src/log/logger.js'
import { runToolCall, type PipelineDeps } from '../../../src/pipeline/pipeline.js'
import { createRequestContext, LOCAL_PRINCIPAL } from '../../../src/pipeline/request-context.js'
import { allowAllPolicy } from '../../../src/policy/compile-policy.js'
import { CatalogCache } from '../../../src/policy/function-policy.js'
import { costCeiling, totalCostOf } from '../../../src/quota/cost-ceiling.js'
import { AnalysisCache } from '../../../src/sql/analysis-cache.js'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'
import { fail, ok, type Result } from '../../../src/util/result.js'

const calls: { kind: string; request: ReadRequest }[] = []
let explainAnswer: () => Promise<Result<ReadResult>>
const planResult = (plan: unknown, truncated = false): Result<ReadResult> =>
  ok({ columns: [{ name: 'QUERY PLAN', type: 'json' }], rows: truncated ? [] : [[plan as never]], rowCount: truncated ? 0 : 1, truncated, truncatedBy: truncated ? 'bytes' : null, bytes: 10 })

const driver = {
  dialect: 'postgres',
  async read(request: ReadRequest) {
    calls.push({ kind: 'read', request })
    return ok({ columns: [{ name: 'x', type: 'integer' }], rows: [[1]], rowCount: 1, truncated: false, truncatedBy: null, bytes: 3 })
  },
  async explain(request: ReadRequest) {
    calls.push({ kind: 'explain', request })
    return explainAnswer()
  },
  lookupFunctions: async () => ok([]),
  lookupOperators: async () => ok([]),
  lookupRelations: async (names: readonly unknown[]) => ok(names.map(() => null)),
  lookupTypes: async (names: readonly unknown[]) => ok(names.map(() => null)),
} as unknown as SourceDriver

const LIMITS: LimitsConfig = { maxRows: 500, maxBytes: 524288, statementTimeoutMs: 30_000, lockTimeoutMs: 5_000, maxSqlLength: 20_000, maxSqlDepth: 100 }
let deps: (limits: Partial<LimitsConfig>) => PipelineDeps

before(async () => {
  await loadPostgresParser()
  const source = { name: 'main', kind: 'postgres' as const, driver, catalogCache: new CatalogCache(), searchPath: ['public'], allowFunctions: [] }
  deps = (limits) => ({
    sources: { defaultSource: 'main', get: (n) => (n === 'main' ? source : undefined), names: () => ['main'], close: async () => {} },
    limits: { ...LIMITS, ...limits },
    logger: silentLogger(),
    analysisCache: new AnalysisCache(),
    policy: allowAllPolicy(),
  })
})

async function call(limits: Partial<LimitsConfig>, args: unknown, name = 'query') {
  calls.length = 0
  return runToolCall(deps(limits), { name, args, ctx: createRequestContext({ principal: LOCAL_PRINCIPAL, transport: 'stdio' }) })
}

test('under the ceiling: EXPLAIN first, with the same statement, parameters and identity, then the read', async () => {
  explainAnswer = async () => planResult([{ Plan: { 'Node Type': 'Result', 'Total Cost': 0.01 } }])
  const r = await call({ maxCost: 10 }, { sql: 'SELECT $1::int', params: [7] })
  assert.equal(r.ok, true)
  assert.deepEqual(calls.map((c) => c.kind), ['explain', 'read'])
  const [explain, read] = calls
  assert.equal(explain?.request.sql, read?.request.sql)
  assert.deepEqual(explain?.request.params, [7])
  assert.deepEqual(explain?.request.limits.identity, read?.request.limits.identity)
  assert.equal(explain?.request.limits.maxRows, 1)
  // The read gets what is left of the statement timeout after the estimate.
  assert.ok((read?.request.limits.statementTimeoutMs ?? Infinity) <= 30_000)
})

test('over the ceiling: ERR_QUOTA_COST with the estimate and the ceiling, and nothing is read', async () => {
  explainAnswer = async () => planResult([{ Plan: { 'Total Cost': 1234.5 } }])
  const r = await call({ maxCost: 1000 }, { sql: 'SELECT 1' })
  assert.equal(!r.ok && r.code, 'ERR_QUOTA_COST')
  assert.deepEqual(!r.ok && r.data, { estimatedCost: 1234.5, maxCost: 1000 })
  assert.deepEqual(calls.map((c) => c.kind), ['explain'])
})

test('fail closed: an EXPLAIN failure is the call’s refusal (its stable code), and nothing is read', async () => {
  for (const code of ['ERR_EXEC_TIMEOUT', 'ERR_SOURCE_UNAVAILABLE', 'ERR_EXEC_PERMISSION_DENIED'] as const) {
    explainAnswer = async () => fail(code)
    const r = await call({ maxCost: 1000 }, { sql: 'SELECT 1' })
    assert.equal(!r.ok && r.code, code)
    assert.deepEqual(calls.map((c) => c.kind), ['explain'])
  }
})

test('fail closed: a plan without a readable total cost, or a truncated one, is refused with ERR_INTERNAL', async () => {
  for (const plan of [null, [], [{}], [{ Plan: {} }], [{ Plan: { 'Total Cost': 'NaN' } }], [{ Plan: { 'Total Cost': -1 } }], { Plan: { 'Total Cost': 1 } }]) {
    explainAnswer = async () => planResult(plan)
    const r = await call({ maxCost: 1000 }, { sql: 'SELECT 1' })
    assert.equal(!r.ok && r.code, 'ERR_INTERNAL', JSON.stringify(plan))
    assert.equal(!r.ok && r.subject, 'cost_estimate_unreadable')
    assert.deepEqual(calls.map((c) => c.kind), ['explain'])
  }
  explainAnswer = async () => planResult(null, true)
  const truncated = await call({ maxCost: 1000 }, { sql: 'SELECT 1' })
  assert.equal(!truncated.ok && truncated.code, 'ERR_INTERNAL')
})

test('an EXPLAIN that throws is ERR_INTERNAL, never a read', async () => {
  explainAnswer = async () => {
    throw new Error('boom')
  }
  const r = await call({ maxCost: 1000 }, { sql: 'SELECT 1' })
  assert.equal(!r.ok && r.code, 'ERR_INTERNAL')
  assert.deepEqual(calls.map((c) => c.kind), ['explain'])
})

test('no ceiling, costCheck off, the explain tool, and EXPLAIN or SHOW through query: no cost round trip', async () => {
  explainAnswer = async () => planResult([{ Plan: { 'Total Cost': 1e9 } }])
  assert.equal((await call({}, { sql: 'SELECT 1' })).ok, true)
  assert.deepEqual(calls.map((c) => c.kind), ['read'])
  assert.equal((await call({ maxCost: 1, costCheck: 'off' }, { sql: 'SELECT 1' })).ok, true)
  assert.deepEqual(calls.map((c) => c.kind), ['read'])
  assert.equal((await call({ maxCost: 1 }, { sql: 'SELECT 1' }, 'explain')).ok, true)
  assert.deepEqual(calls.map((c) => c.kind), ['explain'], 'the explain tool’s own EXPLAIN only')
  assert.equal((await call({ maxCost: 1 }, { sql: 'EXPLAIN SELECT 1' })).ok, true)
  assert.deepEqual(calls.map((c) => c.kind), ['read'])
})

test('costCeiling: the strictest of the config and the grant; off wins; none is null', () => {
  assert.equal(costCeiling({}, {}), null)
  assert.equal(costCeiling({ maxCost: 10 }, {}), 10)
  assert.equal(costCeiling({}, { maxCost: 5 }), 5)
  assert.equal(costCeiling({ maxCost: 10 }, { maxCost: 50 }), 10)
  assert.equal(costCeiling({ maxCost: 10, costCheck: 'on' }, { maxCost: 5 }), 5)
  assert.equal(costCeiling({ maxCost: 10, costCheck: 'off' }, { maxCost: 5 }), null)
})

test('totalCostOf reads the top plan node only', () => {
  assert.equal(totalCostOf([{ Plan: { 'Total Cost': 42.5, Plans: [{ 'Total Cost': 1 }] } }]), 42.5)
  assert.equal(totalCostOf([{ Plan: { 'Total Cost': 0 } }]), 0)
  assert.equal(totalCostOf('[{"Plan":{"Total Cost":1}}]'), null)
})

test('config and policy: maxCost is a positive finite number, costCheck on|off; anything else stops the start', async () => {
  const { configSchema } = await import('../../../src/config/config-schema.js')
  const { sourceGrantSchema } = await import('../../../src/policy/policy-schema.js')
  const limits = (l: Record<string, unknown>) => configSchema.safeParse({ sources: { a: { kind: 'embedded' } }, limits: l }).success
  assert.equal(limits({ maxCost: 1000.5, costCheck: 'on' }), true)
  assert.equal(limits({ costCheck: 'off' }), true)
  for (const bad of [{ maxCost: 0 }, { maxCost: -1 }, { maxCost: '100' }, { maxCost: Infinity }, { costCheck: true }, { costCheck: 'maybe' }, { maxcost: 1 }]) {
    assert.equal(limits(bad), false, JSON.stringify(bad))
  }
  assert.equal(sourceGrantSchema.safeParse({ maxCost: 50 }).success, true)
  assert.equal(sourceGrantSchema.safeParse({ maxCost: 0 }).success, false)
  assert.equal(sourceGrantSchema.safeParse({ limits: { maxCost: 50 } }).success, false, 'maxCost sits on the grant, not under limits')
})
