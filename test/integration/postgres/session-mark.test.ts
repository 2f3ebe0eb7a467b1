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
import { USER_STATEMENT_NAMES, type SettingsValues } from '../../../src/exec/drivers/postgres/postgres-read-sql.js'
import type { SessionCheck } from '../../../src/exec/drivers/postgres/postgres-session-identity.js'
import { SessionStatements } from '../../../src/exec/drivers/postgres/postgres-session-statements.js'
import { TypeCache } from '../../../src/exec/drivers/postgres/postgres-types.js'
import { WriteQuery } from '../../../src/exec/drivers/postgres/postgres-write-query.js'
import { createTestSchema, withAdmin } from '../../helpers/postgres-env.js'
import { expectOk, openDriver, request, settle, type DriverFixture } from './postgres-fixture.js'

/** Settings with the server's check of the mark off ($7 NULL): only the driver's check is left. */
const SETTINGS = ['5000', '1000', '10000', 'public', null, '', null, '{}'] as const
/** Settings with the server's check of the mark on, expecting `mark`. */
const settingsExpecting = (mark: string) => ['5000', '1000', '10000', 'public', null, '', mark, '{}'] as const

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

  describe('a batch in a session with another mark', () => {
    let client: pg.Client
    before(async () => {
      client = new pg.Client({ connectionString: fx.url })
      await client.connect()
      await client.query("SELECT pg_catalog.set_config('sqlwarden.session', 'ours', false)")
    })
    after(async () => client?.end())

    /** An INSERT under `settings` and `session` is refused as session_shared, and nothing is written. */
    async function expectNothingWritten(settings: SettingsValues, session: SessionCheck): Promise<void> {
      const q = new WriteQuery({
        sql: `INSERT INTO ${schema.name}.items VALUES ($1)`,
        params: [1],
        statementClass: 'insert',
        settings,
        maxRows: 10,
        maxBytes: 10_000,
        types: new TypeCache(),
        session,
      })
      client.query(q)
      const outcome = await q.result
      await q.settled
      assert.equal(outcome.ok, false)
      assert.equal(!outcome.ok ? outcome.unexpected : null, 'session_shared')
      assert.equal(q.commitSent, false)
      // A batch the server refused leaves its transaction aborted; the driver's Lease would roll it back.
      await client.query('ROLLBACK')
      const n = await withAdmin(fx.url, async (c) => Number((await c.query(`SELECT count(*) AS n FROM ${schema.name}.items`)).rows[0].n))
      assert.equal(n, 0)
    }

    test('the driver’s check alone: a read gets none of its rows, and the connection is not clean', async () => {
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

    test('the driver’s check alone: a write commits nothing', async () => {
      await expectNothingWritten([...SETTINGS], (seen) => seen === 'theirs')
    })

    test('the server’s check alone: the batch stops at the settings, so the caller’s statement is never even parsed into the session', async () => {
      const statements = new SessionStatements()
      const read = (mark: string) => {
        // The driver's check would accept anything: only the server's can refuse.
        const q = new PortalQuery({ sql: 'SELECT 42', params: [], settings: [...settingsExpecting(mark)], maxRows: 10, maxBytes: 10_000, types: new TypeCache(), session: () => true, statements })
        client.query(q)
        return q
      }
      const served = await read('ours').result
      assert.equal(served.ok && served.value.rows.length, 1)
      await client.query('DEALLOCATE ALL')
      statements.delete(client.connection)
      const refused = await read('theirs').result
      assert.equal(refused.ok, false)
      assert.equal(!refused.ok && 'unexpected' in refused ? refused.unexpected : null, 'session_shared')
      await client.query('ROLLBACK')
      const kept = (await client.query<{ name: string }>('SELECT name FROM pg_catalog.pg_prepared_statements')).rows.map((r) => r.name)
      assert.ok(!kept.some((name) => USER_STATEMENT_NAMES.includes(name)), `the caller's statement was parsed: ${kept.join(', ')}`)
    })

    test('the server’s check alone: a write commits nothing', async () => {
      // The driver's check would accept anything: only the server's can refuse.
      await expectNothingWritten([...settingsExpecting('theirs')], () => true)
    })
  })
})
