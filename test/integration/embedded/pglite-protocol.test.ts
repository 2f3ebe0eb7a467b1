/**
 * What the Postgres driver relies on, checked against PGlite behind pglite-socket with a plain
 * `pg` client: read-only transactions, the extended protocol, cursors that stop at a row limit
 * (Execute with max rows → PortalSuspended), and which settings stay inside a transaction.
 * Some tests pin down surprising behaviour on purpose, so a PGlite upgrade that changes it shows.
 */
import assert from 'node:assert/strict'
import { connect as connectTcp, createConnection as connectUnix } from 'node:net'
import path from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../../src/exec/embedded/embedded-database.js'
import { captureLogger, makeTempDir } from './embedded-fixtures.js'

function pgError(code: string) {
  return (error: unknown) => (error as { code?: string }).code === code
}

describe('PGlite over pglite-socket, with a plain pg client', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>
  let db: EmbeddedDatabase
  const clients: pg.Client[] = []

  async function connect(user?: string): Promise<pg.Client> {
    const url = new URL(db.connectionString())
    if (user !== undefined) url.username = user
    const client = new pg.Client({ connectionString: url.toString() })
    client.on('error', () => undefined)
    await client.connect()
    clients.push(client)
    return client
  }

  before(async () => {
    tmp = await makeTempDir('pglite-protocol')
    db = await startEmbeddedDatabase({ dataDir: path.join(tmp.dir, 'demo'), logger: captureLogger().logger })
  })

  // pglite-socket accepts only a few connections (maxConnections); each test closes its own.
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)))
  })

  after(async () => {
    await db.close()
    await tmp.cleanup()
  })

  it('BEGIN READ ONLY is enforced by the engine, even for the superuser', async () => {
    const client = await connect()
    await client.query('RESET ROLE') // the session user is the bootstrap superuser
    try {
      assert.equal((await client.query<{ su: string }>("SELECT current_setting('is_superuser') AS su")).rows[0]?.su, 'on')
      await client.query('BEGIN READ ONLY')
      await assert.rejects(client.query("INSERT INTO customers (name, email, region, created_at) VALUES ('x', 'x@example.com', 'EU', now())"), pgError('25006'))
      await client.query('ROLLBACK')
      await client.query('BEGIN READ ONLY')
      await assert.rejects(client.query('CREATE TABLE t (x int)'), pgError('25006'))
      await client.query('ROLLBACK')
      await client.query('BEGIN READ ONLY')
      await assert.rejects(client.query("SELECT nextval('orders_id_seq')"), pgError('25006'))
      await client.query('ROLLBACK')
    } finally {
      await client.query('SET ROLE sqlwarden_reader')
    }
  })

  it('outside a transaction the session default is read-only too, and the reader cannot write anyway', async () => {
    const client = await connect()
    await assert.rejects(client.query('CREATE TABLE t (x int)'), pgError('25006'))
    await client.query('BEGIN READ WRITE')
    await assert.rejects(client.query("UPDATE products SET stock = 0"), pgError('42501'))
    await client.query('ROLLBACK')
    await assert.rejects(client.query("SELECT pg_read_file('PG_VERSION')"), pgError('42501'))
  })

  it('the extended protocol refuses a second statement', async () => {
    const client = await connect()
    await assert.rejects(
      client.query({ text: 'SELECT 1; SELECT 2', queryMode: 'extended' } as pg.QueryConfig & { queryMode: 'extended' }),
      pgError('42601'),
    )
    assert.deepEqual((await client.query('SELECT $1::int AS x', [7])).rows, [{ x: 7 }])
  })

  it('pg-cursor: Execute with a row limit suspends the portal and resumes it', async () => {
    const client = await connect()
    await client.query('BEGIN READ ONLY')
    const cursor = client.query(new Cursor<{ id: number }>('SELECT id FROM orders WHERE id <= $1 ORDER BY id', [10]))
    const read = (n: number) =>
      new Promise<{ id: number }[]>((resolve, reject) => cursor.read(n, (error, rows) => (error ? reject(error) : resolve(rows))))
    assert.deepEqual((await read(3)).map((r) => r.id), [1, 2, 3])
    assert.deepEqual((await read(3)).map((r) => r.id), [4, 5, 6])
    assert.deepEqual((await read(10)).map((r) => r.id), [7, 8, 9, 10])
    assert.deepEqual(await read(10), [])
    await new Promise<void>((resolve, reject) => cursor.close((error) => (error ? reject(error) : resolve())))
    await client.query('ROLLBACK')
    // The connection is still usable, and nothing of the transaction is left.
    assert.deepEqual((await client.query('SELECT 1 AS ok')).rows, [{ ok: 1 }])
  })

  it('pg-cursor: closing a suspended portal early leaves the connection clean', async () => {
    const client = await connect()
    await client.query('BEGIN READ ONLY')
    const cursor = client.query(new Cursor('SELECT g FROM generate_series(1, 1000000) g'))
    const rows = await new Promise<unknown[]>((resolve, reject) => cursor.read(501, (e, r) => (e ? reject(e) : resolve(r))))
    assert.equal(rows.length, 501)
    await new Promise<void>((resolve, reject) => cursor.close((error) => (error ? reject(error) : resolve())))
    await client.query('ROLLBACK')
    assert.deepEqual((await client.query('SELECT 2 AS ok')).rows, [{ ok: 2 }])
  })

  it('transaction-local settings do not leak to the next transaction or another connection', async () => {
    const a = await connect()
    const b = await connect()
    await a.query('BEGIN READ ONLY')
    await a.query("SET LOCAL statement_timeout = '1234ms'")
    await a.query("SET LOCAL search_path = pg_catalog")
    await a.query("SELECT set_config('sqlwarden.principal', 'alice', true)")
    const inside = await a.query<{ p: string; t: string }>(
      "SELECT current_setting('sqlwarden.principal', true) AS p, current_setting('statement_timeout') AS t",
    )
    assert.deepEqual(inside.rows, [{ p: 'alice', t: '1234ms' }])
    await a.query('ROLLBACK')
    for (const client of [a, b]) {
      const after = await client.query<{ p: string | null; t: string; s: string }>(
        "SELECT current_setting('sqlwarden.principal', true) AS p, current_setting('statement_timeout') AS t, current_setting('search_path') AS s",
      )
      assert.equal(after.rows[0]?.t, '0')
      assert.equal(after.rows[0]?.s, 'public')
      assert.ok(after.rows[0]?.p === '' || after.rows[0]?.p === null)
    }
  })

  it('another connection waits while one is inside a transaction (one backend, one transaction at a time)', async () => {
    const a = await connect()
    const b = await connect()
    await a.query('BEGIN READ ONLY')
    await a.query("SELECT set_config('sqlwarden.principal', 'alice', true)")
    let bDone = false
    const bQuery = b.query<{ p: string | null }>("SELECT current_setting('sqlwarden.principal', true) AS p").then((r) => {
      bDone = true
      return r
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(bDone, false, 'b is queued behind a’s transaction')
    await a.query('ROLLBACK')
    const p = (await bQuery).rows[0]?.p
    assert.ok(p === '' || p === null, 'b never sees a’s transaction-local setting')
  })

  it('KNOWN LIMITATION: session-level settings are shared by every connection', async () => {
    const a = await connect()
    const b = await connect()
    await a.query("SET application_name = 'set-by-a'")
    try {
      const seen = await b.query<{ v: string }>("SELECT current_setting('application_name') AS v")
      assert.equal(seen.rows[0]?.v, 'set-by-a')
    } finally {
      await a.query('RESET application_name')
    }
  })

  it('KNOWN LIMITATION: the startup user is ignored; every connection is the shared session', async () => {
    const client = await connect('no_such_role')
    const who = await client.query<{ cu: string; su: string }>('SELECT current_user AS cu, session_user AS su')
    assert.deepEqual(who.rows, [{ cu: 'sqlwarden_reader', su: 'postgres' }])
  })

  it('KNOWN LIMITATION: CancelRequest is ignored; the query runs to the end', async (t) => {
    const client = await connect()
    const keys = client as unknown as { processID: number | null; secretKey: number | null }
    t.diagnostic(`BackendKeyData: pid ${String(keys.processID)}, key ${String(keys.secretKey)}`)
    const started = Date.now()
    const running = client.query('SELECT pg_sleep(1.5)')
    await new Promise((resolve) => setTimeout(resolve, 200))
    // A CancelRequest as libpq sends it: a fresh connection, 16 bytes, no reply.
    const url = new URL(db.connectionString())
    const host = decodeURIComponent(url.hostname)
    const socket = host === '127.0.0.1' ? connectTcp(Number(url.port), host) : connectUnix(path.join(host, '.s.PGSQL.5432'))
    const packet = Buffer.alloc(16)
    packet.writeInt32BE(16, 0)
    packet.writeInt32BE(80877102, 4)
    packet.writeInt32BE(keys.processID ?? 0, 8)
    packet.writeInt32BE(keys.secretKey ?? 0, 12)
    socket.on('error', () => undefined)
    socket.end(packet)
    await running
    assert.ok(Date.now() - started >= 1_400, 'the sleep was not cancelled')
  })
})
