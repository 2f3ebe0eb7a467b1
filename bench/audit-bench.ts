/**
 * Audit cost per call: AuditLog.record() on a real JSONL file, at concurrency 1 and 32, for `write`
 * and `fsync` durability, against a point lookup on the 1M-row bench table through pg.Pool measured
 * in the same run (the baseline the issue compares fsync with). Prints p50/p99 and the ratios.
 *
 *   node --import tsx bench/audit-bench.ts [--quick]      (also: npm run bench -- --only audit)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { AuditLog } from '../src/audit/audit-log.js'
import type { CallEvent } from '../src/audit/audit-record.js'
import { JsonlFileSink } from '../src/audit/jsonl-file-sink.js'
import { silentLogger } from '../src/log/logger.js'
import { BENCH_SCHEMA, benchReaderUrl, ensureBenchTable } from './bench-db.js'
import { fmt, percentile } from './bench-stats.js'

const event: CallEvent = {
  request_id: '00000000-0000-4000-8000-000000000000',
  trace_id: null,
  principal: 'alice',
  roles: ['analyst'],
  auth_method: 'api_key',
  client: { name: 'bench', version: '1.0.0' },
  transport: 'http',
  source: 'bench',
  tool: 'query',
  decision: 'allow',
  reason: null,
  stage: 'response',
  statement_class: 'select',
  fingerprint: 'a1b2c3d4e5f60718',
  normalized_sql: `SELECT id, name, amount, created_at FROM ${BENCH_SCHEMA}.items WHERE id = $1`,
  param_count: 1,
  rows: 1,
  bytes: 312,
  truncated: false,
  duration_ms: 0.412,
  error_code: null,
}

async function measure(run: () => Promise<void>, concurrency: number, calls: number): Promise<number[]> {
  const samples: number[] = []
  let next = 0
  const worker = async () => {
    while (next < calls) {
      next += 1
      const t0 = performance.now()
      await run()
      samples.push((performance.now() - t0) * 1000)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return samples
}

export async function runAuditBench(quick: boolean, log: (s: string) => void): Promise<void> {
  const calls = quick ? 2_000 : 20_000
  await ensureBenchTable(1_000_000, () => undefined)
  const pool = new pg.Pool({ connectionString: benchReaderUrl(), max: 32 })
  const lookup = async () => {
    await pool.query(`SELECT id, name, amount, created_at FROM ${BENCH_SCHEMA}.items WHERE id = $1`, [1 + Math.floor(Math.random() * 1_000_000)])
  }
  log(`audit cost per call (AuditLog.record on a JSONL file, ${calls} records per row below):`)
  const baseline: Record<number, number[]> = {}
  for (const concurrency of [1, 32]) baseline[concurrency] = await measure(lookup, concurrency, Math.min(calls, 5_000))
  for (const durability of ['write', 'fsync'] as const) {
    for (const concurrency of [1, 32]) {
      const dir = mkdtempSync(join(tmpdir(), 'sw-audit-bench-'))
      const audit = await AuditLog.open({
        sink: new JsonlFileSink({ file: join(dir, 'audit.jsonl'), durability }),
        key: null,
        durability,
        configHash: 'c'.repeat(64),
        policyHash: 'p'.repeat(64),
        version: 'bench',
        logger: silentLogger(),
      })
      const n = durability === 'fsync' && concurrency === 1 ? Math.min(calls, 2_000) : calls
      await measure(() => audit.record(event).then(() => undefined), concurrency, Math.min(500, n))
      const samples = await measure(() => audit.record(event).then(() => undefined), concurrency, n)
      await audit.close()
      rmSync(dir, { recursive: true, force: true })
      const base = baseline[concurrency] ?? []
      const p50 = percentile(samples, 50)
      log(
        `  ${durability.padEnd(5)} c=${String(concurrency).padEnd(2)}  p50 ${fmt(p50)} µs  p99 ${fmt(percentile(samples, 99))} µs` +
          `   (point lookup p50 ${fmt(percentile(base, 50))} µs; audit/lookup ${(p50 / percentile(base, 50)).toFixed(2)}×)`,
      )
    }
  }
  log('  targets: write p50 ≤ 30 µs; fsync at 32 in flight < 2× the point lookup')
  await pool.end()
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runAuditBench(process.argv.includes('--quick'), (s) => process.stdout.write(`${s}\n`)).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  })
}
