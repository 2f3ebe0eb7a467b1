/**
 * The PostgreSQL driver's write path against the real server: BEGIN READ WRITE … COMMIT, ROLLBACK
 * on any error or an unexpected command tag, server-side timeouts, the transaction-local identity,
 * the session leak check, RETURNING under the read caps, and the mapped role's grants as the
 * second layer. Straight to the driver: analysis and confirmation are tested elsewhere.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { CallLimits, SourceDriver, WriteRequest } from '../../../src/exec/drivers/driver.js'
import { createTestSchema, withAdmin, uniqueName } from '../../helpers/postgres-env.js'
import { driverBackends, expectFail, expectOk, LIMITS, openDriver } from './postgres-fixture.js'

let driver: SourceDriver
let url = ''
let appName = ''
let schema: { name: string; drop: () => Promise<void> }
const noInsertRole = uniqueName('sw_wt_noins')
const writerRole = uniqueName('sw_wt_writer')

function write(sql: string, params: WriteRequest['params'] = [], statementClass: WriteRequest['statementClass'] = 'insert', limits: Partial<CallLimits> = {}, signal?: AbortSignal): WriteRequest {
  return { sql, params, statementClass, limits: { ...LIMITS, ...limits }, ...(signal ? { signal } : {}) }
}

async function count(where = 'true'): Promise<number> {
  return withAdmin(url, async (c) => Number((await c.query(`SELECT count(*) AS n FROM ${schema.name}.items WHERE ${where}`)).rows[0].n))
}

before(async () => {
  const fixture = await openDriver({ poolSize: 1 })
  driver = fixture.driver
  url = fixture.url
  appName = fixture.appName
  schema = await createTestSchema(url, 'sw_wt')
  await withAdmin(url, async (c) => {
    await c.query(`CREATE TABLE ${schema.name}.items (id int PRIMARY KEY, name text NOT NULL, who text)`)
    await c.query(`CREATE TABLE ${schema.name}.wide (id int, payload text)`)
    for (const role of [noInsertRole, writerRole]) await c.query(`CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOBYPASSRLS`)
    await c.query(`GRANT USAGE ON SCHEMA ${schema.name} TO ${noInsertRole}, ${writerRole}`)
    await c.query(`GRANT SELECT ON ${schema.name}.items TO ${noInsertRole}`)
    await c.query(`GRANT SELECT, INSERT ON ${schema.name}.items TO ${writerRole}`)
  })
})

after(async () => {
  await driver.close()
  await schema.drop()
  await withAdmin(url, async (c) => {
    for (const role of [noInsertRole, writerRole]) await c.query(`DROP ROLE IF EXISTS ${role}`)
  })
})

test('a write commits: the row is there afterwards, with the row count from the command tag', async () => {
  const r = expectOk(await driver.write(write(`INSERT INTO ${schema.name}.items VALUES ($1, $2), ($3, $4)`, [1, 'a', 2, 'b'])))
  assert.equal(r.rowCount, 2)
  assert.equal(r.returning, null)
  assert.equal(await count(), 2)
  const u = expectOk(await driver.write(write(`UPDATE ${schema.name}.items SET name = name || '!'`, [], 'update')))
  assert.equal(u.rowCount, 2)
  assert.equal(await count("name LIKE '%!'"), 2)
})

test('an error rolls back: nothing of the statement stays, and the connection is reusable', async () => {
  // The second row violates the primary key: the first must not stay either.
  const r = await driver.write(write(`INSERT INTO ${schema.name}.items VALUES (10, 'x'), (1, 'dup')`))
  expectFail(r, 'ERR_EXEC_QUERY_FAILED')
  assert.equal(await count('id = 10'), 0)
  const again = expectOk(await driver.write(write(`INSERT INTO ${schema.name}.items VALUES (11, 'y')`)))
  assert.equal(again.rowCount, 1)
})

test('a command tag other than the analysed class is rolled back, never committed (DDL included)', async () => {
  const wrongClass = await driver.write(write(`DELETE FROM ${schema.name}.items WHERE id = 11`, [], 'insert'))
  expectFail(wrongClass, 'ERR_EXEC_QUERY_FAILED')
  assert.equal(await count('id = 11'), 1)
  const ddl = await driver.write(write(`CREATE TABLE ${schema.name}.made_by_write (a int)`))
  expectFail(ddl, 'ERR_EXEC_QUERY_FAILED')
  const exists = await withAdmin(url, async (c) => (await c.query(`SELECT to_regclass('${schema.name}.made_by_write') AS t`)).rows[0].t)
  assert.equal(exists, null)
})

test('the extended protocol refuses a second statement', async () => {
  const r = await driver.write(write(`INSERT INTO ${schema.name}.items VALUES (12, 'z'); DROP TABLE ${schema.name}.items`))
  assert.equal(r.ok, false)
  assert.equal(await count('id = 12'), 0)
})

test('RETURNING rows are capped by rows and bytes exactly like a read; the row count is the whole write', async () => {
  const rows = expectOk(
    await driver.write(write(`INSERT INTO ${schema.name}.wide SELECT g, repeat('x', 100) FROM generate_series(1, 50) g RETURNING id`, [], 'insert', { maxRows: 5 })),
  )
  assert.equal(rows.rowCount, 50)
  assert.equal(rows.returning?.rows.length, 5)
  assert.equal(rows.returning?.truncatedBy, 'rows')
  assert.deepEqual(rows.returning?.rows[0], [1])
  const bytes = expectOk(
    await driver.write(write(`DELETE FROM ${schema.name}.wide RETURNING payload`, [], 'delete', { maxBytes: 350 })),
  )
  assert.equal(bytes.rowCount, 50)
  assert.equal(bytes.returning?.truncatedBy, 'bytes')
  assert.equal(bytes.returning?.rows.length, 3)
  assert.deepEqual(bytes.returning?.columns, [{ name: 'payload', type: 'text' }])
})

test('statement_timeout applies on the server: the write is cancelled there and rolled back', async () => {
  const started = Date.now()
  const r = await driver.write(write(`INSERT INTO ${schema.name}.items SELECT 20, 'slow' FROM pg_sleep(5)`, [], 'insert', { statementTimeoutMs: 300 }))
  expectFail(r, 'ERR_EXEC_TIMEOUT')
  assert.ok(Date.now() - started < 2_500)
  assert.equal(await count('id = 20'), 0)
  const active = (await driverBackends(url, appName)).filter((b) => b.state === 'active')
  assert.deepEqual(active, [])
})

test('identity is transaction-local: the mapped role and the principal apply, and do not outlive the write', async () => {
  const r = expectOk(
    await driver.write(
      write(
        `INSERT INTO ${schema.name}.items VALUES (30, current_user, current_setting('sqlwarden.principal', true)) RETURNING name, who`,
        [],
        'insert',
        { identity: { dbRole: writerRole, principal: 'alice' } },
      ),
    ),
  )
  assert.deepEqual(r.returning?.rows, [[writerRole, 'alice']])
  const after = await driver.read({ sql: "SELECT current_user = session_user, current_setting('sqlwarden.principal', true)", params: [], limits: LIMITS })
  assert.deepEqual(expectOk(after).rows, [[true, '']])
})

test('the mapped role is the backstop: a role without INSERT gets ERR_EXEC_PERMISSION_DENIED', async () => {
  const r = await driver.write(write(`INSERT INTO ${schema.name}.items VALUES (40, 'denied')`, [], 'insert', { identity: { dbRole: noInsertRole, principal: 'carol' } }))
  expectFail(r, 'ERR_EXEC_PERMISSION_DENIED')
  assert.equal(await count('id = 40'), 0)
})

test('a write that leaves session state behind commits, but its connection is destroyed (leak check)', async () => {
  // A SQL-level PREPARE outlives COMMIT; here it comes from a volatile function, as one reached
  // through a trigger or a default would do it.
  await withAdmin(url, (c) =>
    c.query(`CREATE FUNCTION ${schema.name}.leaves_prepared() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
      BEGIN EXECUTE 'PREPARE sw_write_leak AS SELECT 1'; RETURN 1; END $$`),
  )
  const before = (await driverBackends(url, appName)).map((b) => b.pid)
  const r = expectOk(await driver.write(write(`INSERT INTO ${schema.name}.items SELECT 50, 'leaky' WHERE ${schema.name}.leaves_prepared() = 1`)))
  assert.equal(r.rowCount, 1)
  assert.equal(await count('id = 50'), 1)
  // Cleanup runs off the critical path; give it a moment, then the old backend must be gone.
  await new Promise((resolve) => setTimeout(resolve, 300))
  const now = (await driverBackends(url, appName)).map((b) => b.pid)
  for (const pid of now) assert.ok(!before.includes(pid) || before.length === 0, 'the leaking backend was reused')
})

test('a session advisory lock taken by a write is released when the call ends; the connection is reused (D31)', async () => {
  expectOk(await driver.write(write(`INSERT INTO ${schema.name}.items VALUES (51, 'warm')`)))
  await new Promise((resolve) => setTimeout(resolve, 300))
  const before = (await driverBackends(url, appName)).map((b) => b.pid)
  assert.equal(before.length, 1)
  const r = expectOk(
    await driver.write(write(`INSERT INTO ${schema.name}.items SELECT 52, 'locked' WHERE pg_advisory_lock(4242) IS NOT NULL`)),
  )
  assert.equal(r.rowCount, 1)
  assert.equal(await count('id = 52'), 1)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const locks = await withAdmin(url, async (c) => Number((await c.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242")).rows[0].n))
  assert.equal(locks, 0)
  assert.deepEqual((await driverBackends(url, appName)).map((b) => b.pid), before)
})

test('BEGIN READ WRITE is explicit: a role default of read-only transactions does not turn a write off or on', async () => {
  await withAdmin(url, (c) => c.query(`ALTER ROLE ${writerRole} SET default_transaction_read_only = on`))
  // SET LOCAL ROLE does not apply role defaults; the explicit READ WRITE decides.
  const r = expectOk(await driver.write(write(`INSERT INTO ${schema.name}.items VALUES (60, 'rw')`, [], 'insert', { identity: { dbRole: writerRole, principal: 'a' } })))
  assert.equal(r.rowCount, 1)
  await withAdmin(url, (c) => c.query(`ALTER ROLE ${writerRole} RESET default_transaction_read_only`))
})
