/**
 * The PostgreSQL store: quotas shared by every replica pointed at the same database. Token buckets
 * are rows updated by one `INSERT … ON CONFLICT DO UPDATE` per call (the row lock makes it atomic;
 * several buckets run in one transaction, rolled back unless all allow), timed by the database's
 * clock. Budgets are rate-limiter-flexible fixed windows (`RateLimiterPostgres`) in a second table.
 * Concurrency slots are leases in a third table, taken by one function call under advisory locks.
 *
 * Fail closed: a small pool with a 1 s connect timeout and a 1 s statement timeout; an error
 * refuses the call (ERR_QUOTA_STORE_UNAVAILABLE). Broken connections are dropped by the pool, so
 * the next call after the database returns connects afresh. Tables are created on first use.
 */
import pg from 'pg'
import { RateLimiterPostgres } from 'rate-limiter-flexible'
import type { Logger } from '../log/logger.js'
import type { Budget, BudgetUse, Bucket, QuotaStore, SlotLeases, TakeVerdict } from './quota-store.js'

export interface PostgresStoreOptions {
  readonly url: string
  /** Name prefix: tables `<table>_bucket`, `<table>_window`, `<table>_lease`, function `<table>_acquire`. A plain identifier (checked by the schema). */
  readonly table: string
  readonly logger?: Logger
  /** Connections held at most (default 4). */
  readonly poolSize?: number
}

const UNDEFINED_TABLE = '42P01'
const UNDEFINED_FUNCTION = '42883'
const NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::float8`

export class PostgresQuotaStore implements QuotaStore {
  readonly kind = 'postgres' as const
  private readonly pool: pg.Pool
  private readonly bucketTable: string
  private readonly windowTable: string
  private tables: Promise<void> | null = null
  private readonly limiters = new Map<string, RateLimiterPostgres>()
  private readonly takeSql: string
  private readonly leaseTable: string
  private readonly acquireFunction: string

  constructor(options: PostgresStoreOptions) {
    this.bucketTable = `${options.table}_bucket`
    this.windowTable = `${options.table}_window`
    this.leaseTable = `${options.table}_lease`
    this.acquireFunction = `${options.table}_acquire`
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: 1_000,
      idleTimeoutMillis: 10_000,
      statement_timeout: 1_000,
      query_timeout: 2_000,
      application_name: 'sqlwarden-quota',
      // Quota state is short-lived: a commit need not wait for its WAL flush (a crash of the store
      // loses at most its last moments of counts, never its consistency).
      options: '-c synchronous_commit=off',
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

  take(buckets: readonly Bucket[], need: number, cost: number): Promise<TakeVerdict> {
    if (buckets.length === 0) return Promise.resolve({ ok: true, retryAfterMs: 0 })
    return this.withTables(async () => {
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
    })
  }

  readonly leases: SlotLeases = {
    acquire: (slots, lease, ttlMs) => {
      if (slots.length === 0) return Promise.resolve(true)
      return this.withTables(async () => {
        const { rows } = await this.pool.query<{ ok: boolean }>(`SELECT "${this.acquireFunction}"($1::text[], $2::int[], $3, $4) AS ok`, [
          slots.map((s) => s.key),
          slots.map((s) => s.limit),
          lease,
          Math.ceil(ttlMs),
        ])
        return rows[0]?.ok === true
      })
    },
    renew: (held, ttlMs) => {
      if (held.length === 0) return Promise.resolve()
      return this.withTables(async () => {
        await this.pool.query(
          `UPDATE "${this.leaseTable}" SET expires_at = ${NOW_MS} + $2 WHERE lease = ANY($1::text[]) AND expires_at > ${NOW_MS}`,
          [held.map((h) => h.lease), Math.ceil(ttlMs)],
        )
      })
    },
    release: (held) =>
      this.withTables(async () => {
        await this.pool.query(`DELETE FROM "${this.leaseTable}" WHERE lease = $1`, [held.lease])
      }),
  }

  used(budgets: readonly Budget[]): Promise<readonly BudgetUse[]> {
    return this.withTables(() =>
      Promise.all(
        budgets.map(async (b) => {
          const res = await this.limiter(b).get(b.key)
          return res === null ? { used: 0, resetInMs: 0 } : { used: res.consumedPoints, resetInMs: Math.max(0, res.msBeforeNext) }
        }),
      ),
    )
  }

  charge(budgets: readonly Budget[], amounts: readonly number[]): Promise<void> {
    return this.withTables(async () => {
      await Promise.all(budgets.map((b, i) => ((amounts[i] ?? 0) > 0 ? this.limiter(b).penalty(b.key, Math.ceil(amounts[i] ?? 0)) : undefined)))
    })
  }

  /**
   * Runs `op` once the tables exist. If they have gone (dropped by hand, or a restored or crashed
   * database lost them), the call fails (fail closed) and the next one creates them again.
   */
  private async withTables<T>(op: () => Promise<T>): Promise<T> {
    await this.ensureTables()
    try {
      return await op()
    } catch (error) {
      const code = (error as { code?: unknown }).code
      if (code === UNDEFINED_TABLE || code === UNDEFINED_FUNCTION) this.tables = null
      throw error
    }
  }

  private closed: Promise<void> | null = null

  /** Idempotent. */
  close(): Promise<void> {
    clearInterval(this.sweeper)
    this.closed ??= this.pool.end()
    return this.closed
  }

  /** Full buckets are forgotten an hour after they filled up (bounded table; never refuses). */
  private readonly sweeper = setInterval(() => {
    if (this.tables === null) return
    this.pool
      .query(`DELETE FROM "${this.bucketTable}" WHERE at + (capacity - tokens) / per_ms < ${NOW_MS} - 3600000`)
      .catch(() => undefined)
    this.pool.query(`DELETE FROM "${this.leaseTable}" WHERE expires_at < ${NOW_MS}`).catch(() => undefined)
  }, 300_000).unref()

  /** Tables on first use (retried after a failure: the database may be down at start). */
  private ensureTables(): Promise<void> {
    this.tables ??= this.pool
      // One simple-protocol message is one transaction: the advisory lock serialises replicas
      // creating the tables at once (CREATE TABLE IF NOT EXISTS alone races on pg_type). The
      // tables are committed durably (the counts in them are not: see the pool's options).
      .query(
        `SET LOCAL synchronous_commit = on;
         SELECT pg_advisory_xact_lock(hashtext('sqlwarden-quota-tables'));
         CREATE TABLE IF NOT EXISTS "${this.bucketTable}" (key text PRIMARY KEY, capacity float8 NOT NULL, per_ms float8 NOT NULL,
           tokens float8 NOT NULL, at float8 NOT NULL, ok boolean NOT NULL);
         CREATE TABLE IF NOT EXISTS "${this.windowTable}" (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint);
         CREATE TABLE IF NOT EXISTS "${this.leaseTable}" (key text NOT NULL, lease text NOT NULL, expires_at float8 NOT NULL,
           PRIMARY KEY (key, lease));
         CREATE INDEX IF NOT EXISTS "${this.leaseTable}_by_lease" ON "${this.leaseTable}" (lease);
         ${this.acquireSql()}`,
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

  /**
   * Concurrency leases, all slots or none, in one round trip. The advisory locks (taken in key
   * order, so two callers never deadlock) serialise every acquire of a slot across replicas; each
   * statement of a VOLATILE PL/pgSQL function takes a fresh snapshot, so the count after the lock
   * sees every lease committed before it.
   */
  private acquireSql(): string {
    return `CREATE OR REPLACE FUNCTION "${this.acquireFunction}"(p_keys text[], p_limits int[], p_lease text, p_ttl float8)
      RETURNS boolean LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        now_ms float8;
        n int;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('sqlwarden-lease'), hashtext(k)) FROM unnest(p_keys) AS k ORDER BY k;
        now_ms := extract(epoch FROM clock_timestamp()) * 1000;
        DELETE FROM "${this.leaseTable}" WHERE key = ANY(p_keys) AND expires_at <= now_ms;
        FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
          SELECT count(*) INTO n FROM "${this.leaseTable}" WHERE key = p_keys[i];
          IF n >= p_limits[i] THEN RETURN false; END IF;
        END LOOP;
        INSERT INTO "${this.leaseTable}" (key, lease, expires_at) SELECT k, p_lease, now_ms + p_ttl FROM unnest(p_keys) AS k;
        RETURN true;
      END
      $fn$;`
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
