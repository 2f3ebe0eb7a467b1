/**
 * The security corpus against a real PostgreSQL, connected AS A SUPERUSER (the worst case: every
 * privilege check inside the database passes), through the real pipeline. Each must-refuse case is
 * refused with its code, and after each one the test asserts that the side effect did NOT happen:
 * canary rows, the canary sequence, tables, settings, advisory locks, notifications, large objects,
 * files, a victim backend, and the statistics reset time. Must-allow cases must run and succeed.
 * Under CI=true a missing PostgreSQL fails this test.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, rmSync } from 'node:fs'
import pg from 'pg'
import { createPostgresDriver } from '../../src/exec/drivers/postgres/postgres-driver.js'
import { silentLogger } from '../../src/log/logger.js'
import { runToolCall, type PipelineDeps } from '../../src/pipeline/pipeline.js'
import { createRequestContext, LOCAL_PRINCIPAL } from '../../src/pipeline/request-context.js'
import type { SourceHandle } from '../../src/pipeline/source-handle.js'
import { allowAllPolicy } from '../../src/policy/compile-policy.js'
import { CatalogCache } from '../../src/policy/function-policy.js'
import { AnalysisCache } from '../../src/sql/analysis-cache.js'
import { loadPostgresParser } from '../../src/sql/parser/postgres-parser.js'
import { requirePostgres } from '../helpers/postgres-env.js'
import { loadPostgresCorpus } from './load-postgres-corpus.js'
import { CANARY_FILES, corpusDatabaseUrl, setupCorpusDatabase } from './corpus-database.js'

const cases = loadPostgresCorpus()
let deps: PipelineDeps
let admin: pg.Client
let listener: pg.Client
let victim: pg.Client
let victimPid = 0
const notifications: string[] = []

before(async () => {
  const baseUrl = await requirePostgres()
  await loadPostgresParser()
  const url = await setupCorpusDatabase(baseUrl)
  admin = new pg.Client({ connectionString: url })
  listener = new pg.Client({ connectionString: url })
  victim = new pg.Client({ connectionString: url })
  await Promise.all([admin.connect(), listener.connect(), victim.connect()])
  victimPid = (await victim.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
  listener.on('notification', (n) => notifications.push(n.channel))
  for (const channel of ['canary', 'sqlwarden', 'x', 'ch', 'test', 'evil', 'audit']) await listener.query(`LISTEN ${channel}`)
  const driver = createPostgresDriver({
    connectionString: corpusDatabaseUrl(baseUrl),
    poolSize: 4,
    searchPath: ['public'],
    lockTimeoutMs: 2_000,
    logger: silentLogger(),
    cancel: 'protocol',
  })
  const source: SourceHandle = {
    name: 'corpus',
    kind: 'postgres',
    driver,
    catalogCache: new CatalogCache(),
    searchPath: ['public'],
    allowFunctions: [],
  }
  deps = {
    sources: { defaultSource: 'corpus', get: (n) => (n === 'corpus' ? source : undefined), names: () => ['corpus'], close: () => driver.close() },
    limits: { maxRows: 50, maxBytes: 256 * 1024, statementTimeoutMs: 5_000, lockTimeoutMs: 2_000, maxSqlLength: 20_000, maxSqlDepth: 100 },
    logger: silentLogger(),
    analysisCache: new AnalysisCache(),
    policy: allowAllPolicy(),
  }
})

after(async () => {
  await deps?.sources.close()
  await Promise.allSettled([admin?.end(), listener?.end(), victim?.end()])
})

/** Everything a refused statement could have changed, read from a separate admin connection. */
async function snapshot(): Promise<Record<string, unknown>> {
  const r = await admin.query(`SELECT
      (SELECT count(*) || ':' || coalesce(sum(hashtext(note)), 0) FROM canary.items) AS items,
      (SELECT count(*) FROM canary.secrets) AS secrets,
      (SELECT last_value || ':' || is_called FROM canary.seq) AS seq,
      (SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('public', 'canary')) AS relations,
      (SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname IN ('public', 'canary')) AS functions,
      (SELECT count(*) FROM pg_largeobject_metadata) AS large_objects,
      (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory') AS advisory_locks,
      (SELECT count(*) FROM pg_stat_activity WHERE pid = $1) AS victim_alive,
      (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database())::text AS stats_reset,
      (SELECT count(*) FROM pg_prepared_xacts) AS prepared_xacts,
      (SELECT setting FROM pg_settings WHERE name = 'work_mem') AS work_mem`, [victimPid])
  return r.rows[0] as Record<string, unknown>
}

async function sessionLeak(): Promise<string | null> {
  // The pipeline's own connections must carry nothing between calls.
  const r = await runToolCall(deps, {
    name: 'query',
    args: { sql: "SELECT current_setting('work_mem') AS w, current_setting('search_path') AS p, current_setting('statement_timeout') AS t, current_user AS u" },
    ctx: createRequestContext({ principal: LOCAL_PRINCIPAL, transport: 'stdio' }),
  })
  if (!r.ok) return `probe failed: ${r.code}`
  const row = (r.output as { rows: unknown[][] }).rows[0]
  const expected = (await admin.query("SELECT current_setting('work_mem') AS w")).rows[0].w
  return row?.[0] === expected && row?.[1] === '"public"' && row?.[3] === 'postgres' ? null : `session state leaked: ${JSON.stringify(row)}`
}

test('the corpus has every class and enough cases', () => {
  assert.ok(cases.length >= 250, `${cases.length} cases`)
  assert.ok(cases.filter((c) => c.expect === 'allow').length >= 100)
})

test('the side-effect snapshot notices real changes (so a clean run means something)', async () => {
  const clean = await snapshot()
  await admin.query('BEGIN')
  try {
    await admin.query("UPDATE canary.items SET note = 'changed' WHERE id = 1")
    await admin.query('CREATE TABLE canary.pwned_probe (id int)')
    await admin.query('SELECT pg_advisory_xact_lock(424242)')
    const dirty = await snapshot()
    assert.notEqual(dirty.items, clean.items)
    assert.notEqual(dirty.relations, clean.relations)
    assert.notEqual(dirty.advisory_locks, clean.advisory_locks)
  } finally {
    await admin.query('ROLLBACK')
  }
  assert.deepEqual(await snapshot(), clean)
})

test('every case through the real pipeline on a superuser connection: refused ones leave no trace, allowed ones run', async (t) => {
  for (const f of CANARY_FILES) rmSync(f, { force: true })
  let before = await snapshot()
  const failures: string[] = []
  for (const c of cases) {
    notifications.length = 0
    const outcome = await runToolCall(deps, {
      name: 'query',
      args: { sql: c.sql, ...(c.params ? { params: [...c.params] } : {}) },
      ctx: createRequestContext({ principal: LOCAL_PRINCIPAL, transport: 'stdio' }),
    })
    const got = outcome.ok ? 'allow' : outcome.code
    if (got !== c.expect) failures.push(`${c.id}: expected ${c.expect}, got ${got}`)
    await new Promise((r) => setImmediate(r))
    const now = await snapshot()
    if (JSON.stringify(now) !== JSON.stringify(before)) {
      failures.push(`${c.id}: SIDE EFFECT ${JSON.stringify(before)} -> ${JSON.stringify(now)}`)
      before = now
    }
    if (notifications.length > 0) failures.push(`${c.id}: SIDE EFFECT notification on ${notifications.join(',')}`)
    for (const f of CANARY_FILES) if (existsSync(f)) failures.push(`${c.id}: SIDE EFFECT file ${f}`)
  }
  const leak = await sessionLeak()
  if (leak) failures.push(leak)
  t.diagnostic(`${cases.length} cases, ${failures.length} failures`)
  assert.deepEqual(failures, [])
})
