/**
 * The benchmark database: a seeded 1M-row table in the loopback PostgreSQL, readable by a
 * least-privilege login role, so sqlwarden runs without --allow-unsafe-role.
 */
import pg from 'pg'

export const ADMIN_URL = process.env.SQLWARDEN_BENCH_PG_URL ?? process.env.SQLWARDEN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const BENCH_ROLE = 'sqlwarden_bench_reader'
export const BENCH_SCHEMA = 'sw_bench'

export function benchReaderUrl(): string {
  const url = new URL(ADMIN_URL)
  url.username = BENCH_ROLE
  url.password = ''
  return url.toString()
}

export async function ensureBenchTable(rows: number, log: (s: string) => void): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    await client.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${BENCH_ROLE}') THEN
        CREATE ROLE ${BENCH_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
      END IF; END $$`)
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${BENCH_SCHEMA}`)
    const exists = await client.query(
      `SELECT c.reltuples::bigint AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = 'items'`,
      [BENCH_SCHEMA],
    )
    const have = exists.rows[0] ? Number(exists.rows[0].n) : -1
    if (have < rows * 0.99 || have > rows * 1.01) {
      log(`seeding ${BENCH_SCHEMA}.items with ${rows} rows…`)
      await client.query(`DROP TABLE IF EXISTS ${BENCH_SCHEMA}.items`)
      await client.query(`CREATE TABLE ${BENCH_SCHEMA}.items (
        id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2) NOT NULL,
        created_at timestamptz NOT NULL, payload text NOT NULL)`)
      await client.query(
        `INSERT INTO ${BENCH_SCHEMA}.items
         SELECT g, 'item ' || g, (g % 100000) / 100.0, timestamptz '2024-01-01' + g * interval '1 second',
                md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text)
         FROM generate_series(1, $1) g`,
        [rows],
      )
      await client.query(`VACUUM ANALYZE ${BENCH_SCHEMA}.items`)
    }
    await client.query(`GRANT USAGE ON SCHEMA ${BENCH_SCHEMA} TO ${BENCH_ROLE}`)
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${BENCH_SCHEMA} TO ${BENCH_ROLE}`)
  } finally {
    await client.end()
  }
}
