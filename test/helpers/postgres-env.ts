/**
 * Integration tests against a real PostgreSQL. The database is required, not optional: when it
 * cannot be reached the test fails with a clear message (in CI and locally alike), because a
 * skipped security test proves nothing.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export const DEFAULT_TEST_PG_URL = 'postgres://postgres@127.0.0.1:5432/test'

let checked: Promise<string> | null = null

/** The test database URL (`SQLWARDEN_TEST_PG_URL`), after checking that it answers. */
export function requirePostgres(): Promise<string> {
  checked ??= (async () => {
    const url = process.env.SQLWARDEN_TEST_PG_URL ?? DEFAULT_TEST_PG_URL
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
    try {
      await client.connect()
      await client.query('SELECT 1')
    } catch (error) {
      const where = process.env.CI === 'true' ? 'CI must provide it' : 'start it locally'
      throw new Error(
        `PostgreSQL is required for this test and is not reachable at SQLWARDEN_TEST_PG_URL (default ${DEFAULT_TEST_PG_URL}); ${where} ` +
          `(e.g. pg_ctlcluster 15 main start). Cause: ${(error as Error).message}`,
      )
    } finally {
      await client.end().catch(() => undefined)
    }
    return url
  })()
  return checked
}

/** A unique lower-case identifier for a test schema or application_name. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
}

/** Runs admin SQL on its own short-lived connection (schema setup, pg_stat_activity checks). */
export async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** A schema of its own for one test file; `drop()` removes it and everything in it. */
export async function createTestSchema(url: string, prefix: string): Promise<{ name: string; drop: () => Promise<void> }> {
  const name = uniqueName(prefix)
  await withAdmin(url, (c) => c.query(`CREATE SCHEMA ${name}`))
  return { name, drop: () => withAdmin(url, (c) => c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)).then(() => undefined) }
}

/** The SQL that drops everything a PostgreSQL quota store with name prefix `table` creates. */
export function dropQuotaStoreSql(table: string): string {
  return `DROP TABLE IF EXISTS "${table}_bucket", "${table}_window", "${table}_lease"; DROP FUNCTION IF EXISTS "${table}_acquire", "${table}_take"`
}

/** Drops a test's PostgreSQL quota store objects. */
export function dropQuotaStore(url: string, table: string): Promise<void> {
  return withAdmin(url, (c) => c.query(dropQuotaStoreSql(table))).then(() => undefined)
}
