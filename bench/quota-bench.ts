/**
 * Per-call cost of the quota stage (QuotaEngine.admit + release): calls, a tool bucket, concurrency
 * and a rows budget, against the memory store, a Redis on loopback (SQLWARDEN_BENCH_REDIS_URL,
 * default redis://127.0.0.1:6379) and a PostgreSQL on loopback (SQLWARDEN_BENCH_PG_URL, default
 * postgres://postgres@127.0.0.1:5432/test). With a shared store, concurrency is a lease taken and
 * given back in the store (two more round trips). Prints p50/p99 of each, minus a baseline measured in the same run
 * (an awaited no-op). Goals: memory ≤ 50 µs p50, Redis ≤ 1 ms p50.
 *
 *   node --import tsx bench/quota-bench.ts
 */
import { createPrincipal } from '../src/pipeline/request-context.js'
import { MemoryQuotaStore } from '../src/quota/memory-store.js'
import { QuotaEngine } from '../src/quota/quota-engine.js'
import { quotasSchema } from '../src/quota/quota-schema.js'
import type { QuotaStore } from '../src/quota/quota-store.js'

const N = Number(process.env.QUOTA_BENCH_N ?? 20_000)
const defaults = quotasSchema.parse({ calls: { limit: 1_000_000, window: '1s' }, concurrency: 64 })
const grant = quotasSchema.parse({ tools: { query: { limit: 1_000_000, window: '1s' } } })
const budgetGrant = quotasSchema.parse({ rows: { limit: 1_000_000_000, window: '1h' } })

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

async function measure(label: string, n: number, fn: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(2_000, n); i++) await fn()
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await fn()
    times.push((performance.now() - t0) * 1000)
  }
  times.sort((a, b) => a - b)
  const r = { p50: pct(times, 50), p99: pct(times, 99) }
  console.log(`${label.padEnd(44)} p50 ${r.p50.toFixed(1).padStart(7)} µs   p99 ${r.p99.toFixed(1).padStart(7)} µs`)
  return r
}

async function admitOnce(engine: QuotaEngine, quotas: (typeof grant)[], i: number): Promise<void> {
  const principal = principals[i % principals.length] ?? principals[0]!
  const a = await engine.admit({ principal, source: 'main', tool: 'query', grantQuotas: quotas })
  if (!a.ok) throw new Error(`refused: ${a.code}`)
  await a.value.release()
}
const principals = Array.from({ length: 100 }, (_, i) => createPrincipal(`p${i}`, ['analyst']))

async function benchStore(name: string, store: QuotaStore, n: number, baseline: number, goalUs: number): Promise<boolean> {
  const engine = new QuotaEngine({ store, defaults })
  let i = 0
  const rate = await measure(`${name}: calls + tool bucket + concurrency`, n, () => admitOnce(engine, [grant], i++))
  let j = 0
  await measure(`${name}: … + rows budget (check; no charge)`, n, () => admitOnce(engine, [grant, budgetGrant], j++))
  await engine.close()
  const overhead = rate.p50 - baseline
  console.log(`${name}: quota overhead p50 ${overhead.toFixed(1)} µs (goal ≤ ${goalUs} µs) ${overhead <= goalUs ? 'OK' : 'OVER'}`)
  return overhead <= goalUs
}

const base = await measure('baseline: awaited no-op', N, () => Promise.resolve())
await benchStore('memory', new MemoryQuotaStore(), N, base.p50, 50)
try {
  const { RedisQuotaStore } = await import('../src/quota/redis-store.js')
  const store = new RedisQuotaStore({ url: process.env.SQLWARDEN_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: `swbench-${process.pid}` })
  await new Promise((r) => setTimeout(r, 200))
  await benchStore('redis', store, Math.min(N, 5_000), base.p50, 1_000)
} catch (error) {
  console.log(`redis: skipped (${(error as Error).message})`)
}
try {
  const { PostgresQuotaStore } = await import('../src/quota/postgres-store.js')
  const table = `swbench_${process.pid}`
  const store = new PostgresQuotaStore({ url: process.env.SQLWARDEN_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test', table })
  await benchStore('postgres', store, Math.min(N, 3_000), base.p50, 1_000)
  const pg = (await import('pg')).default
  const admin = new pg.Client({ connectionString: process.env.SQLWARDEN_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' })
  await admin.connect()
  await admin.query(`DROP TABLE IF EXISTS "${table}_bucket", "${table}_window", "${table}_lease"; DROP FUNCTION IF EXISTS "${table}_acquire", "${table}_take"`)
  await admin.end()
} catch (error) {
  console.log(`postgres: skipped (${(error as Error).message})`)
}
