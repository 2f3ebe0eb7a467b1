/**
 * I7: a pooled connection carries nothing from one call to the next. With poolSize 1 every call
 * reuses the same backend unless the driver destroyed it, so "same pid and no state" proves the
 * ROLLBACK (and, for session advisory locks, the release after it) cleaned up, and "new pid" proves
 * the leak check refused to reuse a dirty session.
 * These statements go straight to the driver, as if SQL analysis had let them through.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { JsonValue } from '../../../src/exec/drivers/driver.js'
import pg from 'pg'
import { PortalQuery, type PortalOutcome, type PortalSettled } from '../../../src/exec/drivers/postgres/postgres-portal-query.js'
import { OWN_STATEMENT_NAMES, STATEMENT_NAMES, USER_STATEMENT_NAMES } from '../../../src/exec/drivers/postgres/postgres-read-sql.js'
import { SessionStatements } from '../../../src/exec/drivers/postgres/postgres-session-statements.js'
import { TypeCache } from '../../../src/exec/drivers/postgres/postgres-types.js'
import { requirePostgres, withAdmin } from '../../helpers/postgres-env.js'
import { expectFail, expectOk, openDriver, request, settle, type DriverFixture } from './postgres-fixture.js'

/** The driver's own protocol-level statements (postgres-session-statements.ts); any other prepared statement counts. */
const OURS = `'{${OWN_STATEMENT_NAMES.join(',')}}'::text[]`
const STATE_SQL = `SELECT pg_backend_pid(),
  current_setting('x.y', true), current_setting('work_mem'), current_user::text,
  (SELECT count(*) FROM pg_prepared_statements WHERE from_sql OR NOT (name = ANY (${OURS}))), (SELECT count(*) FROM pg_listening_channels()),
  (SELECT count(*) FROM pg_cursors WHERE name <> ''), (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
  (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema())`

describe('postgres driver: connection hygiene (poolSize 1)', () => {
  let fx: DriverFixture
  let defaultWorkMem: string

  before(async () => {
    await requirePostgres()
    fx = await openDriver({ poolSize: 1 })
    defaultWorkMem = await withAdmin(fx.url, async (c) => (await c.query<{ w: string }>("SELECT current_setting('work_mem') AS w")).rows[0]?.w ?? '')
  })

  after(async () => {
    await fx?.driver.close()
  })

  /** The next call's view of its session: pid plus everything that must be empty. */
  async function state(): Promise<{ pid: number; rest: JsonValue[] }> {
    await settle() // ROLLBACK runs after the result is returned
    const row = expectOk(await fx.driver.read(request(STATE_SQL))).rows[0] ?? []
    // After ROLLBACK a custom setting reads '' rather than NULL (DESIGN §5): the placeholder name
    // stays known to the session, its value does not. Both mean "not set".
    return { pid: row[0] as number, rest: [row[1] === '' ? null : (row[1] ?? null), ...row.slice(2)] }
  }

  const cleanState = () => [null, defaultWorkMem, 'postgres', '0', '0', '0', '0', '0']

  /**
   * A raw pg session driven by PortalQuery and one SessionStatements, as the driver does but with
   * no Lease: the test sees each batch's outcome, settled state and whether it bound a kept slot.
   */
  async function withRawSession(
    options: { speculative?: boolean },
    body: (client: pg.Client, run: (sql: string) => Promise<{ result: PortalOutcome; settled: PortalSettled; boundKept: boolean }>) => Promise<void>,
  ): Promise<void> {
    const client = new pg.Client({ connectionString: fx.url })
    await client.connect()
    try {
      const statements = new SessionStatements()
      await body(client, async (sql) => {
        const q = new PortalQuery({ sql, params: [], settings: ['5000', '1000', '10000', 'public', null, '', null, '{}'], maxRows: 10, maxBytes: 10_000, types: new TypeCache(), session: null, statements, ...options })
        client.query(q)
        return { result: await q.result, settled: await q.settled, boundKept: q.boundKept }
      })
    } finally {
      await client.end()
    }
  }

  test('set_config(…, false) inside the read is reverted by ROLLBACK; the connection is reused', async () => {
    const before = await state()
    expectOk(await fx.driver.read(request("SELECT set_config('x.y', '1', false), set_config('work_mem', '7MB', false), set_config('role', 'pg_monitor', false)")))
    const next = await state()
    assert.equal(next.pid, before.pid)
    assert.deepEqual(next.rest, cleanState())
  })

  test('a temp table cannot be created in the read-only transaction', async () => {
    const before = await state()
    expectFail(await fx.driver.read(request('CREATE TEMP TABLE t (x int)')), 'ERR_EXEC_READ_ONLY_VIOLATION')
    expectFail(await fx.driver.read(request('SELECT 1 INTO TEMP t2')), 'ERR_EXEC_READ_ONLY_VIOLATION')
    const next = await state()
    assert.equal(next.pid, before.pid)
    assert.deepEqual(next.rest, cleanState())
  })

  test('a transaction-level advisory lock ends with ROLLBACK; the connection is reused', async () => {
    const before = await state()
    expectOk(await fx.driver.read(request('SELECT pg_advisory_xact_lock(4241)')))
    const next = await state()
    assert.equal(next.pid, before.pid)
    assert.deepEqual(next.rest, cleanState())
  })

  for (const lock of ['pg_advisory_lock(4242)', 'pg_advisory_lock_shared(4242)', 'pg_try_advisory_lock(4242)']) {
    test(`a session advisory lock (${lock}) survives ROLLBACK, and is released before the call ends; the connection is reused (D31)`, async () => {
      const before = await state()
      expectOk(await fx.driver.read(request(`SELECT ${lock}`)))
      // Released in the batch that rolls the call back, before the connection may be reused.
      await settle()
      const held = await withAdmin(fx.url, async (c) => (await c.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242")).rowCount ?? 0)
      assert.equal(held, 0, 'the advisory lock is still held')
      const next = await state()
      assert.equal(next.pid, before.pid)
      assert.deepEqual(next.rest, cleanState())
    })
  }

  test('PREPARE is not transactional; the connection is destroyed, not reused', async () => {
    const before = await state()
    const r = await fx.driver.read(request('PREPARE leaked AS SELECT 1'))
    assert.equal(r.ok, false)
    const next = await state()
    assert.notEqual(next.pid, before.pid)
    assert.deepEqual(next.rest, cleanState())
  })

  test('LISTEN in a read-only transaction is undone by ROLLBACK and never reaches the next call', async () => {
    await state()
    const r = await fx.driver.read(request('LISTEN sw_channel'))
    assert.equal(r.ok, false) // not a read: refused as an unexpected command
    const next = await state()
    assert.deepEqual(next.rest, cleanState())
  })

  test('a WITH HOLD cursor declared in the read does not survive it', async () => {
    await state()
    const r = await fx.driver.read(request('DECLARE c CURSOR WITH HOLD FOR SELECT 1'))
    assert.equal(r.ok, false)
    const next = await state()
    assert.deepEqual(next.rest, cleanState())
  })

  test('pg_notify inside the read is discarded by ROLLBACK', async () => {
    await withAdmin(fx.url, async (admin) => {
      const received: string[] = []
      admin.on('notification', (n) => received.push(n.payload ?? ''))
      await admin.query('LISTEN sw_notify')
      const before = await state()
      expectOk(await fx.driver.read(request("SELECT pg_notify('sw_notify', 'leaked')")))
      const next = await state()
      assert.equal(next.pid, before.pid)
      await admin.query('SELECT 1')
      await settle(200)
      assert.deepEqual(received, [])
    })
  })

  test('after a failed statement the connection is rolled back and reused', async () => {
    const before = await state()
    expectFail(await fx.driver.read(request('SELECT 1/0')), 'ERR_EXEC_INVALID_INPUT')
    const next = await state()
    assert.equal(next.pid, before.pid)
    assert.deepEqual(next.rest, cleanState())
  })

  test('the leak check counts every kind of session state a ROLLBACK leaves behind', async () => {
    const client = new pg.Client({ connectionString: fx.url })
    await client.connect()
    try {
      const run = async (sql: string) => {
        const q = new PortalQuery({ sql, params: [], settings: ['5000', '1000', '10000', 'public', null, '', null, '{}'], maxRows: 10, maxBytes: 10_000, types: new TypeCache(), session: null })
        client.query(q)
        await q.result
        return q.settled
      }
      // In-transaction LISTEN and WITH HOLD cursors are undone by the ROLLBACK itself.
      assert.equal((await run('LISTEN sw_rolled_back')).leaked, 0)
      assert.equal((await run('DECLARE c CURSOR WITH HOLD FOR SELECT 1')).leaked, 0)
      // State created outside a read (committed) is what the check exists to catch.
      assert.deepEqual(await run('SELECT 1'), { clean: true, needsRollback: false, leaked: 0 })
      await client.query('PREPARE p1 AS SELECT 1')
      assert.deepEqual(await run('SELECT 1'), { clean: false, needsRollback: false, leaked: 1 })
      await client.query('LISTEN sw_committed')
      assert.equal((await run('SELECT 1')).leaked, 2)
      await client.query('BEGIN; DECLARE held CURSOR WITH HOLD FOR SELECT 1; COMMIT')
      assert.equal((await run('SELECT 1')).leaked, 3)
      // A session advisory lock is not counted but released (D31).
      await client.query('SELECT pg_advisory_lock(4243)')
      assert.equal((await run('SELECT 1')).leaked, 3)
      assert.equal((await client.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")).rowCount, 0)
    } finally {
      await client.end()
    }
  })
  test('the only statements a session keeps are the driver\'s own: its fixed ones, and the reads it ran, by exact text', async () => {
    await state()
    const kept = `SELECT name, from_sql, statement, pg_backend_pid() FROM pg_prepared_statements ORDER BY name`
    const first = expectOk(await fx.driver.read(request(kept))).rows
    await settle()
    const second = expectOk(await fx.driver.read(request(kept))).rows
    const fixed = first.filter((r) => (Object.values(STATEMENT_NAMES) as string[]).includes(r[0] as string))
    assert.deepEqual(
      fixed.map((r) => [r[0], r[1]]),
      Object.values(STATEMENT_NAMES)
        .sort()
        .map((name) => [name, false]),
    )
    for (const row of first) {
      assert.ok(OWN_STATEMENT_NAMES.includes(row[0] as string), `${String(row[0])} is one of the driver's names`)
      assert.equal(row[1], false, 'none is SQL-level')
    }
    // The read itself is kept under a read slot, with exactly its text.
    assert.ok(first.some((r) => USER_STATEMENT_NAMES.includes(r[0] as string) && r[2] === kept))
    // Same backend, same statements: the second run bound the kept one; nothing piled up.
    assert.deepEqual(second, first)
  })

  test('a session keeps at most its read slots, and the least recently used text gives way', async () => {
    await state()
    for (let i = 0; i < USER_STATEMENT_NAMES.length + 5; i++) expectOk(await fx.driver.read(request(`SELECT ${i} AS n`)))
    await settle()
    const rows = expectOk(
      await fx.driver.read(request("SELECT count(*), count(DISTINCT statement), bool_or(statement = 'SELECT 0 AS n') FROM pg_prepared_statements WHERE name LIKE 'sqlwarden\\_read\\_%'")),
    ).rows
    assert.deepEqual(rows[0], [String(USER_STATEMENT_NAMES.length), String(USER_STATEMENT_NAMES.length), false])
    const next = await state()
    assert.deepEqual(next.rest, cleanState())
  })

  test('a kept statement whose result type changed under it is parsed again, and the call succeeds', async () => {
    await withAdmin(fx.url, async (c) => {
      await c.query('DROP TABLE IF EXISTS public.sw_kept_shape')
      await c.query('CREATE TABLE public.sw_kept_shape (a int)')
      await c.query('INSERT INTO public.sw_kept_shape VALUES (1)')
      await c.query('GRANT SELECT ON public.sw_kept_shape TO PUBLIC')
    })
    try {
      const sql = 'SELECT * FROM public.sw_kept_shape'
      const before = await state()
      assert.deepEqual(expectOk(await fx.driver.read(request(sql))).rows, [[1]])
      await settle()
      await withAdmin(fx.url, (c) => c.query("ALTER TABLE public.sw_kept_shape ADD COLUMN b text DEFAULT 'x'"))
      const after = expectOk(await fx.driver.read(request(sql)))
      assert.deepEqual(after.rows, [[1, 'x']])
      assert.deepEqual(after.columns.map((c) => c.name), ['a', 'b'])
      const next = await state()
      assert.equal(next.pid, before.pid, 'the connection was rolled back, checked and kept')
      assert.deepEqual(next.rest, cleanState())
    } finally {
      await withAdmin(fx.url, (c) => c.query('DROP TABLE IF EXISTS public.sw_kept_shape'))
    }
  })

  test('DEALLOCATE of a kept statement, let through to the driver, is refused and the session is not reused', async () => {
    const sql = "SELECT 'kept' AS k"
    await state()
    expectOk(await fx.driver.read(request(sql)))
    const before = await state()
    const slot = expectOk(await fx.driver.read(request(`SELECT name FROM pg_prepared_statements WHERE statement = '${sql.replace(/'/g, "''")}'`))).rows[0]?.[0]
    assert.ok(typeof slot === 'string')
    await settle()
    // The engine runs DEALLOCATE in a read-only transaction; its command tag is not a read's.
    expectFail(await fx.driver.read(request(`DEALLOCATE ${slot}`)), 'ERR_EXEC_QUERY_FAILED')
    const next = await state()
    assert.notEqual(next.pid, before.pid, 'the session that lost a statement was destroyed')
    assert.deepEqual(expectOk(await fx.driver.read(request(sql))).rows, [['kept']])
  })

  test('a kept statement the session lost fails as 26000 and is marked as bound from a slot (the driver then parses it again)', async () => {
    await withRawSession({ speculative: true }, async (client, run) => {
      const first = await run('SELECT 1')
      assert.equal(first.boundKept, false)
      assert.equal(first.settled.clean, true)
      const second = await run('SELECT 1')
      assert.equal(second.boundKept, true)
      assert.equal(second.settled.clean, true)
      await client.query('DEALLOCATE sqlwarden_read_0')
      const lost = await run('SELECT 1')
      assert.equal(lost.boundKept, true)
      assert.equal(lost.result.ok, false)
      assert.equal((lost.result as { error?: { code?: string } }).error?.code, '26000')
      await client.query('ROLLBACK')
      // The failure made the session forget its slots: the next run parses the statement again.
      const again = await run('SELECT 1')
      assert.equal(again.boundKept, false)
      assert.equal(again.result.ok, true)
      assert.equal(again.settled.clean, true)
    })
  })

  test('a SQL-level PREPARE cannot take one of the driver\'s statement names', async () => {
    const before = await state()
    const r = await fx.driver.read(request(`PREPARE ${STATEMENT_NAMES.check} AS SELECT 0, 0, 0, 0`))
    assert.equal(r.ok, false)
    const next = await state()
    assert.equal(next.pid, before.pid)
    assert.deepEqual(next.rest, cleanState())
  })

  test('the leak check counts a protocol-level prepared statement that is not the driver\'s own', async () => {
    await withRawSession({}, async (client, run) => {
      assert.deepEqual((await run('SELECT 1')).settled, { clean: true, needsRollback: false, leaked: 0 })
      await client.query({ name: 'not_ours', text: 'SELECT 1' })
      assert.deepEqual((await run('SELECT 1')).settled, { clean: false, needsRollback: false, leaked: 1 })
      await client.query('DEALLOCATE not_ours')
      await client.query(`PREPARE ${STATEMENT_NAMES.begin.replace('begin', 'other')} AS SELECT 1`)
      assert.deepEqual((await run('SELECT 1')).settled, { clean: false, needsRollback: false, leaked: 1 })
    })
  })

  test('a session that lost the driver\'s statements fails one call, then parses them again', async () => {
    await withRawSession({}, async (client, run) => {
      // A failing first call: the batch ends in an error, so the session is not marked as prepared.
      const failed = await run('SELECT 1/0')
      assert.equal(failed.result.ok, false)
      await client.query('ROLLBACK')
      assert.equal((await run('SELECT 1')).settled.clean, true)
      // Statements dropped behind the driver's back: it parses them again instead of failing.
      await client.query('DEALLOCATE ALL')
      const dropped = await run('SELECT 2')
      assert.equal(dropped.result.ok, false, 'a marked session without its statements fails the call')
      await client.query('ROLLBACK')
      const again = await run('SELECT 3')
      assert.equal(again.result.ok, true)
      assert.equal(again.settled.clean, true)
    })
  })
})
