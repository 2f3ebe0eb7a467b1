/**
 * Identity in the database: each call runs with a transaction-local role (SET LOCAL ROLE through
 * set_config) and `sqlwarden.principal`, so grants and row-level security apply to raw SQL; two
 * principals see different rows from the same SQL, and nothing of one call's identity is left on
 * the pooled connection for the next (pool of one, so it is the same backend).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { expectOk, openDriver, request, type DriverFixture } from './postgres-fixture.js'
import { uniqueName, withAdmin } from '../../helpers/postgres-env.js'

describe('postgres driver: identity-bound sessions', () => {
  let fx: DriverFixture
  const schema = uniqueName('sw_identity')
  const role = `${schema}_reader`
  const ungranted = `${schema}_nogrant`

  before(async () => {
    fx = await openDriver({ poolSize: 1 })
    await withAdmin(fx.url, async (admin) => {
      await admin.query(`CREATE SCHEMA ${schema}`)
      await admin.query(`CREATE TABLE ${schema}.docs (id int, owner text, body text)`)
      await admin.query(`INSERT INTO ${schema}.docs VALUES (1, 'alice', 'a1'), (2, 'alice', 'a2'), (3, 'bob', 'b1')`)
      await admin.query(`ALTER TABLE ${schema}.docs ENABLE ROW LEVEL SECURITY`)
      await admin.query(`CREATE POLICY by_owner ON ${schema}.docs USING (owner = current_setting('sqlwarden.principal', true))`)
      await admin.query(`CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOBYPASSRLS`)
      await admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`)
      await admin.query(`GRANT SELECT ON ${schema}.docs TO ${role}`)
      await admin.query(`CREATE ROLE ${ungranted} NOLOGIN NOSUPERUSER NOBYPASSRLS`)
      await admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${ungranted}`)
    })
  })

  after(async () => {
    await fx.driver.close()
    await withAdmin(fx.url, async (admin) => {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
      await admin.query(`DROP ROLE ${role}`)
      await admin.query(`DROP ROLE ${ungranted}`)
    })
  })

  const read = (sql: string, identity?: { dbRole: string | null; principal: string }) =>
    fx.driver.read({ ...request(sql), limits: { ...request(sql).limits, ...(identity ? { identity } : {}) } })

  test('two principals see different rows from the same SQL (row-level security)', async () => {
    const sql = `SELECT id FROM ${schema}.docs ORDER BY id`
    assert.deepEqual(expectOk(await read(sql, { dbRole: role, principal: 'alice' })).rows, [[1], [2]])
    assert.deepEqual(expectOk(await read(sql, { dbRole: role, principal: 'bob' })).rows, [[3]])
    assert.deepEqual(expectOk(await read(sql, { dbRole: role, principal: 'mallory' })).rows, [])
  })

  test('the role and principal are transaction-local: the next call on the same backend has neither', async () => {
    const who = `SELECT current_user, current_setting('sqlwarden.principal', true), pg_backend_pid()`
    const first = expectOk(await read(who, { dbRole: role, principal: 'alice' }))
    assert.equal(first.rows[0]?.[0], role)
    assert.equal(first.rows[0]?.[1], 'alice')
    const next = expectOk(await read(who))
    assert.equal(next.rows[0]?.[2], first.rows[0]?.[2], 'same pooled backend')
    assert.notEqual(next.rows[0]?.[0], role)
    assert.equal(next.rows[0]?.[1], '')
  })

  test('grants apply: the mapped role cannot read what it was not granted', async () => {
    const r = await read('SELECT count(*) FROM pg_authid', { dbRole: role, principal: 'alice' })
    assert.ok(!r.ok && r.code === 'ERR_EXEC_PERMISSION_DENIED')
  })

  test('claims reach SQL as sqlwarden.claim.<name>, for row-level security by claim, and do not outlive the call', async () => {
    const sql = `SELECT current_setting('sqlwarden.claim.region', true) AS region, current_setting('sqlwarden.claim.tier', true) AS tier`
    const withClaims = expectOk(await fx.driver.read({ ...request(sql), limits: { ...request(sql).limits, identity: { dbRole: role, principal: 'alice', claims: { region: "EU'; DROP", tier: '3' } } } }))
    assert.deepEqual(withClaims.rows, [["EU'; DROP", '3']])
    const next = expectOk(await read(sql))
    assert.deepEqual(next.rows, [['', '']])
  })

  test('a claim name that is not a lower-case identifier never reaches the database', async () => {
    const r = await fx.driver.read({ ...request('SELECT 1'), limits: { ...request('SELECT 1').limits, identity: { dbRole: null, principal: 'a', claims: { "x') --": 'v' } } } })
    assert.ok(!r.ok && r.code === 'ERR_INTERNAL')
    assert.deepEqual(expectOk(await read('SELECT 1')).rows, [[1]], 'the pool is intact')
  })

  test('a role that does not exist fails the call (fail closed), with no rows', async () => {
    const r = await read(`SELECT id FROM ${schema}.docs`, { dbRole: 'no_such_role_xyz', principal: 'alice' })
    assert.equal(r.ok, false)
  })

  test('a read statement the session keeps parsed is checked again under each call\'s role: row-level security and privileges', async () => {
    // Pool of one: every call below binds the statement the first one left parsed in the session.
    const sql = `SELECT id FROM ${schema}.docs ORDER BY id /* kept across roles */`
    const kept = "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%kept ' || 'across roles%'"
    // The fixture's session role owns the table (row security does not apply to it): every row.
    assert.deepEqual(expectOk(await read(sql)).rows, [[1], [2], [3]])
    assert.deepEqual(expectOk(await read(kept)).rows, [['1']])
    // The mapped role: row-level security applies to the kept statement.
    assert.deepEqual(expectOk(await read(sql, { dbRole: role, principal: 'bob' })).rows, [[3]])
    assert.deepEqual(expectOk(await read(sql, { dbRole: role, principal: 'alice' })).rows, [[1], [2]])
    // A role without SELECT on the table is refused by the engine, kept statement or not.
    assert.equal((await read(sql, { dbRole: ungranted, principal: 'alice' })).ok, false)
    // And the owner again sees every row: nothing of the restricted plans stayed with the statement.
    assert.deepEqual(expectOk(await read(sql)).rows, [[1], [2], [3]])
    assert.deepEqual(expectOk(await read(sql, { dbRole: role, principal: 'mallory' })).rows, [])
    assert.deepEqual(expectOk(await read(kept)).rows, [['1']], 'one copy of the statement in the session, whatever the roles')
    // Past the five custom plans after which PostgreSQL may switch a kept statement to a generic
    // plan: alternating principals still see only their own rows.
    for (let i = 0; i < 12; i++) {
      const bob = i % 2 === 0
      assert.deepEqual(expectOk(await read(sql, { dbRole: role, principal: bob ? 'bob' : 'alice' })).rows, bob ? [[3]] : [[1], [2]])
    }
  })
})
