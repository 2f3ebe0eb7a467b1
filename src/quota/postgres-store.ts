/**
 * The PostgreSQL store: quotas shared by every replica pointed at the same database. Token buckets
 * are rows updated by one `INSERT … ON CONFLICT DO UPDATE` per call (the row lock makes it atomic;
 * several buckets run in one transaction, rolled back unless all allow), timed by the database's
 * clock. Budgets are rate-limiter-flexible fixed windows (`RateLimiterPostgres`) in a second table.
 *
 * Fail closed: a small pool with a 1 s connect timeout and a 1 s statement timeout; an error
 * refuses the call (ERR_QUOTA_STORE_UNAVAILABLE). Broken connections are dropped by the pool, so
 * the next call after the database returns connects afresh. Tables are created on first use.
 */
import pg from 'pg'
import { RateLimiterPostgres } from 'rate-limiter-flexible'
import type { Logger } from '../log/logger.js'
import type { Budget, BudgetUse, Bucket, QuotaStore, TakeVerdict } from './quota-store.js'

export interface PostgresStoreOptions {
  readonly url: string
  /** Table name prefix: `<table>_bucket` and `<table>_window`. A plain identifier (checked by the schema). */
  readonly table: string
  readonly logger?: Logger
  /** Connections held at most (default 4). */
  readonly poolSize?: number
}

const NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::float8`

export class PostgresQuotaStore implements QuotaStore {
  readonly kind = 'postgres' as const
  private readonly pool: pg.Pool
  private readonly bucketTable: string
  private readonly windowTable: string
  private tables: Promise<void> | null = null
  private readonly limiters = new Map<string, RateLimiterPostgres>()
  private readonly takeSql: string

  constructor(options: PostgresStoreOptions) {
    this.bucketTable = `${options.table}_bucket`
    this.windowTable = `${options.table}_window`
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: 1_000,
      idleTimeoutMillis: 10_000,
      statement_timeout: 1_000,
      query_timeout: 2_000,
      application_name: 'sqlwarden-quota',
    })
    let down = false
    this.pool.on('error', () => {
      // An idle connection died (the database restarted): the pool drops it; the next call reconnects.
      if (!down) options.logger?.warn('quota store (postgres): a connection was lost')
      down = true
    })
    this.pool.on('connect', () => {
      if (down) options.logger?.info('quota store (postgres) reachable again')
      down = false
    })
    // $1 keys, $2 capacities, $3 refill per ms, $4 need, $5 cost. `ok` is computed on the row as it
    // is locked (the conflict path sees the latest version), so concurrent callers never both win.
    this.takeSql = `
      WITH input AS (SELECT k, c, p FROM unnest($1::text[], $2::float8[], $3::float8[]) AS i(k, c, p) ORDER BY k)
      INSERT INTO "${this.bucketTable}" AS b (key, capacity, per_ms, tokens, at, ok)
        SELECT k, c, p, CASE WHEN c >= $4 THEN c - $5 ELSE c END, ${NOW_MS}, c >= $4 FROM input
      ON CONFLICT (key) DO UPDATE SET
        capacity = EXCLUDED.capacity,
        per_ms = EXCLUDED.per_ms,
        ok = least(EXCLUDED.capacity, b.tokens + greatest(0, EXCLUDED.at - b.at) * EXCLUDED.per_ms) >= $4 - 1e-9,
        tokens = greatest(0, least(EXCLUDED.capacity, b.tokens + greatest(0, EXCLUDED.at - b.at) * EXCLUDED.per_ms)
          - CASE WHEN least(EXCLUDED.capacity, b.tokens + greatest(0, EXCLUDED.at - b.at) * EXCLUDED.per_ms) >= $4 - 1e-9 THEN $5 ELSE 0 END),
        at = EXCLUDED.at
      RETURNING key, ok, tokens, per_ms`
  }

  async take(buckets: readonly Bucket[], need: number, cost: number): Promise<TakeVerdict> {
    if (buckets.length === 0) return { ok: true, retryAfterMs: 0 }
    await this.ensureTables()
    const values = [buckets.map((b) => b.key), buckets.map((b) => b.capacity), buckets.map((b) => b.perMs), need, cost]
    const verdict = (rows: { ok: boolean; tokens: number; per_ms: number }[]): TakeVerdict => {
      let wait = 0
      for (const r of rows) if (!r.ok) wait = Math.max(wait, Math.max(1, Math.ceil((need - r.tokens) / r.per_ms - 1e-9)))
      return { ok: wait === 0 && rows.every((r) => r.ok), retryAfterMs: wait }
    }
    if (buckets.length === 1) return verdict((await this.pool.query(this.takeSql, values)).rows)
    // Several buckets: all or nothing.
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = verdict((await client.query(this.takeSql, values)).rows)
      await client.query(result.ok ? 'COMMIT' : 'ROLLBACK')
      return result
    } catch (error) {
      broken = error as Error
      throw error
    } finally {
      client.release(broken)
    }
  }

  async used(budgets: readonly Budget[]): Promise<readonly BudgetUse[]> {
    await this.ensureTables()
    return Promise.all(
      budgets.map(async (b) => {
        const res = await this.limiter(b).get(b.key)
        return res === null ? { used: 0, resetInMs: 0 } : { used: res.consumedPoints, resetInMs: Math.max(0, res.msBeforeNext) }
      }),
    )
  }

  async charge(budgets: readonly Budget[], amounts: readonly number[]): Promise<void> {
    await this.ensureTables()
    await Promise.all(budgets.map((b, i) => ((amounts[i] ?? 0) > 0 ? this.limiter(b).penalty(b.key, Math.ceil(amounts[i] ?? 0)) : undefined)))
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper)
    await this.pool.end()
  }

  /** Full buckets are forgotten an hour after they filled up (bounded table; never refuses). */
  private readonly sweeper = setInterval(() => {
    if (this.tables === null) return
    this.pool
      .query(`DELETE FROM "${this.bucketTable}" WHERE at + (capacity - tokens) / per_ms < ${NOW_MS} - 3600000`)
      .catch(() => undefined)
  }, 300_000).unref()

  /** Tables on first use (retried after a failure: the database may be down at start). */
  private ensureTables(): Promise<void> {
    this.tables ??= this.pool
      // One simple-protocol message is one transaction: the advisory lock serialises replicas
      // creating the tables at once (CREATE TABLE IF NOT EXISTS alone races on pg_type).
      .query(
        `SELECT pg_advisory_xact_lock(hashtext('sqlwarden-quota-tables'));
         CREATE TABLE IF NOT EXISTS "${this.bucketTable}" (key text PRIMARY KEY, capacity float8 NOT NULL, per_ms float8 NOT NULL,
           tokens float8 NOT NULL, at float8 NOT NULL, ok boolean NOT NULL);
         CREATE TABLE IF NOT EXISTS "${this.windowTable}" (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint);`,
      )
      .then(
        () => undefined,
        (error: unknown) => {
          this.tables = null
          throw error
        },
      )
    return this.tables
  }

  private limiter(b: Budget): RateLimiterPostgres {
    const seconds = Math.max(1, Math.ceil(b.windowMs / 1000))
    const id = `${b.limit}/${seconds}`
    let limiter = this.limiters.get(id)
    if (limiter === undefined) {
      limiter = new RateLimiterPostgres({
        storeClient: this.pool,
        storeType: 'pool',
        tableName: this.windowTable,
        tableCreated: true,
        clearExpiredByTimeout: true,
        points: b.limit,
        duration: seconds,
        keyPrefix: 'bw',
      })
      this.limiters.set(id, limiter)
    }
    return limiter
  }
}
