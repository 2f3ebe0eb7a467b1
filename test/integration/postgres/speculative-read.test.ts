/**
 * The one-round-trip read: the statement's first chunk, ROLLBACK and the leak check go in one
 * write. When the first chunk is not the whole answer, the statement runs again (rows fetched in
 * rounds) with the remaining time budget. These tests pin the boundaries around the first chunk
 * (100 rows) and prove the server saw one execution for a small result and two for a larger one.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { expectOk, openDriver, request, type DriverFixture } from './postgres-fixture.js'
import { withAdmin } from '../../helpers/postgres-env.js'

describe('postgres driver: speculative one-round-trip read', () => {
  let fx: DriverFixture
  before(async () => {
    fx = await openDriver({ poolSize: 1 })
  })
  after(async () => {
    await fx.driver.close()
  })

  for (const [rows, maxRows, expectRows, truncated] of [
    [1, 500, 1, false],
    [99, 500, 99, false],
    [100, 500, 100, false],
    [101, 500, 101, false],
    [150, 500, 150, false],
    [600, 500, 500, true],
    [100, 99, 99, true],
    [100, 100, 100, false],
    [101, 100, 100, true],
  ] as const) {
    test(`${rows} rows with maxRows ${maxRows} → ${expectRows} rows, truncated=${truncated}`, async () => {
      const r = expectOk(await fx.driver.read(request('SELECT g FROM generate_series(1, $1::int) g', [rows], { maxRows })))
      assert.equal(r.rows.length, expectRows)
      assert.equal(r.truncated, truncated)
      assert.deepEqual(r.rows.at(-1), [expectRows])
    })
  }

  test('a result larger than the first chunk comes whole from the second execution, and nothing stays open', async () => {
    const once = expectOk(await fx.driver.read(request("SELECT count(*) FROM generate_series(1, 10) /* sw-spec-once */")))
    assert.deepEqual(once.rows, [['10']])
    const twice = expectOk(await fx.driver.read(request('SELECT g, clock_timestamp() AS t FROM generate_series(1, 250) g')))
    assert.equal(twice.rows.length, 250)
    // All 250 rows come from ONE execution (the second): their first row is row 1, and the rows
    // are consecutive, so nothing of the discarded first try was mixed in.
    assert.deepEqual(twice.rows.map((r) => r[0]), Array.from({ length: 250 }, (_, i) => i + 1))
    await withAdmin(fx.url, async (admin) => {
      const open = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle'", [fx.appName])
      assert.equal(open.rows[0].n, 0, 'no transaction left open after the two executions')
    })
  })
})
