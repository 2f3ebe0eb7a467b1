/**
 * The behaviours every transport must show, driven through the SDK's real `Client`. Used by the
 * stdio and HTTP end-to-end tests, so both prove the same contract.
 */
import assert from 'node:assert/strict'
import type { Client } from '@modelcontextprotocol/client'

type CallResult = {
  isError?: boolean
  content?: { type: string; text?: string }[]
  structuredContent?: Record<string, unknown>
  _meta?: Record<string, unknown>
}

export async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallResult> {
  return (await client.callTool({ name, arguments: args })) as CallResult
}

export function textOf(r: CallResult): string {
  return r.content?.find((c) => c.type === 'text')?.text ?? ''
}

export function assertRefused(r: CallResult, code: string): void {
  assert.equal(r.isError, true, `expected ${code}, got success: ${textOf(r).slice(0, 200)}`)
  assert.ok(textOf(r).startsWith(`${code}: `), `expected ${code}, got: ${textOf(r)}`)
  const meta = r._meta?.['sqlwarden/error'] as { code?: string } | undefined
  assert.equal(meta?.code, code)
}

export async function checkToolList(client: Client): Promise<void> {
  const { tools } = await client.listTools()
  assert.deepEqual(tools.map((t) => t.name).sort(), ['describe_table', 'explain', 'list_schemas', 'list_tables', 'query'])
  for (const tool of tools) {
    assert.equal(tool.inputSchema.type, 'object')
    assert.equal((tool.inputSchema as { additionalProperties?: unknown }).additionalProperties, false, `${tool.name} input is strict`)
    assert.ok(tool.outputSchema, `${tool.name} has an outputSchema`)
    assert.equal(tool.annotations?.readOnlyHint, true)
    assert.equal(tool.annotations?.openWorldHint, false)
    assert.equal(tool.annotations?.destructiveHint, false)
  }
  const query = tools.find((t) => t.name === 'query')
  const props = (query?.inputSchema as { properties?: Record<string, unknown>; required?: string[] }).properties ?? {}
  assert.ok('sql' in props && 'params' in props && 'max_rows' in props)
  assert.deepEqual((query?.inputSchema as { required?: string[] }).required, ['sql'])
}

/** Reads against the e2e shop schema (customers: 1,201 rows; orders: 3,000 rows). */
export async function checkReads(client: Client, defaultMaxRows: number): Promise<void> {
  const one = await call(client, 'query', {
    sql: 'SELECT id, name, created_at, $2::bigint AS big FROM customers WHERE id = $1',
    params: [7, '9223372036854775807'],
  })
  assert.equal(one.isError, undefined, textOf(one))
  assert.deepEqual(one.structuredContent?.columns, [
    { name: 'id', type: 'integer' },
    { name: 'name', type: 'text' },
    { name: 'created_at', type: 'timestamp with time zone' },
    { name: 'big', type: 'bigint' },
  ])
  assert.deepEqual(one.structuredContent?.rows, [[7, 'Customer 7', '2024-01-02T03:04:05.123456+00:00', '9223372036854775807']])
  assert.equal(one.structuredContent?.row_count, 1)
  assert.equal(one.structuredContent?.truncated, false)

  const capped = await call(client, 'query', { sql: 'SELECT * FROM orders' })
  assert.equal(capped.structuredContent?.row_count, defaultMaxRows)
  assert.equal(capped.structuredContent?.truncated, true)
  assert.equal(capped.structuredContent?.truncated_by, 'rows')

  const lowered = await call(client, 'query', { sql: 'SELECT id FROM orders ORDER BY id', max_rows: 3 })
  assert.deepEqual(lowered.structuredContent?.rows, [['1'], ['2'], ['3']])
  assert.equal(lowered.structuredContent?.truncated, true)

  const notRaised = await call(client, 'query', { sql: 'SELECT id FROM orders', max_rows: 100_000 })
  assert.equal(notRaised.structuredContent?.row_count, defaultMaxRows)

  // Row data is fenced as untrusted; a stored instruction stays inside the fence.
  const injected = await call(client, 'query', { sql: 'SELECT name FROM customers WHERE id = 5000' })
  const text = textOf(injected)
  const open = /<(untrusted-data-[0-9a-f]{16})>/.exec(text)
  assert.ok(open, text)
  const inside = text.slice(text.indexOf(`\n${open[0]}\n`), text.lastIndexOf(`</${open[1]}>`))
  assert.ok(inside.includes('IGNORE ALL PREVIOUS INSTRUCTIONS'))

  const described = await call(client, 'describe_table', { table: 'customers' })
  assert.equal(described.isError, undefined, textOf(described))
  assert.deepEqual(described.structuredContent?.primary_key, ['id'])
  assert.equal(described.structuredContent?.comment, 'People who bought something')

  const tables = await call(client, 'list_tables', {})
  const names = (tables.structuredContent?.tables as { name: string }[]).map((t) => t.name)
  assert.ok(names.includes('customers') && names.includes('orders'))

  const schemas = await call(client, 'list_schemas', {})
  assert.equal(schemas.isError, undefined, textOf(schemas))

  const plan = await call(client, 'explain', { sql: 'SELECT * FROM orders WHERE customer_id = $1', params: [3] })
  assert.equal(plan.isError, undefined, textOf(plan))
  assert.ok(Array.isArray(plan.structuredContent?.plan))
}

export async function checkRefusals(client: Client): Promise<void> {
  assertRefused(await call(client, 'query', { sql: 'DELETE FROM orders' }), 'ERR_SQL_NOT_READ_ONLY')
  assertRefused(await call(client, 'query', { sql: 'SELECT 1; COMMIT; DROP TABLE orders' }), 'ERR_SQL_MULTI_STATEMENT')
  assertRefused(await call(client, 'query', { sql: "SELECT * FROM pg_read_file('/etc/passwd')" }), 'ERR_SQL_FORBIDDEN_FUNCTION')
  assertRefused(await call(client, 'query', { sql: 'WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d' }), 'ERR_SQL_NOT_READ_ONLY')
  assertRefused(await call(client, 'query', { sql: 'SELEC 1' }), 'ERR_SQL_PARSE')
  assertRefused(await call(client, 'query', { sql: 'SELECT $1' }), 'ERR_SQL_PARAMS_MISMATCH')
  assertRefused(await call(client, 'query', { sql: 'SELECT 1', extra: true }), 'ERR_TOOL_INVALID_ARGUMENTS')
  assertRefused(await call(client, 'query', { sql: 'SELECT $1', params: [{ a: 1 }] }), 'ERR_TOOL_INVALID_ARGUMENTS')
  assertRefused(await call(client, 'query', {}), 'ERR_TOOL_INVALID_ARGUMENTS')
  assertRefused(await call(client, 'drop_database', {}), 'ERR_TOOL_UNKNOWN')
  assertRefused(await call(client, 'query', { sql: 'SELECT 1', source: 'nope' }), 'ERR_SOURCE_UNKNOWN')
  assertRefused(await call(client, 'query', { sql: 'SELECT no_such_column FROM customers' }), 'ERR_EXEC_UNDEFINED_OBJECT')
  assertRefused(await call(client, 'explain', { sql: 'EXPLAIN ANALYZE SELECT 1' }), 'ERR_SQL_FORBIDDEN_CONSTRUCT')
  assertRefused(await call(client, 'query', { sql: 'EXPLAIN ANALYZE DELETE FROM orders' }), 'ERR_SQL_NOT_READ_ONLY')
  // Nothing of the driver's message crosses: no SQLSTATE detail, no "column … does not exist".
  const failed = await call(client, 'query', { sql: 'SELECT no_such_column FROM customers' })
  assert.doesNotMatch(textOf(failed), /does not exist|no_such_column|42703|postgres:\/\//)
}
