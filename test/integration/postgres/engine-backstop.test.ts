/**
 * I2, second gate: SQL sent straight to the driver (as if analysis had been wrong) is still
 * refused by the engine — the read-only transaction refuses writes, and the extended protocol
 * refuses a second statement — and nothing changes in the database.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestSchema, requirePostgres, withAdmin } from '../../helpers/postgres-env.js'
import { expectFail, expectOk, openDriver, request, type DriverFixture } from './postgres-fixture.js'

describe('postgres driver: the engine refuses what analysis should have refused', () => {
  let fx: DriverFixture
  let schema: { name: string; drop: () => Promise<void> }
  let t: string

  before(async () => {
    const url = await requirePostgres()
    schema = await createTestSchema(url, 'sw_backstop')
    t = `${schema.name}.accounts`
    await withAdmin(url, (c) =>
      c.query(`CREATE TABLE ${t} (id int PRIMARY KEY, balance int); INSERT INTO ${t} VALUES (1, 100), (2, 200);
        CREATE SEQUENCE ${schema.name}.seq`),
    )
    fx = await openDriver({ poolSize: 1 })
  })

  after(async () => {
    await fx?.driver.close()
    await schema?.drop()
  })

  async function unchanged(): Promise<void> {
    const rows = await withAdmin(fx.url, async (c) => (await c.query(`SELECT id, balance FROM ${t} ORDER BY id`)).rows)
    assert.deepEqual(rows, [
      { id: 1, balance: 100 },
      { id: 2, balance: 200 },
    ])
    const tables = await withAdmin(fx.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1`, [schema.name])).rows[0])
    assert.deepEqual(tables, { n: 1 })
  }

  for (const sql of [
    'INSERT INTO %t VALUES (3, 300)',
    'UPDATE %t SET balance = 0',
    'DELETE FROM %t',
    'WITH d AS (DELETE FROM %t RETURNING *) SELECT * FROM d',
    'SELECT * INTO %s.copy FROM %t',
    'CREATE TABLE %s.evil (x int)',
    'TRUNCATE %t',
    "SELECT nextval('%s.seq')",
    "SELECT setval('%s.seq', 42)",
    'COPY %t FROM STDIN',
  ]) {
    test(`write refused by the read-only transaction: ${sql.slice(0, 40)}`, async () => {
      const text = sql.replaceAll('%t', t).replaceAll('%s', schema.name)
      expectFail(await fx.driver.read(request(text)), 'ERR_EXEC_READ_ONLY_VIOLATION')
      await unchanged()
    })
  }

  for (const sql of [
    'SELECT 1; SELECT 2',
    'SELECT 1; INSERT INTO %t VALUES (9, 9)',
    'COMMIT; INSERT INTO %t VALUES (9, 9)',
    'ROLLBACK; BEGIN READ WRITE; DELETE FROM %t',
    '/* c */ END; DELETE FROM %t',
  ]) {
    test(`a second statement is refused by the extended protocol: ${sql.slice(0, 40)}`, async () => {
      const failure = expectFail(await fx.driver.read(request(sql.replaceAll('%t', t))), 'ERR_EXEC_QUERY_FAILED')
      assert.equal(failure.subject, 'syntax_error') // 42601: cannot insert multiple commands into a prepared statement
      await unchanged()
    })
  }

  test("set_config('transaction_read_only', 'off') cannot lift read-only mid-transaction", async () => {
    const r = await fx.driver.read(request("SELECT set_config('transaction_read_only', 'off', true)"))
    assert.equal(r.ok, false)
    await unchanged()
  })

  test('transaction control as the statement is refused as an unexpected command', async () => {
    for (const sql of ['COMMIT', 'BEGIN', 'SAVEPOINT s', 'SET TRANSACTION READ WRITE']) {
      const r = await fx.driver.read(request(sql))
      assert.equal(r.ok, false, sql)
    }
    assert.equal(expectOk(await fx.driver.read(request("SELECT current_setting('transaction_read_only')"))).rows[0]?.[0], 'on')
    await unchanged()
  })

  test('COPY … TO STDOUT is not a read the driver returns', async () => {
    const failure = expectFail(await fx.driver.read(request(`COPY ${t} TO STDOUT`)), 'ERR_EXEC_QUERY_FAILED')
    assert.equal(failure.subject, 'unexpected_command')
    assert.deepEqual(expectOk(await fx.driver.read(request('SELECT 5'))).rows, [[5]])
  })
})
