/**
 * The PostgreSQL sink, for several replicas: every replica appends its own chain (`chain` = its
 * replica name) to one append-only table. A batch is one INSERT of all its records, committed
 * before the calls waiting on it return (PostgreSQL's commit is the durability; `fsync` and
 * `write` are both recorded as configured). The primary key (chain, seq) refuses a second writer
 * on the same chain.
 *
 * The table is the operator's (docs/audit-logging.md gives the SQL): the writer role may INSERT
 * and SELECT, nothing else, and a trigger refuses UPDATE, DELETE and TRUNCATE for everyone. At
 * open, the sink checks that its role cannot UPDATE, DELETE or TRUNCATE the table, and refuses to
 * start if it can (an audit writer that can rewrite its own records is not an audit trail).
 */
import pg from 'pg'
import type { AuditSink, ChainTail, SinkState } from './audit-sink.js'

export interface PostgresAuditSinkOptions {
  readonly url: string
  readonly table: string
  readonly replica: string
}

/** The DDL an operator runs once (as the table owner), with the writer role's grants. */
export function auditTableSql(table: string, writerRole: string): string {
  const name = table.split('.').pop() ?? table
  return `CREATE TABLE ${table} (
  chain text NOT NULL,
  seq bigint NOT NULL,
  record jsonb NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain, seq)
);
CREATE FUNCTION ${table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit table is append-only'; END $$;
CREATE TRIGGER ${name}_no_update BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_append_only();
CREATE TRIGGER ${name}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${table}_append_only();
REVOKE ALL ON ${table} FROM PUBLIC;
GRANT INSERT, SELECT ON ${table} TO ${writerRole};`
}

export class PostgresAuditSink implements AuditSink {
  readonly description: string
  readonly #options: PostgresAuditSinkOptions
  readonly #pool: pg.Pool

  constructor(options: PostgresAuditSinkOptions) {
    this.#options = options
    if (!/^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/.test(options.table)) throw new Error('audit.postgres.table: not a plain name')
    this.description = `postgres table ${options.table} (chain ${options.replica})`
    this.#pool = new pg.Pool({ connectionString: options.url, max: 2, connectionTimeoutMillis: 5_000, query_timeout: 10_000 })
    this.#pool.on('error', () => undefined)
  }

  async open(): Promise<SinkState> {
    const rights = await this.#pool.query<{ u: boolean; d: boolean; t: boolean }>(
      `SELECT has_table_privilege($1::regclass, 'UPDATE') AS u, has_table_privilege($1::regclass, 'DELETE') AS d,
              has_table_privilege($1::regclass, 'TRUNCATE') AS t`,
      [this.#options.table],
    )
    const r = rights.rows[0]
    if (r === undefined || r.u || r.d || r.t) {
      throw new Error('the audit writer role can UPDATE, DELETE or TRUNCATE the audit table; grant it INSERT and SELECT only')
    }
    return { tail: await this.#tail(), tornTailBytes: 0, newChainId: this.#options.replica }
  }

  async append(lines: string): Promise<void> {
    const records = lines.split('\n').filter((l) => l !== '')
    const seqs = records.map((l) => (JSON.parse(l) as { seq: number }).seq)
    await this.#pool.query(
      `INSERT INTO ${this.#options.table} (chain, seq, record) SELECT $1, s, r::jsonb FROM unnest($2::bigint[], $3::text[]) AS t(s, r)`,
      [this.#options.replica, seqs, records],
    )
  }

  shouldRotate(): boolean {
    return false
  }

  async rotate(): Promise<string> {
    return this.#options.table
  }

  /** A failed or timed-out INSERT may still have committed: continue from what the table holds. */
  async recover(): Promise<SinkState> {
    return { tail: await this.#tail(), tornTailBytes: 0 }
  }

  async close(): Promise<void> {
    await this.#pool.end().catch(() => undefined)
  }

  async #tail(): Promise<ChainTail | null> {
    const last = await this.#pool.query<{ seq: string; hash: string }>(
      `SELECT seq, record->>'hash' AS hash FROM ${this.#options.table} WHERE chain = $1 ORDER BY seq DESC LIMIT 1`,
      [this.#options.replica],
    )
    const row = last.rows[0]
    return row === undefined ? null : { chain: this.#options.replica, seq: Number(row.seq), hash: row.hash }
  }
}

/** Every chain in the table, each as its records in seq order (for `audit verify postgres://…`). */
export async function readAuditTable(url: string, table: string): Promise<Map<string, string[]>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const rows = await client.query<{ chain: string; record: string }>(`SELECT chain, record::text AS record FROM ${table} ORDER BY chain, seq`)
    const chains = new Map<string, string[]>()
    for (const row of rows.rows) {
      const list = chains.get(row.chain) ?? []
      list.push(row.record)
      chains.set(row.chain, list)
    }
    return chains
  } finally {
    await client.end()
  }
}
