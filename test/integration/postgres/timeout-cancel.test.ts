/**
 * I6: time is bounded by the server. statement_timeout set by the pipelined set_config(…, true)
 * is armed for the statement and spans all Execute rounds; an abort sends a protocol cancel so
 * the query stops on the server; the client-side deadline is a backstop when the server is silent.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestSchema, requirePostgres, withAdmin } from '../../helpers/postgres-env.js'
import { driverBackends, eventually, expectFail, expectOk, openDriver, request, type DriverFixture } from './postgres-fixture.js'
import { startTcpProxy } from './tcp-proxy.js'

/** True when none of the driver's backends is still running `fragment`. */
async function gone(fx: DriverFixture, fragment: string): Promise<boolean> {
  const rows = await driverBackends(fx.url, fx.appName)
  return !rows.some((r) => r.state === 'active' && r.query.includes(fragment))
}

describe('postgres driver: timeouts and cancellation', () => {
  let fx: DriverFixture
  let schema: { name: string; drop: () => Promise<void> }

  before(async () => {
    const url = await requirePostgres()
    schema = await createTestSchema(url, 'sw_timeout')
    await withAdmin(url, (c) => c.query(`CREATE TABLE ${schema.name}.locked (id int)`))
    fx = await openDriver({ poolSize: 2, lockTimeoutMs: 300 })
  })

  after(async () => {
    await fx?.driver.close()
    await schema?.drop()
  })

  test('statement_timeout is enforced by the server for the statement (57014 → ERR_EXEC_TIMEOUT)', async () => {
    const started = Date.now()
    const r = await fx.driver.read(request('SELECT pg_sleep(2) /* sw-timeout-1 */', [], { statementTimeoutMs: 300 }))
    const elapsed = Date.now() - started
    const failure = expectFail(r, 'ERR_EXEC_TIMEOUT')
    assert.equal(failure.subject, 'query_canceled')
    assert.deepEqual(failure.data, { limitMs: 300 })
    assert.equal((failure.cause as { code?: string }).code, '57014')
    assert.ok(elapsed >= 280 && elapsed < 1_500, `took ${elapsed} ms`)
    assert.ok(await eventually(() => gone(fx, 'sw-timeout-1'), 1_000), 'query still running on the server')
    // The connection came back clean and works.
    assert.deepEqual(expectOk(await fx.driver.read(request('SELECT 1'))).rows, [[1]])
  })

  test('statement_timeout holds for a statement the session kept parsed (bound, not parsed, in this call)', async () => {
    const local = await openDriver({ poolSize: 1 })
    try {
      const sql = 'SELECT pg_sleep($1::float8) /* sw-timeout-kept */'
      // First run parses the statement into a read slot; the second binds it (no Parse message).
      expectOk(await local.driver.read(request(sql, [0], { statementTimeoutMs: 300 })))
      expectOk(await local.driver.read(request(sql, [0], { statementTimeoutMs: 300 })))
      const started = Date.now()
      const failure = expectFail(await local.driver.read(request(sql, [2], { statementTimeoutMs: 300 })), 'ERR_EXEC_TIMEOUT')
      const elapsed = Date.now() - started
      assert.equal((failure.cause as { code?: string }).code, '57014')
      assert.ok(elapsed >= 280 && elapsed < 1_500, `took ${elapsed} ms`)
      assert.ok(await eventually(() => gone(local, 'sw-timeout-kept'), 1_000), 'query still running on the server')
      expectOk(await local.driver.read(request(sql, [0], { statementTimeoutMs: 300 })))
    } finally {
      await local.driver.close()
    }
  })

  test('the timer spans every Execute round: the server bounds the whole statement, not each chunk', async () => {
    // Round 1 (100 rows) takes ~0.5 s and round 2 (200 rows) ~1 s; each is under the 1.2 s limit,
    // the statement is not. Per-round Sync would disarm the timer and let this finish.
    const started = Date.now()
    const r = await fx.driver.read(
      request('SELECT g, pg_sleep(0.005) FROM generate_series(1, 300) g /* sw-rounds */', [], { maxRows: 1_000, statementTimeoutMs: 1_200 }),
    )
    expectFail(r, 'ERR_EXEC_TIMEOUT')
    assert.ok(Date.now() - started < 1_450, `took ${Date.now() - started} ms`)
  })

  test('lock_timeout: a read never waits long for a lock (55P03 → ERR_EXEC_TIMEOUT)', async () => {
    await withAdmin(fx.url, async (admin) => {
      await admin.query('BEGIN')
      await admin.query(`LOCK TABLE ${schema.name}.locked IN ACCESS EXCLUSIVE MODE`)
      try {
        const started = Date.now()
        const r = await fx.driver.read(request(`SELECT * FROM ${schema.name}.locked`))
        const failure = expectFail(r, 'ERR_EXEC_TIMEOUT')
        assert.equal(failure.subject, 'lock_not_available')
        assert.ok(Date.now() - started < 1_500)
      } finally {
        await admin.query('ROLLBACK')
      }
    })
  })

  test('abort via signal cancels the statement on the server', async () => {
    const controller = new AbortController()
    const pending = fx.driver.read(request('SELECT pg_sleep(10) /* sw-abort-1 */', [], { statementTimeoutMs: 30_000 }, controller.signal))
    assert.ok(await eventually(async () => !(await gone(fx, 'sw-abort-1')), 2_000), 'query never started')
    const abortedAt = Date.now()
    controller.abort()
    const failure = expectFail(await pending, 'ERR_EXEC_CANCELLED')
    assert.ok(Date.now() - abortedAt < 200, 'the caller waited for the cancel')
    assert.equal(failure.cause, undefined)
    assert.ok(await eventually(() => gone(fx, 'sw-abort-1'), 1_000), 'query still running on the server after abort')
    assert.deepEqual(expectOk(await fx.driver.read(request('SELECT 2'))).rows, [[2]])
  })

  test('an already aborted signal never reaches the database', async () => {
    const controller = new AbortController()
    controller.abort()
    expectFail(await fx.driver.read(request('SELECT 1', [], {}, controller.signal)), 'ERR_EXEC_CANCELLED')
  })

  test("cancel: 'none' destroys the connection on abort", async () => {
    const local = await openDriver({ poolSize: 1, cancel: 'none' })
    try {
      const controller = new AbortController()
      const pending = local.driver.read(request('SELECT pg_sleep(5) /* sw-abort-none */', [], { statementTimeoutMs: 30_000 }, controller.signal))
      assert.ok(await eventually(async () => (await driverBackends(local.url, local.appName)).some((b) => b.state === 'active'), 2_000))
      controller.abort()
      expectFail(await pending, 'ERR_EXEC_CANCELLED')
      assert.deepEqual(expectOk(await local.driver.read(request('SELECT 3'))).rows, [[3]])
    } finally {
      await local.driver.close()
    }
  })

  test('client-side deadline (statementTimeoutMs + 2 s) when the server goes silent', async () => {
    const target = new URL(fx.url)
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432))
    target.host = `127.0.0.1:${proxy.port}`
    const local = await openDriver({ connectionString: target.toString(), poolSize: 1 })
    try {
      expectOk(await local.driver.read(request('SELECT 1')))
      proxy.freeze()
      const started = Date.now()
      const failure = expectFail(await local.driver.read(request('SELECT 1', [], { statementTimeoutMs: 300 })), 'ERR_EXEC_TIMEOUT')
      const elapsed = Date.now() - started
      assert.equal(failure.subject, 'client_deadline')
      assert.ok(elapsed >= 2_250 && elapsed < 3_000, `took ${elapsed} ms`)
      proxy.thaw()
      assert.deepEqual(expectOk(await local.driver.read(request('SELECT 4'))).rows, [[4]])
    } finally {
      proxy.thaw()
      await local.driver.close()
      await proxy.shut()
    }
  })
})
