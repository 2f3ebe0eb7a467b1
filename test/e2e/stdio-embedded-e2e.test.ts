/**
 * The end-to-end suite against the embedded default: the built CLI with no --db, over stdio,
 * through the SDK client. Same tool list and refusals as against PostgreSQL, reads checked against
 * the demo dataset, and the watchdog: PGlite ignores statement_timeout, so a runaway query must
 * come back as ERR_EXEC_TIMEOUT on time and the next call must work (the worker was restarted).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { assertBuilt, CLI } from '../helpers/cli-process.js'
import { assertRefused, call, checkRefusals, checkToolList, textOf } from './tool-scenarios.js'

let client: Client
let cache = ''
let stderr = ''

before(async () => {
  assertBuilt()
  cache = mkdtempSync(join(tmpdir(), 'sqlwarden-e2e-embedded-'))
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, '--statement-timeout', '1500ms', '--max-rows', '100'],
    env: { ...process.env, SQLWARDEN_CACHE_DIR: cache } as Record<string, string>,
    stderr: 'pipe',
  })
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  client = new Client({ name: 'e2e-embedded', version: '1.0.0' })
  await client.connect(transport)
})

after(async () => {
  await client?.close()
  rmSync(cache, { recursive: true, force: true })
})

test('embedded: tools/list', async () => {
  await checkToolList(client)
})

test('embedded: refusals', async () => {
  await checkRefusals(client)
})

test('embedded: reads are typed and capped', async () => {
  const one = await call(client, 'query', { sql: 'SELECT id, email, created_at FROM customers WHERE id = $1', params: [1] })
  assert.equal(one.isError, undefined, textOf(one))
  assert.deepEqual(
    (one.structuredContent?.columns as { type: string }[]).map((c) => c.type),
    ['integer', 'text', 'timestamp with time zone'],
  )
  const row = (one.structuredContent?.rows as unknown[][])[0] ?? []
  assert.match(String(row[2]), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$/)

  const all = await call(client, 'query', { sql: 'SELECT * FROM orders' })
  assert.equal(all.structuredContent?.row_count, 100)
  assert.equal(all.structuredContent?.truncated, true)

  const money = await call(client, 'query', { sql: 'SELECT sum(total) AS revenue, count(*)::bigint AS n FROM orders' })
  const [revenue, n] = (money.structuredContent?.rows as unknown[][])[0] ?? []
  assert.equal(typeof revenue, 'string', 'numeric stays an exact string')
  assert.equal(typeof n, 'string', 'bigint stays an exact string')

  const described = await call(client, 'describe_table', { table: 'customers' })
  assert.deepEqual(described.structuredContent?.primary_key, ['id'])
  const plan = await call(client, 'explain', { sql: 'SELECT * FROM orders WHERE customer_id = $1', params: [1] })
  assert.equal(plan.isError, undefined, textOf(plan))
})

test('embedded: a runaway query times out on time, and the next call works', async () => {
  const started = performance.now()
  const slow = await call(client, 'query', { sql: 'SELECT count(*) FROM generate_series(1, 2000000000) g' })
  const elapsed = performance.now() - started
  assertRefused(slow, 'ERR_EXEC_TIMEOUT')
  assert.ok(elapsed < 4_000, `took ${Math.round(elapsed)} ms`)
  const after = await call(client, 'query', { sql: 'SELECT count(*) AS n FROM customers' })
  assert.equal(after.isError, undefined, textOf(after))
  assert.deepEqual(after.structuredContent?.rows, [['1000']])
})

test('embedded: the server logged to stderr only', () => {
  assert.match(stderr, /sqlwarden serving stdio/)
})
