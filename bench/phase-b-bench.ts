/**
 * Policy phase B cost per call: the same call decided by the real pipeline (explainToolCall: every
 * stage up to execution, catalog caches warm) under a 20-table policy with a masked column, and
 * under a policy without phase B rules, interleaved. The difference of the medians is what phase B
 * adds (relation resolution from the cache, the checks, the cached column projection).
 *
 *   node --import tsx bench/phase-b-bench.ts [--quick]      (also: npm run bench -- --only phase-b)
 */
import pg from 'pg'
import { createPostgresDriver } from '../src/exec/drivers/postgres/postgres-driver.js'
import { silentLogger } from '../src/log/logger.js'
import { explainToolCall, type PipelineDeps } from '../src/pipeline/pipeline.js'
import { createPrincipal, createRequestContext } from '../src/pipeline/request-context.js'
import type { SourceHandle } from '../src/pipeline/source-handle.js'
import { compilePolicy } from '../src/policy/compile-policy.js'
import { CatalogCache } from '../src/policy/function-policy.js'
import { policySchema } from '../src/policy/policy-schema.js'
import { AnalysisCache } from '../src/sql/analysis-cache.js'
import { loadPostgresParser } from '../src/sql/parser/postgres-parser.js'
import { ADMIN_URL } from './bench-db.js'
import { fmt, percentile } from './bench-stats.js'

const SCHEMA = 'sw_bench_policy'
const TABLES = Array.from({ length: 20 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`)
const SQL = `SELECT a.id, a.name, b.note, c.email FROM t01 a JOIN t02 b ON b.id = a.id JOIN t03 c ON c.id = a.id WHERE a.id = $1`

async function ensureSchema(): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [SCHEMA])
    if (exists.rowCount === 0) {
      await client.query(`CREATE SCHEMA ${SCHEMA}`)
      for (const t of TABLES) await client.query(`CREATE TABLE ${SCHEMA}.${t} (id int PRIMARY KEY, name text, note text, email text)`)
    }
  } finally {
    await client.end()
  }
}

export async function runPhaseBBench(quick: boolean, log: (s: string) => void): Promise<void> {
  await ensureSchema()
  await loadPostgresParser()
  const driver = createPostgresDriver({ connectionString: ADMIN_URL, poolSize: 2, searchPath: [SCHEMA], lockTimeoutMs: 2_000, logger: silentLogger(), cancel: 'protocol' })
  const source: SourceHandle = { name: 'bench', kind: 'postgres', driver, catalogCache: new CatalogCache(), searchPath: [SCHEMA], allowFunctions: [] }
  const policy = compilePolicy(
    policySchema.parse({
      version: 1,
      roles: {
        restricted: {
          sources: {
            bench: {
              tables: { allow: TABLES.map((t) => `${SCHEMA}.${t}`) },
              columns: { [`${SCHEMA}.t05`]: { deny: ['email'] } },
              masks: { [`${SCHEMA}.t03`]: { email: 'hash' } },
            },
          },
        },
        open: { sources: { bench: {} } },
      },
    }),
  )
  const deps: PipelineDeps = {
    sources: { defaultSource: 'bench', get: (n) => (n === 'bench' ? source : undefined), names: () => ['bench'], close: () => driver.close() },
    limits: { maxRows: 500, maxBytes: 524_288, statementTimeoutMs: 30_000, lockTimeoutMs: 5_000, maxSqlLength: 100_000, maxSqlDepth: 1_000 },
    logger: silentLogger(),
    analysisCache: new AnalysisCache(),
    policy,
  }
  const restricted = createPrincipal('r', ['restricted'])
  const open = createPrincipal('o', ['open'])
  const decide = async (principal: ReturnType<typeof createPrincipal>) => {
    const t0 = performance.now()
    const r = await explainToolCall(deps, { name: 'query', args: { sql: SQL, params: [1] }, ctx: createRequestContext({ principal, transport: 'stdio' }) })
    const us = (performance.now() - t0) * 1000
    if (!r.ok) throw new Error(`bench call refused: ${r.code}`)
    return us
  }
  const rounds = quick ? 2_000 : 20_000
  for (let i = 0; i < 500; i += 1) {
    await decide(restricted)
    await decide(open)
  }
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < rounds; i += 1) {
    a.push(await decide(restricted))
    b.push(await decide(open))
  }
  await driver.close()
  const pa = percentile(a, 50)
  const pb = percentile(b, 50)
  log(`policy phase B (${rounds} interleaved decisions each, 20-table policy with a mask and a denied column, 3-table join):`)
  log(`  without phase B rules p50 ${fmt(pb)} µs; with them p50 ${fmt(pa)} µs (p99 ${fmt(percentile(a, 99))} µs)`)
  log(`  phase B adds ${fmt(pa - pb)} µs p50   (target ≤ 30 µs)`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runPhaseBBench(process.argv.includes('--quick'), (s) => process.stdout.write(`${s}\n`)).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  })
}
