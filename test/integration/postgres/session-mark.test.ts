/**
 * The session mark (postgres-session-identity.ts, D30) against the real server: a connection's
 * session carries its mark across calls (it is session-level, set in a committed transaction, so
 * the calls' ROLLBACKs leave it), and a batch whose settings row does not carry the expected mark
 * gets none of its rows and commits nothing. The pooler that causes such a batch is in
 * test/regressions/transaction-pooler-kept-statements.test.ts; here the check itself is made to fail.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { PortalQuery } from '../../../src/exec/drivers/postgres/postgres-portal-query.js'
import { TypeCache } from '../../../src/exec/drivers/postgres/postgres-types.js'
import { WriteQuery } from '../../../src/exec/drivers/postgres/postgres-write-query.js'
import { createTestSchema, withAdmin } from '../../helpers/postgres-env.js'
import { expectOk, openDriver, request, settle, type DriverFixture } from './postgres-fixture.js'

const SETTINGS = ['5000', '1000', '10000', 'public', null, '', '{}'] as const

describe('postgres driver: the session mark', () => {
  let fx: DriverFixture
  let schema: { name: string; drop: () => Promise<void> }
  before(async () => {
    fx = await openDriver({ poolSize: 1 })
    schema = await createTestSchema(fx.url, 'sw_mark')
    await withAdmin(fx.url, (c) => c.query(`CREATE TABLE ${schema.name}.items (id int PRIMARY KEY)`))
  })
  after(async () => {
    await fx?.driver.close()
    await schema?.drop()
  })

  test('a connection marks its session once, and the mark outlives every call’s ROLLBACK', async () => {
    const markSql = "SELECT pg_catalog.current_setting('sqlwarden.session', true) AS mark, pg_catalog.pg_backend_pid() AS pid"
    const first = expectOk(await fx.driver.read(request(markSql))).rows[0]
    await settle()
    const second = expectOk(await fx.driver.read(request(markSql))).rows[0]
    assert.match(String(first?.[0]), /^[0-9a-f]{32}$/)
    assert.deepEqual(second, first, 'same connection (pool of one), same backend, same mark')
  })

  describe('a batch whose settings row carries another mark', () => {
    let client: pg.Client
    before(async () => {
      client = new pg.Client({ connectionString: fx.url })
      await client.connect()
      await client.query("SELECT pg_catalog.set_config('sqlwarden.session', 'ours', false)")
    })
    after(async () => client?.end())

    test('a read gets none of its rows, and the connection is not clean', async () => {
      const read = (expected: string) => {
        const q = new PortalQuery({ sql: 'SELECT 42', params: [], settings: [...SETTINGS], maxRows: 10, maxBytes: 10_000, types: new TypeCache(), session: (seen) => seen === expected })
        client.query(q)
        return q
      }
      const ok = read('ours')
      const served = await ok.result
      assert.equal(served.ok && served.value.rows.length, 1)
      assert.equal((await ok.settled).clean, true)
      const refused = read('theirs')
      const outcome = await refused.result
      assert.equal(outcome.ok, false)
      assert.equal(!outcome.ok && 'unexpected' in outcome ? outcome.unexpected : null, 'session_shared')
      assert.equal((await refused.settled).clean, false)
    })

    test('a write commits nothing', async () => {
      const q = new WriteQuery({
        sql: `INSERT INTO ${schema.name}.items VALUES ($1)`,
        params: [1],
        statementClass: 'insert',
        settings: [...SETTINGS],
        maxRows: 10,
        maxBytes: 10_000,
        types: new TypeCache(),
        session: (seen) => seen === 'theirs',
      })
      client.query(q)
      const outcome = await q.result
      await q.settled
      assert.equal(outcome.ok, false)
      assert.equal(!outcome.ok ? outcome.unexpected : null, 'session_shared')
      assert.equal(q.commitSent, false)
      const n = await withAdmin(fx.url, async (c) => Number((await c.query(`SELECT count(*) AS n FROM ${schema.name}.items`)).rows[0].n))
      assert.equal(n, 0)
    })
  })
})
