/**
 * What the cost ceiling (D25) costs per call: the same point lookup by primary key on the 1M-row
 * bench table, run through the real pipeline (runToolCall, in-process, real PostgreSQL driver, the
 * least-privilege bench role) with a ceiling it passes and without any ceiling, interleaved call by
 * call so both see the same machine. The difference of the medians is the EXPLAIN round trip.
 * Also: how long a refusal takes (a full scan refused by its estimate, nothing executed).
 *
 *   node --import tsx bench/cost-bench.ts [--quick] [--calls N]
 */
import { createPostgresDriver } from '../src/exec/drivers/postgres/postgres-driver.js'
import { silentLogger } from '../src/log/logger.js'
import { runToolCall, type PipelineDeps } from '../src/pipeline/pipeline.js'
import { createPrincipal, createRequestContext } from '../src/pipeline/request-context.js'
import type { SourceHandle } from '../src/pipeline/source-handle.js'
import { allowAllPolicy } from '../src/policy/compile-policy.js'
import { CatalogCache } from '../src/policy/function-policy.js'
import { AnalysisCache } from '../src/sql/analysis-cache.js'
import { loadPostgresParser } from '../src/sql/parser/postgres-parser.js'
import { BENCH_SCHEMA, benchReaderUrl, ensureBenchTable } from './bench-db.js'
import { fmt, percentile, prng } from './bench-stats.js'

const ROWS = 1_000_000
const POINT_SQL = `SELECT id, name, amount, created_at FROM ${BENCH_SCHEMA}.items WHERE id = $1`
const SCAN_SQL = `SELECT id, name FROM ${BENCH_SCHEMA}.items WHERE name LIKE $1`

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}

export async function runCostBench(quick: boolean, log: (s: string) => void, calls = quick ? 1_000 : 5_000): Promise<void> {
  await ensureBenchTable(ROWS, log)
  await loadPostgresParser()
  const driver = createPostgresDriver({
    connectionString: benchReaderUrl(),
    poolSize: 2,
    searchPath: [BENCH_SCHEMA],
    lockTimeoutMs: 2_000,
    logger: silentLogger(),
    cancel: 'protocol',
  })
  const source: SourceHandle = { name: 'bench', kind: 'postgres', driver, catalogCache: new CatalogCache(), searchPath: [BENCH_SCHEMA], allowFunctions: [] }
  const base = {
    sources: { defaultSource: 'bench', get: (n: string) => (n === 'bench' ? source : undefined), names: () => ['bench'], close: () => driver.close() },
    logger: silentLogger(),
    analysisCache: new AnalysisCache(),
    policy: allowAllPolicy(),
  }
  const limits = { maxRows: 500, maxBytes: 524_288, statementTimeoutMs: 30_000, lockTimeoutMs: 5_000, maxSqlLength: 20_000, maxSqlDepth: 100 }
  const without: PipelineDeps = { ...base, limits }
  // A point lookup costs about 8.5 (index scan); the ceiling is far above it and far below a scan.
  const withCheck: PipelineDeps = { ...base, limits: { ...limits, maxCost: 10_000 } }
  const principal = createPrincipal('bench', ['default'])
  const rand = prng(7)
  const nextId = () => 1 + Math.floor(rand() * ROWS)

  const timed = async (deps: PipelineDeps, sql: string, params: (string | number)[], expect: string | null): Promise<number> => {
    const t0 = performance.now()
    const r = await runToolCall(deps, { name: 'query', args: { sql, params }, ctx: createRequestContext({ principal, transport: 'stdio' }) })
    const us = (performance.now() - t0) * 1000
    const code = r.ok ? null : r.code
    if (code !== expect) throw new Error(`bench call: expected ${expect ?? 'ok'}, got ${code ?? 'ok'}`)
    return us
  }

  for (let i = 0; i < 300; i += 1) {
    await timed(without, POINT_SQL, [nextId()], null)
    await timed(withCheck, POINT_SQL, [nextId()], null)
  }
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < calls; i += 1) {
    // Alternate which goes first, so neither always follows the other.
    if (i % 2 === 0) {
      a.push(await timed(without, POINT_SQL, [nextId()], null))
      b.push(await timed(withCheck, POINT_SQL, [nextId()], null))
    } else {
      b.push(await timed(withCheck, POINT_SQL, [nextId()], null))
      a.push(await timed(without, POINT_SQL, [nextId()], null))
    }
  }
  const refusals: number[] = []
  for (let i = 0; i < (quick ? 100 : 500); i += 1) refusals.push(await timed(withCheck, SCAN_SQL, ['%x%'], 'ERR_QUOTA_COST'))
  await driver.close()

  const a50 = percentile(a, 50)
  const b50 = percentile(b, 50)
  const a99 = percentile(a, 99)
  const b99 = percentile(b, 99)
  log(`cost ceiling, point lookup by primary key through the pipeline, concurrency 1 (${calls} interleaved calls each):`)
  log(`  without a ceiling p50 ${fmt(a50, 0)} µs  p99 ${fmt(a99, 0)} µs`)
  log(`  with maxCost       p50 ${fmt(b50, 0)} µs  p99 ${fmt(b99, 0)} µs`)
  log(`  the check adds ${fmt(b50 - a50, 0)} µs p50 (${fmt(b50 / a50)}×), ${fmt(b99 - a99, 0)} µs p99`)
  log(`  a refused full scan (estimate only, nothing executed): p50 ${fmt(percentile(refusals, 50), 0)} µs  p99 ${fmt(percentile(refusals, 99), 0)} µs`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const calls = option('--calls')
  runCostBench(process.argv.includes('--quick'), (s) => process.stdout.write(`${s}\n`), calls === undefined ? undefined : Number(calls)).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  })
}
