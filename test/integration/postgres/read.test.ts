/**
 * PostgreSQL driver: the read path. Row and byte caps at their exact boundaries, chunked fetch
 * across Execute rounds (never past the cap + 1), the fixed search_path, EXPLAIN, and close().
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { PortalQuery } from '../../../src/exec/drivers/postgres/postgres-portal-query.js'
import { TypeCache } from '../../../src/exec/drivers/postgres/postgres-types.js'
import { createTestSchema, requirePostgres, withAdmin } from '../../helpers/postgres-env.js'
import { driverBackends, eventually, expectOk, openDriver, request, settle, type DriverFixture } from './postgres-fixture.js'

describe('postgres driver: reads', () => {
  let fx: DriverFixture
  let schema: { name: string; drop: () => Promise<void> }

  before(async () => {
    const url = await requirePostgres()
    schema = await createTestSchema(url, 'sw_read')
    await withAdmin(url, (c) =>
      c.query(`CREATE TABLE ${schema.name}.items (id int PRIMARY KEY, label text NOT NULL);
        INSERT INTO ${schema.name}.items SELECT g, 'item ' || g FROM generate_series(1, 1000) g`),
    )
    fx = await openDriver({ searchPath: [schema.name, 'public'] })
  })

  after(async () => {
    await fx?.driver.close()
    await schema?.drop()
  })

  test('returns columns with format_type names and rows as JSON arrays', async () => {
    const r = expectOk(
      await fx.driver.read(request('SELECT id, label, id::bigint AS big, $1::text AS p, $2::int AS n, $3::bool AS b, $4::text AS z FROM items WHERE id <= 2 ORDER BY id', ['x', 7, true, null])),
    )
    assert.deepEqual(r.columns, [
      { name: 'id', type: 'integer' },
      { name: 'label', type: 'text' },
      { name: 'big', type: 'bigint' },
      { name: 'p', type: 'text' },
      { name: 'n', type: 'integer' },
      { name: 'b', type: 'boolean' },
      { name: 'z', type: 'text' },
    ])
    assert.deepEqual(r.rows, [
      [1, 'item 1', '1', 'x', 7, true, null],
      [2, 'item 2', '2', 'x', 7, true, null],
    ])
    assert.equal(r.rowCount, 2)
    assert.equal(r.truncated, false)
    assert.equal(r.truncatedBy, null)
    assert.equal(r.bytes, Buffer.byteLength(JSON.stringify(r.rows[0])) + Buffer.byteLength(JSON.stringify(r.rows[1])))
  })

  test('an empty result has columns and no rows', async () => {
    const r = expectOk(await fx.driver.read(request('SELECT id FROM items WHERE false')))
    assert.deepEqual(r.columns, [{ name: 'id', type: 'integer' }])
    assert.deepEqual(r.rows, [])
    assert.equal(r.truncated, false)
  })

  test('search_path is the configured one, transaction-local, identifiers quoted', async () => {
    const r = expectOk(await fx.driver.read(request("SELECT current_setting('search_path'), current_setting('DateStyle'), current_setting('transaction_read_only')")))
    assert.deepEqual(r.rows[0], [`"${schema.name}", "public"`, 'ISO, MDY', 'on'])
  })

  for (const [maxRows, available] of [
    [5, 5],
    [5, 6],
    [100, 100],
    [100, 101],
    [150, 150],
    [150, 151],
    [1, 1000],
  ] as const) {
    test(`row cap ${maxRows} with ${available} rows available`, async () => {
      const r = expectOk(await fx.driver.read(request('SELECT id FROM items WHERE id <= $1 ORDER BY id', [available], { maxRows })))
      const expected = Math.min(maxRows, available)
      assert.equal(r.rowCount, expected)
      assert.deepEqual(r.rows.map((row) => row[0]), Array.from({ length: expected }, (_, i) => i + 1))
      assert.equal(r.truncated, available > maxRows)
      assert.equal(r.truncatedBy, available > maxRows ? 'rows' : null)
    })
  }

  test('byte cap: stops before the row that would exceed it', async () => {
    // Each row is ["x…x"] with 98 x's: 102 bytes of JSON.
    const sql = "SELECT repeat('x', 98) FROM generate_series(1, $1::int)"
    const capped = expectOk(await fx.driver.read(request(sql, [50], { maxBytes: 1_024 })))
    assert.equal(capped.rowCount, 10)
    assert.equal(capped.bytes, 1_020)
    assert.equal(capped.truncated, true)
    assert.equal(capped.truncatedBy, 'bytes')

    const exact = expectOk(await fx.driver.read(request(sql, [10], { maxBytes: 1_020 })))
    assert.equal(exact.rowCount, 10)
    assert.equal(exact.truncated, false)

    const firstTooBig = expectOk(await fx.driver.read(request(sql, [3], { maxBytes: 50 })))
    assert.equal(firstTooBig.rowCount, 0)
    assert.equal(firstTooBig.truncatedBy, 'bytes')
  })

  test('both caps: the row cap wins when it is reached first', async () => {
    const r = expectOk(await fx.driver.read(request("SELECT repeat('x', 98) FROM generate_series(1, 50)", [], { maxRows: 3, maxBytes: 1_024 })))
    assert.equal(r.rowCount, 3)
    assert.equal(r.truncatedBy, 'rows')
  })

  test('chunked fetch returns every row in order across Execute rounds', async () => {
    const r = expectOk(await fx.driver.read(request('SELECT id, label FROM items ORDER BY id', [], { maxRows: 1_000 })))
    assert.equal(r.rowCount, 1_000)
    assert.equal(r.truncated, false)
    r.rows.forEach((row, i) => assert.deepEqual(row, [i + 1, `item ${i + 1}`]))
  })

  test('PortalQuery: several rounds, and never asks for more than maxRows + 1 rows', async () => {
    const client = new pg.Client({ connectionString: fx.url })
    await client.connect()
    try {
      const run = async (sql: string, maxRows: number, maxBytes = 10_000_000) => {
        const q = new PortalQuery({ sql, params: [], settings: ['5000', '1000', '10000', 'public', null, '', null, '{}'], maxRows, maxBytes, types: new TypeCache(), session: null })
        client.query(q)
        const outcome = await q.result
        const settled = await q.settled
        assert.equal(settled.clean, true)
        assert.equal(client.getTransactionStatus(), 'I')
        return { q, outcome }
      }
      const all = await run('SELECT g FROM generate_series(1, 1000) g', 1_000)
      assert.equal(all.q.rounds, 3) // 100, 400, 501
      assert.equal(all.q.requestedRows, 1_001)
      assert.ok(all.outcome.ok && all.outcome.value.rows.length === 1_000)

      const huge = await run('SELECT generate_series(1, 10000000)', 10)
      assert.equal(huge.q.rounds, 1)
      assert.equal(huge.q.requestedRows, 11)
      assert.ok(huge.outcome.ok && huge.outcome.value.truncatedBy === 'rows')

      // The byte cap shrinks later chunks to what the remaining budget can hold.
      const wide = await run("SELECT repeat('y', 996) FROM generate_series(1, 100000)", 50_000, 150_000)
      assert.ok(wide.outcome.ok && wide.outcome.value.truncatedBy === 'bytes')
      assert.equal(wide.outcome.value.rows.length, 150)
      assert.ok(wide.q.requestedRows <= 152, `requested ${wide.q.requestedRows}`)
    } finally {
      await client.end()
    }
  })

  test('explain returns the JSON plan as one row', async () => {
    const r = expectOk(await fx.driver.explain(request('SELECT * FROM items WHERE id = $1', [3])))
    assert.deepEqual(r.columns, [{ name: 'QUERY PLAN', type: 'json' }])
    assert.equal(r.rowCount, 1)
    const plan = r.rows[0]?.[0] as { Plan: { 'Node Type': string } }[]
    assert.ok(Array.isArray(plan) && typeof plan[0]?.Plan['Node Type'] === 'string')
  })

  test('SQL containing NUL is refused before it reaches the server', async () => {
    const r = await fx.driver.read(request('SELECT 1\0; SELECT 2'))
    assert.equal(r.ok, false)
    assert.equal(!r.ok && r.code, 'ERR_EXEC_INVALID_INPUT')
  })

  test('many concurrent calls on a small pool all succeed and leave every connection idle', async () => {
    const local = await openDriver({ poolSize: 2 })
    try {
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => local.driver.read(request('SELECT $1::int AS i, pg_backend_pid() AS pid', [i]))),
      )
      results.forEach((r, i) => assert.deepEqual(expectOk(r).rows[0]?.[0], i))
      assert.ok(new Set(results.map((r) => expectOk(r).rows[0]?.[1])).size <= 2)
      await settle()
      const backends = await driverBackends(local.url, local.appName)
      assert.ok(backends.length <= 2 && backends.every((b) => b.state === 'idle'), JSON.stringify(backends))
    } finally {
      await local.driver.close()
    }
  })

  test('a call aborted while waiting for a pooled connection never runs', async () => {
    const local = await openDriver({ poolSize: 1 })
    try {
      const busy = local.driver.read(request('SELECT pg_sleep(0.3)'))
      const controller = new AbortController()
      const waiting = local.driver.read(request("SELECT 'must not run' /* sw-waiting */", [], {}, controller.signal))
      controller.abort()
      const r = await waiting
      assert.equal(!r.ok && r.code, 'ERR_EXEC_CANCELLED')
      expectOk(await busy)
      assert.deepEqual(expectOk(await local.driver.read(request('SELECT 1'))).rows, [[1]])
    } finally {
      await local.driver.close()
    }
  })

  test('close() ends every connection of the driver', async () => {
    const local = await openDriver({ poolSize: 3 })
    await Promise.all([1, 2, 3].map(() => local.driver.read(request('SELECT pg_sleep(0.05)'))))
    await settle()
    assert.ok((await driverBackends(local.url, local.appName)).length > 0)
    await local.driver.close()
    assert.ok(await eventually(async () => (await driverBackends(local.url, local.appName)).length === 0, 2_000))
    const refused = await local.driver.read(request('SELECT 1'))
    assert.equal(!refused.ok && refused.code, 'ERR_SOURCE_UNAVAILABLE')
  })
})
