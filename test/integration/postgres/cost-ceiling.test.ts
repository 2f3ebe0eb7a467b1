/**
 * The cost ceiling per query (issue 5, D25, I16) against a real PostgreSQL, through the real
 * pipeline: the estimate is PostgreSQL's own EXPLAIN total cost for the role's plan (row-level
 * security quals included), the boundary is exact (equal passes, a cent over is refused), the
 * strictest of the config default and the role's ceiling applies, `costCheck: off` skips it, the
 * refusal carries the estimate, and a refused query is never executed.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { LimitsConfig } from '../../../src/config/config-schema.js'
import { createPostgresDriver } from '../../../src/exec/drivers/postgres/postgres-driver.js'
import type { SourceDriver } from '../../../src/exec/drivers/driver.js'
import { silentLogger } from '../../../src/log/logger.js'
import { runToolCall, type CallOutcome, type PipelineDeps } from '../../../src/pipeline/pipeline.js'
import { createPrincipal, createRequestContext, type Principal } from '../../../src/pipeline/request-context.js'
import type { SourceHandle } from '../../../src/pipeline/source-handle.js'
import { compilePolicy } from '../../../src/policy/compile-policy.js'
import { CatalogCache } from '../../../src/policy/function-policy.js'
import { policySchema } from '../../../src/policy/policy-schema.js'
import { AnalysisCache } from '../../../src/sql/analysis-cache.js'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'
import { requirePostgres, uniqueName, withAdmin } from '../../helpers/postgres-env.js'
import { eventually } from './postgres-fixture.js'

const BASE_LIMITS: LimitsConfig = {
  maxRows: 500,
  maxBytes: 512 * 1024,
  statementTimeoutMs: 5_000,
  lockTimeoutMs: 1_000,
  maxSqlLength: 20_000,
  maxSqlDepth: 100,
}

describe('cost ceiling per query (real PostgreSQL, real pipeline)', () => {
  const schema = uniqueName('sw_cost')
  const reader = `${schema}_reader`
  const noSelect = `${schema}_nosel`
  let url: string
  let driver: SourceDriver
  let source: SourceHandle
  /** EXPLAIN's own total cost of each statement, as the reader role (admin connection). */
  let bigCost: number
  let smallCost: number
  let docsCostAsReader: number
  let docsCostAsOwner: number

  const BIG = `SELECT id, note FROM ${schema}.big`
  const SMALL = `SELECT id FROM ${schema}.small`
  const DOCS = `SELECT id FROM ${schema}.docs`

  async function explainAs(role: string | null, sql: string, principal = ''): Promise<number> {
    return withAdmin(url, async (c) => {
      await c.query('BEGIN READ ONLY')
      try {
        if (role !== null) await c.query(`SET LOCAL ROLE ${role}`)
        await c.query(`SELECT set_config('sqlwarden.principal', $1, true)`, [principal])
        const r = await c.query<{ 'QUERY PLAN': [{ Plan: { 'Total Cost': number } }] }>(`EXPLAIN (FORMAT JSON) ${sql}`)
        const cost = r.rows[0]?.['QUERY PLAN'][0].Plan['Total Cost']
        assert.equal(typeof cost, 'number')
        return cost as number
      } finally {
        await c.query('ROLLBACK')
      }
    })
  }

  before(async () => {
    url = await requirePostgres()
    await loadPostgresParser()
    await withAdmin(url, async (a) => {
      await a.query(`CREATE SCHEMA ${schema}`)
      await a.query(`CREATE TABLE ${schema}.big (id int PRIMARY KEY, note text NOT NULL)`)
      await a.query(`INSERT INTO ${schema}.big SELECT g, 'note ' || g FROM generate_series(1, 20000) g`)
      await a.query(`CREATE TABLE ${schema}.scanme (id int, note text)`)
      await a.query(`INSERT INTO ${schema}.scanme SELECT g, 'n' || g FROM generate_series(1, 5000) g`)
      await a.query(`CREATE TABLE ${schema}.small (id int PRIMARY KEY)`)
      await a.query(`INSERT INTO ${schema}.small SELECT generate_series(1, 10)`)
      await a.query(`CREATE TABLE ${schema}.docs (id int, owner text)`)
      await a.query(`INSERT INTO ${schema}.docs SELECT g, CASE WHEN g % 2 = 0 THEN 'alice' ELSE 'bob' END FROM generate_series(1, 5000) g`)
      await a.query(`ALTER TABLE ${schema}.docs ENABLE ROW LEVEL SECURITY`)
      await a.query(`CREATE POLICY by_owner ON ${schema}.docs USING (owner = current_setting('sqlwarden.principal', true))`)
      // Known row estimates: the planner's numbers come from these statistics.
      await a.query(`ANALYZE ${schema}.big, ${schema}.small, ${schema}.docs, ${schema}.scanme`)
      await a.query(`CREATE ROLE ${reader} NOLOGIN NOSUPERUSER NOBYPASSRLS`)
      await a.query(`CREATE ROLE ${noSelect} NOLOGIN NOSUPERUSER NOBYPASSRLS`)
      await a.query(`GRANT USAGE ON SCHEMA ${schema} TO ${reader}, ${noSelect}`)
      await a.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${reader}`)
    })
    driver = createPostgresDriver({
      connectionString: url,
      poolSize: 2,
      searchPath: ['public'],
      lockTimeoutMs: 1_000,
      logger: silentLogger(),
      cancel: 'protocol',
      applicationName: uniqueName('swcost'),
    })
    source = { name: 'shop', kind: 'postgres', driver, catalogCache: new CatalogCache(), searchPath: ['public'], allowFunctions: [] }
    bigCost = await explainAs(reader, BIG)
    smallCost = await explainAs(reader, SMALL)
    docsCostAsReader = await explainAs(reader, DOCS, 'alice')
    docsCostAsOwner = await explainAs(null, DOCS, 'alice')
    assert.ok(bigCost > 100 * smallCost, `big ${bigCost} vs small ${smallCost}: the table sizes must make a clear difference`)
  })

  after(async () => {
    await driver.close()
    await withAdmin(url, async (a) => {
      await a.query(`DROP SCHEMA ${schema} CASCADE`)
      await a.query(`DROP ROLE ${reader}`)
      await a.query(`DROP ROLE ${noSelect}`)
    })
  })

  /** A pipeline over the real driver, with these config limits and per-role ceilings. */
  function pipeline(limits: Partial<LimitsConfig>, roles: Record<string, { maxCost?: number; dbRole?: string }> = {}, from = source): PipelineDeps {
    const policy = compilePolicy(
      policySchema.parse({
        version: 1,
        roles: Object.fromEntries(
          Object.entries({ analyst: {}, ...roles }).map(([role, g]) => [role, { sources: { shop: { dbRole: reader, ...g } } }]),
        ),
      }),
    )
    return {
      sources: { defaultSource: 'shop', get: (n) => (n === 'shop' ? from : undefined), names: () => ['shop'], close: async () => undefined },
      limits: { ...BASE_LIMITS, ...limits },
      logger: silentLogger(),
      analysisCache: new AnalysisCache(),
      policy,
    }
  }

  const principal = (roles: string[], id = 'alice'): Principal => createPrincipal(id, roles)
  const call = (deps: PipelineDeps, sql: string, who: Principal = principal(['analyst']), params: (string | number)[] = [], tool = 'query') =>
    runToolCall(deps, { name: tool, args: { sql, ...(params.length ? { params } : {}) }, ctx: createRequestContext({ principal: who, transport: 'stdio' }) })

  function refusedForCost(outcome: CallOutcome, estimatedCost: number, maxCost: number): void {
    assert.equal(outcome.ok, false, 'expected a refusal')
    if (outcome.ok) return
    assert.equal(outcome.code, 'ERR_QUOTA_COST')
    assert.deepEqual(outcome.data, { estimatedCost, maxCost })
  }

  function rowsOf(outcome: CallOutcome): number {
    if (!outcome.ok) assert.fail(`expected rows, got ${outcome.code} (${outcome.subject ?? ''})`)
    return (outcome.output as { row_count: number }).row_count
  }

  test('exact boundary on the config default: a ceiling equal to EXPLAIN’s total cost runs, a cent below refuses with the estimate', async () => {
    assert.equal(rowsOf(await call(pipeline({ maxCost: bigCost }), BIG)), 500)
    refusedForCost(await call(pipeline({ maxCost: bigCost - 0.01 }), BIG), bigCost, bigCost - 0.01)
    // The small table is far under the same ceiling.
    assert.equal(rowsOf(await call(pipeline({ maxCost: bigCost - 0.01 }), SMALL)), 10)
  })

  test('exact boundary on the role’s ceiling, and the strictest of role and default applies either way', async () => {
    assert.equal(rowsOf(await call(pipeline({}, { analyst: { maxCost: bigCost } }), BIG)), 500)
    refusedForCost(await call(pipeline({}, { analyst: { maxCost: bigCost - 0.01 } }), BIG), bigCost, bigCost - 0.01)
    // Role lower than the default: the role's ceiling.
    refusedForCost(await call(pipeline({ maxCost: bigCost * 10 }, { analyst: { maxCost: smallCost } }), BIG), bigCost, smallCost)
    // Default lower than the role: the default (a role cannot raise it).
    refusedForCost(await call(pipeline({ maxCost: smallCost }, { analyst: { maxCost: bigCost * 10 } }), BIG), bigCost, smallCost)
    // A role without a ceiling gets the default.
    refusedForCost(await call(pipeline({ maxCost: smallCost }), BIG), bigCost, smallCost)
    assert.equal(rowsOf(await call(pipeline({ maxCost: smallCost }), SMALL)), 10)
  })

  test('several granting roles: the strictest ceiling of all of them', async () => {
    const deps = pipeline({}, { wide: { maxCost: bigCost * 10 }, narrow: { maxCost: smallCost } })
    refusedForCost(await call(deps, BIG, principal(['wide', 'narrow'])), bigCost, smallCost)
    assert.equal(rowsOf(await call(deps, BIG, principal(['wide']))), 500)
  })

  test('costCheck: off skips the check even with ceilings set; no ceiling means no check', async () => {
    assert.equal(rowsOf(await call(pipeline({ maxCost: smallCost, costCheck: 'off' }, { analyst: { maxCost: smallCost } }), BIG)), 500)
    assert.equal(rowsOf(await call(pipeline({ costCheck: 'on' }), BIG)), 500)
    refusedForCost(await call(pipeline({ maxCost: smallCost, costCheck: 'on' }), BIG), bigCost, smallCost)
  })

  test('parameters reach the estimate: an indexed point lookup is cheap, the same shape as a range is not', async () => {
    const deps = pipeline({ maxCost: 50 })
    const point = await call(deps, `SELECT note FROM ${schema}.big WHERE id = $1`, undefined, [42])
    assert.equal(rowsOf(point), 1)
    const range = await call(deps, `SELECT note FROM ${schema}.big WHERE id > $1`, undefined, [0])
    assert.equal(range.ok, false)
    assert.equal(!range.ok && range.code, 'ERR_QUOTA_COST')
  })

  test('the estimate is the role’s plan: row-level security quals are costed, as EXPLAIN shows for that role and principal', async () => {
    assert.notEqual(docsCostAsReader, docsCostAsOwner, 'the RLS filter changes the plan’s cost')
    refusedForCost(await call(pipeline({ maxCost: 1 }), DOCS), docsCostAsReader, 1)
    assert.ok(rowsOf(await call(pipeline({ maxCost: docsCostAsReader }), DOCS)) > 0)
  })

  test('a refused query is never executed: a runtime error it would raise does not happen', async () => {
    // 1 / (id - id) divides by zero on the first row it executes; planning alone never evaluates it.
    const sql = `SELECT 1 / (id - id) FROM ${schema}.big`
    const refused = await call(pipeline({ maxCost: smallCost }), sql)
    assert.equal(!refused.ok && refused.code, 'ERR_QUOTA_COST')
    const executed = await call(pipeline({ maxCost: bigCost * 10 }), sql)
    assert.equal(executed.ok, false)
    assert.notEqual(!executed.ok && executed.code, 'ERR_QUOTA_COST', 'under the ceiling it executes and fails at run time')
  })

  test('a refused query is never executed: the sequential-scan counter counts exactly the one run that was allowed', async () => {
    // A table no other test touches, and a pool of one: every call of this test is on one backend,
    // whose pending statistics are flushed together, so the count after the allowed run includes
    // any scan the refused calls would have made.
    const single = createPostgresDriver({ connectionString: url, poolSize: 1, searchPath: ['public'], lockTimeoutMs: 1_000, logger: silentLogger(), cancel: 'protocol' })
    const one: SourceHandle = { ...source, driver: single, catalogCache: new CatalogCache() }
    const seqScans = () =>
      withAdmin(url, async (c) => {
        await c.query('SELECT pg_stat_clear_snapshot()')
        const r = await c.query<{ n: string }>(`SELECT seq_scan::text AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'scanme'`, [schema])
        return Number(r.rows[0]?.n ?? -1)
      })
    try {
      const sql = `SELECT count(note) FROM ${schema}.scanme`
      const cost = await explainAs(reader, sql)
      assert.equal(await seqScans(), 0)
      const low = pipeline({ maxCost: cost - 0.01 }, {}, one)
      for (let i = 0; i < 3; i += 1) refusedForCost(await call(low, sql), cost, cost - 0.01)
      // The explain tool plans without running and is not cost-checked.
      assert.equal((await call(low, sql, undefined, [], 'explain')).ok, true)
      // The positive control: the same statement at a ceiling equal to its cost runs once.
      assert.equal((await call(pipeline({ maxCost: cost }, {}, one), sql)).ok, true)
      assert.equal(await eventually(async () => (await seqScans()) > 0, 15_000, 250), true, 'the run is counted')
      assert.equal(await seqScans(), 1, 'one scan: the allowed run, none for the three refusals')
    } finally {
      await single.close()
    }
  })

  test('fail closed: an estimate that cannot be obtained refuses with a stable code and runs nothing', async () => {
    const deps = pipeline({ maxCost: bigCost * 10 }, { locked: { dbRole: noSelect } })
    const r = await call(deps, BIG, principal(['locked']))
    assert.equal(r.ok, false)
    assert.equal(!r.ok && r.code, 'ERR_EXEC_PERMISSION_DENIED')
  })

  test('EXPLAIN and SHOW through query are not costed (they do not run a plan over data)', async () => {
    const deps = pipeline({ maxCost: 0.001 })
    assert.equal((await call(deps, `EXPLAIN ${BIG}`)).ok, true)
    assert.equal((await call(deps, 'SHOW search_path')).ok, true)
    // A bare SELECT is a Result node costing 0.01: over this ceiling.
    refusedForCost(await call(deps, 'SELECT 1'), 0.01, 0.001)
  })
})
