/** Audit test helpers: a realistic call event, and an append-only audit table. */
import type { CallEvent } from '../../src/audit/audit-record.js'
import { auditTableSql } from '../../src/audit/postgres-audit-sink.js'
import { requirePostgres, uniqueName, withAdmin } from './postgres-env.js'

export function callEvent(n: number, over: Partial<CallEvent> = {}): CallEvent {
  return {
    request_id: `r${n}`,
    trace_id: null,
    principal: 'alice',
    roles: ['analyst'],
    auth_method: 'stdio',
    client: { name: 'test', version: '1' },
    transport: 'stdio',
    source: 'main',
    tool: 'query',
    decision: 'allow',
    reason: null,
    stage: 'response',
    statement_class: 'select',
    fingerprint: 'abc',
    normalized_sql: 'SELECT $1',
    param_count: 1,
    rows: 1,
    bytes: 10,
    truncated: false,
    duration_ms: 1.5,
    error_code: null,
    ...over,
  }
}


/** An append-only audit table in a schema of its own, with a writer role; `drop()` removes both. */
export async function createAuditTable(prefix: string): Promise<{ url: string; writerUrl: string; table: string; drop: () => Promise<void> }> {
  const url = await requirePostgres()
  const schema = uniqueName(prefix)
  const table = `${schema}.audit`
  const writer = `${schema}_writer`
  await withAdmin(url, async (c) => {
    await c.query(`CREATE SCHEMA ${schema}`)
    await c.query(`CREATE ROLE ${writer} LOGIN NOSUPERUSER NOBYPASSRLS`)
    await c.query(`GRANT USAGE ON SCHEMA ${schema} TO ${writer}`)
    await c.query(auditTableSql(table, writer))
  })
  const writerUrl = new URL(url)
  writerUrl.username = writer
  return {
    url,
    writerUrl: writerUrl.toString(),
    table,
    drop: () =>
      withAdmin(url, async (c) => {
        await c.query(`DROP SCHEMA ${schema} CASCADE`)
        await c.query(`DROP ROLE ${writer}`)
      }),
  }
}
