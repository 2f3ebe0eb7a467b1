/**
 * The PostgreSQL store: quotas shared by every replica pointed at the same database. Token buckets
 * are rows taken by one PL/pgSQL function call per call (advisory locks on the buckets make it
 * atomic, all or nothing, in one round trip), timed by the database's clock. Budgets are
 * rate-limiter-flexible fixed windows (`RateLimiterPostgres`) in a second table. Concurrency slots
 * are leases in a third table, taken by one function call under advisory locks.
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
  /**
   * Name prefix: tables `<table>_bucket`, `<table>_window`, `<table>_lease`, functions
   * `<table>_take`, `<table>_acquire`. A plain identifier (checked by the schema).
   */
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
  private readonly takeFunction: string
  private readonly leaseTable: string
  private readonly acquireFunction: string

  constructor(options: PostgresStoreOptions) {
    this.bucketTable = `${options.table}_bucket`
    this.windowTable = `${options.table}_window`
    this.leaseTable = `${options.table}_lease`
    this.acquireFunction = `${options.table}_acquire`
    this.takeFunction = `${options.table}_take`
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
    this.pool.on('connect', (client) => {
      if (down) options.logger?.info('quota store (postgres) reachable again')
      down = false
      // Quota state is short-lived: a commit need not wait for its WAL flush (a crash of the store
      // loses at most its last moments of counts, never its consistency). A session SET, not a
      // startup option, so a pooler that refuses startup options (PgBouncer) still works; queued
      // before any other query on this connection. A failure only costs speed.
      client.query('SET synchronous_commit = off').catch(() => undefined)
    })
  }

  take(buckets: readonly Bucket[], need: number, cost: number): Promise<TakeVerdict> {
    if (buckets.length === 0) return Promise.resolve({ ok: true, retryAfterMs: 0 })
    return this.withTables(async () => {
      const { rows } = await this.pool.query<{ ok: boolean; tokens: number; per_ms: number }>(
        `SELECT r_ok AS ok, r_tokens AS tokens, r_per_ms AS per_ms FROM "${this.takeFunction}"($1::text[], $2::float8[], $3::float8[], $4, $5)`,
        [buckets.map((b) => b.key), buckets.map((b) => b.capacity), buckets.map((b) => b.perMs), need, cost],
      )
      let wait = 0
      for (const r of rows) if (!r.ok) wait = Math.max(wait, Math.max(1, Math.ceil((need - r.tokens) / r.per_ms - 1e-9)))
      return { ok: wait === 0 && rows.length === buckets.length && rows.every((r) => r.ok), retryAfterMs: wait }
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
      // tables are committed durably (the counts in them are not: see the pool's 'connect' handler).
      .query(
        `SET LOCAL synchronous_commit = on;
         SELECT pg_advisory_xact_lock(hashtext('sqlwarden-quota-tables'));
         CREATE TABLE IF NOT EXISTS "${this.bucketTable}" (key text PRIMARY KEY, capacity float8 NOT NULL, per_ms float8 NOT NULL,
           tokens float8 NOT NULL, at float8 NOT NULL, ok boolean NOT NULL);
         CREATE TABLE IF NOT EXISTS "${this.windowTable}" (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint);
         CREATE TABLE IF NOT EXISTS "${this.leaseTable}" (key text NOT NULL, lease text NOT NULL, expires_at float8 NOT NULL,
           PRIMARY KEY (key, lease));
         CREATE INDEX IF NOT EXISTS "${this.leaseTable}_by_lease" ON "${this.leaseTable}" (lease);
         ${this.acquireSql()}
         ${this.takeSql()}`,
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

  /**
   * Token buckets, all or nothing, in one round trip: advisory locks on the buckets in key order
   * serialise every take of a bucket across replicas (the statements after them see every take
   * committed before), the levels are refilled to now on the database's clock, and only when every
   * bucket holds `need` is `cost` taken from each. Returns each bucket's level before the take.
   * The table's `ok` column is no longer read; it is kept (always true) for tables created by
   * earlier versions, where it is NOT NULL.
   */
  private takeSql(): string {
    return `CREATE OR REPLACE FUNCTION "${this.takeFunction}"(p_keys text[], p_caps float8[], p_pers float8[], p_need float8, p_cost float8)
      RETURNS TABLE (r_ok boolean, r_tokens float8, r_per_ms float8) LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        now_ms float8;
        levels float8[] := '{}';
        all_ok boolean := true;
        lvl float8;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('sqlwarden-bucket'), hashtext(k)) FROM unnest(p_keys) AS k ORDER BY k;
        now_ms := extract(epoch FROM clock_timestamp()) * 1000;
        FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
          SELECT least(p_caps[i], b.tokens + greatest(0, now_ms - b.at) * p_pers[i]) INTO lvl
            FROM "${this.bucketTable}" AS b WHERE b.key = p_keys[i];
          IF NOT FOUND THEN lvl := p_caps[i]; END IF;
          levels := levels || lvl;
          IF lvl < p_need - 1e-9 THEN all_ok := false; END IF;
        END LOOP;
        IF all_ok AND p_cost > 0 THEN
          INSERT INTO "${this.bucketTable}" AS b (key, capacity, per_ms, tokens, at, ok)
            SELECT p_keys[i], p_caps[i], p_pers[i], greatest(0, levels[i] - p_cost), now_ms, true FROM generate_subscripts(p_keys, 1) AS i
          ON CONFLICT (key) DO UPDATE SET capacity = EXCLUDED.capacity, per_ms = EXCLUDED.per_ms, tokens = EXCLUDED.tokens,
            at = EXCLUDED.at, ok = true;
        END IF;
        RETURN QUERY SELECT levels[i] >= p_need - 1e-9, levels[i], p_pers[i] FROM generate_subscripts(p_keys, 1) AS i;
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
