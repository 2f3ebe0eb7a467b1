/**
 * The embedded driver composed with the real Postgres driver, as open-sources wires them. The
 * Postgres driver is imported dynamically: when it is missing, every test here fails with a message
 * saying so (never a silent skip).
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ReadRequest, SourceDriver } from '../../../src/exec/drivers/driver.js'
import { DEMO_COUNTS } from '../../../src/exec/embedded/demo-dataset.js'
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../../src/exec/embedded/embedded-database.js'
import { createEmbeddedDriver, type PostgresDriverFactory } from '../../../src/exec/embedded/embedded-driver.js'
import { captureLogger, LIMITS, makeTempDir } from './embedded-fixtures.js'

const POSTGRES_DRIVER = '../../../src/exec/drivers/postgres/postgres-driver.js'

async function loadFactory(): Promise<PostgresDriverFactory> {
  let module: { createPostgresDriver?: PostgresDriverFactory }
  try {
    module = (await import(POSTGRES_DRIVER)) as { createPostgresDriver?: PostgresDriverFactory }
  } catch (error) {
    assert.fail(`the Postgres driver (src/exec/drivers/postgres/postgres-driver.ts) could not be loaded: ${String(error)}`)
  }
  assert.equal(typeof module.createPostgresDriver, 'function', 'postgres-driver.ts must export createPostgresDriver')
  return module.createPostgresDriver as PostgresDriverFactory
}

function request(sql: string, extra: Partial<ReadRequest> = {}): ReadRequest {
  return { sql, params: [], limits: LIMITS, ...extra }
}

describe('embedded driver + Postgres driver', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>
  let db: EmbeddedDatabase | undefined
  let driver: SourceDriver
  let loadError: unknown = null

  before(async () => {
    tmp = await makeTempDir('embedded-pg')
    let factory: PostgresDriverFactory
    try {
      factory = await loadFactory()
    } catch (error) {
      loadError = error
      return
    }
    const { logger } = captureLogger()
    db = await startEmbeddedDatabase({ dataDir: path.join(tmp.dir, 'demo'), logger })
    driver = createEmbeddedDriver({ db, createPostgresDriver: factory, searchPath: ['public'], lockTimeoutMs: 1_000, logger })
  })

  after(async () => {
    if (db !== undefined) await driver.close()
    await tmp.cleanup()
  })

  function ready(): SourceDriver {
    if (loadError !== null) throw loadError
    return driver
  }

  it('reads rows with parameters', async () => {
    const result = await ready().read(request('SELECT count(*)::int AS n FROM orders WHERE status = $1', { params: ['delivered'] }))
    assert.ok(result.ok, !result.ok ? result.code : '')
    assert.deepEqual(result.value.columns.map((c) => c.name), ['n'])
    assert.ok((result.value.rows[0]?.[0] as number) > 1000)
  })

  it('stops at the row cap through a cursor (Execute with a row limit)', async () => {
    const result = await ready().read(request('SELECT id FROM orders ORDER BY id', { limits: { ...LIMITS, maxRows: 10 } }))
    assert.ok(result.ok, !result.ok ? result.code : '')
    assert.equal(result.value.rows.length, 10)
    assert.equal(result.value.truncated, true)
    assert.equal(result.value.truncatedBy, 'rows')
    assert.deepEqual(result.value.rows.map((r) => r[0]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })

  it('the engine refuses a write that reached it', async () => {
    const result = await ready().read(request("UPDATE products SET stock = 0 WHERE id = 1"))
    assert.equal(result.ok, false)
    assert.ok(!result.ok && ['ERR_EXEC_READ_ONLY_VIOLATION', 'ERR_EXEC_PERMISSION_DENIED'].includes(result.code), !result.ok ? result.code : '')
    const after = await ready().read(request('SELECT stock FROM products WHERE id = 1'))
    assert.ok(after.ok && after.value.rows[0]?.[0] !== 0)
  })

  it('a hung query returns ERR_EXEC_TIMEOUT within the limit + 1 s, and the next call works', async () => {
    const started = Date.now()
    const result = await ready().read(request('SELECT pg_sleep(10)', { limits: { ...LIMITS, statementTimeoutMs: 1_000 } }))
    const elapsed = Date.now() - started
    assert.equal(!result.ok && result.code, 'ERR_EXEC_TIMEOUT')
    assert.ok(elapsed < 2_000, `answered after ${elapsed} ms`)
    const next = await ready().read(request('SELECT count(*)::int FROM customers'))
    assert.ok(next.ok, !next.ok ? next.code : '')
    assert.equal(next.value.rows[0]?.[0], DEMO_COUNTS.customers)
  })

  it('explains a read', async () => {
    const result = await ready().explain(request('SELECT * FROM orders WHERE customer_id = 7'))
    assert.ok(result.ok, !result.ok ? result.code : '')
    assert.match(JSON.stringify(result.value.rows), /orders/)
  })

  it('lists tables and the view, and describes a table with its comments', async () => {
    const tables = await ready().listTables('public', LIMITS)
    assert.ok(tables.ok, !tables.ok ? tables.code : '')
    const byName = new Map(tables.value.map((t) => [t.name, t]))
    assert.equal(byName.get('order_summary')?.kind, 'view')
    assert.equal(byName.get('customers')?.kind, 'table')
    assert.ok((byName.get('customers')?.comment ?? '').length > 0)

    const described = await ready().describeTable('public', 'orders', LIMITS)
    assert.ok(described.ok && described.value !== null, !described.ok ? described.code : 'null')
    assert.deepEqual(described.value.primaryKey, ['id'])
    assert.deepEqual(described.value.foreignKeys.map((f) => f.referencedTable).sort(), ['customers', 'products'])
    assert.ok(described.value.columns.find((c) => c.name === 'status')?.comment)
    assert.ok(described.value.indexes.some((i) => i.name === 'orders_created_at_idx'))
  })

  it('reports the reader role: not a superuser, no write privileges', async () => {
    const role = await ready().inspectRole()
    assert.ok(role.ok, !role.ok ? role.code : '')
    assert.equal(role.value.role, 'sqlwarden_reader')
    assert.equal(role.value.superuser, false)
    assert.equal(role.value.bypassRls, false)
    assert.deepEqual(role.value.writePrivileges, [])
  })
})
