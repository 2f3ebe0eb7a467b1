/**
 * The source database killed and restarted under load (issue 5, faults): a private PostgreSQL
 * (initdb on a free port, never the shared one) behind the real CLI over HTTP, with the audit
 * trail and a quota store on. While the database is down, calls fail closed with stable codes and
 * nothing crashes; within 5 s of its return calls are served again; afterwards its connections
 * are back to the pool's size (no leak), and every call the clients made has its audit record.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { hashApiKey } from '../../src/auth/api-keys.js'
import { assertBuilt, runCli, startHttpCli, writeTempConfig, type HttpServerProcess } from '../helpers/cli-process.js'
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-stores.js'

const KEY = 'swk_source_fault_e2e_0123456789abcdefghij'
let db: PrivatePostgres
let server: HttpServerProcess
let audit = ''

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: db.url })
  await c.connect()
  try {
    return await work(c)
  } finally {
    await c.end()
  }
}

before(async () => {
  assertBuilt()
  db = await startPrivatePostgres()
  await admin(async (c) => {
    await c.query('CREATE ROLE sw_fault_reader LOGIN NOSUPERUSER NOBYPASSRLS')
    await c.query('CREATE TABLE items (id int PRIMARY KEY, name text)')
    await c.query("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g")
    await c.query('GRANT SELECT ON items TO sw_fault_reader')
  })
  audit = join(mkdtempSync(join(tmpdir(), 'sw-source-fault-')), 'audit.jsonl')
  const url = new URL(db.url)
  url.username = 'sw_fault_reader'
  const config = writeTempConfig(
    `sources:\n  main:\n    kind: postgres\n    url: ${url.toString()}\n    poolSize: 4\n` +
      `auth:\n  apiKeys:\n    - principal: ops\n      roles: [default]\n      hash: ${hashApiKey(KEY)}\n` +
      `audit:\n  file: ${audit}\n` +
      `quotas:\n  store: memory\n  defaults:\n    calls: { limit: 100000, window: 1m }\n`,
  )
  server = await startHttpCli(['--config', config, '--http', '127.0.0.1:0'])
})

after(async () => {
  await server?.stop()
  await db?.destroy()
})

test('the source database killed and restarted mid-run: fail closed, no crash, back within 5 s, no leak, every call audited', { timeout: 120_000 }, async () => {
  const clients = await Promise.all(
    Array.from({ length: 4 }, async (_, i) => {
      const c = new Client({ name: `fault-${i}`, version: '1' })
      await c.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${KEY}` } } }))
      return c
    }),
  )
  let made = 0
  const codes = new Map<string, number>()
  let stop = false
  let lastOk = 0
  const drive = async (c: Client) => {
    while (!stop) {
      made += 1
      const r = await c.callTool({ name: 'query', arguments: { sql: 'SELECT name FROM items WHERE id = $1', params: [1 + (made % 1000)] } })
      const code = r.isError === true ? ((r._meta?.['sqlwarden/error'] as { code?: string } | undefined)?.code ?? 'unknown') : 'ok'
      codes.set(code, (codes.get(code) ?? 0) + 1)
      if (code === 'ok') lastOk = Date.now()
      else await new Promise((res) => setTimeout(res, 50))
    }
  }
  const drivers = clients.map(drive)
  await new Promise((r) => setTimeout(r, 1_000))
  assert.ok((codes.get('ok') ?? 0) > 0, 'served before the fault')

  await db.kill()
  const downAt = Date.now()
  await new Promise((r) => setTimeout(r, 2_000))
  const health = await fetch(server.url.replace('/mcp', '/healthz'))
  assert.equal(health.status, 200, 'the server is alive while the database is down')
  assert.ok(lastOk < downAt + 500, 'no call was served while the database was down')

  await db.start()
  const upAt = Date.now()
  while (lastOk < upAt && Date.now() - upAt < 5_000) await new Promise((r) => setTimeout(r, 50))
  assert.ok(lastOk >= upAt, `served again within 5 s of the database returning (codes: ${JSON.stringify([...codes])})`)
  stop = true
  await Promise.all(drivers)
  await Promise.all(clients.map((c) => c.close()))

  const refused = [...codes].filter(([code]) => code !== 'ok')
  assert.ok(refused.length > 0, 'calls were refused while the database was down')
  for (const [code] of refused) assert.match(code, /^ERR_(SOURCE_UNAVAILABLE|EXEC_[A-Z_]+)$/, `a stable code: ${code}`)

  // No leaked connections: at most the pool's size from sqlwarden's role.
  const connections = await admin(async (c) =>
    Number((await c.query("SELECT count(*) AS n FROM pg_stat_activity WHERE usename = 'sw_fault_reader'")).rows[0].n),
  )
  assert.ok(connections <= 4, `${connections} connections (pool size 4)`)

  // Every call has its audit record, and the trail verifies.
  const records = readFileSync(audit, 'utf8').split('\n').filter((l) => l.includes('"kind":"call"')).length
  assert.equal(records, made)
  assert.equal((await runCli(['audit', 'verify', audit])).code, 0)
})
