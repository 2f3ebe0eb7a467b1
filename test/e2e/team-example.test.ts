/**
 * examples/team.yaml, run as shipped by the built CLI (only the port is overridden with
 * `--http 127.0.0.1:0`, which replaces http.listen), driven over Streamable HTTP by the SDK client
 * with the two demo keys written in the file. The support key sees only its region's customers
 * through row-level security and cannot read orders (the policy, and the role's grants behind
 * it); the analyst sees everything, with the customers' PII masked; a wrong key gets 401.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { DEMO_COUNTS, DEMO_REGIONS } from '../../src/exec/embedded/demo-dataset.js'
import { startEmbeddedDatabase } from '../../src/exec/embedded/embedded-database.js'
import { EMBEDDED_DIR_NAME } from '../../src/exec/embedded/embedded-paths.js'
import { startHttpCli, type HttpServerProcess } from '../helpers/cli-process.js'
import { assertRefused, call, textOf } from './tool-scenarios.js'

const TEAM_YAML = fileURLToPath(new URL('../../examples/team.yaml', import.meta.url))
const ANALYST_KEY = 'demo-analyst-key'
const SUPPORT_KEY = 'demo-support-key'
const SUPPORT_REGION = 'EU'

let cache = ''
let server: HttpServerProcess
let analyst: Client
let support: Client

before(async () => {
  // A private cache, so no other test shares the embedded build. The first build is done here,
  // with the build's own generous time limit, so the CLI's start only copies the template.
  cache = mkdtempSync(join(tmpdir(), 'sqlwarden-e2e-team-'))
  const prebuilt = await startEmbeddedDatabase({ dataDir: join(cache, EMBEDDED_DIR_NAME), logger: pino({ level: 'silent' }) })
  await prebuilt.close()
  server = await startHttpCli(['--config', TEAM_YAML, '--http', '127.0.0.1:0'], { SQLWARDEN_CACHE_DIR: cache })
  const connect = async (key: string) => {
    const client = new Client({ name: 'e2e-team-example', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
    )
    return client
  }
  analyst = await connect(ANALYST_KEY)
  support = await connect(SUPPORT_KEY)
})

after(async () => {
  await analyst?.close()
  await support?.close()
  await server?.stop()
  if (cache !== '') rmSync(cache, { recursive: true, force: true })
})

async function rows(client: Client, sql: string): Promise<unknown[][]> {
  const r = await call(client, 'query', { sql })
  assert.equal(r.isError, undefined, textOf(r))
  return r.structuredContent?.rows as unknown[][]
}

test('the same SQL gives the support key only its region of customers, and the analyst all of them', async () => {
  const sql = 'SELECT count(*) AS n, count(DISTINCT region) AS regions, min(region) AS region FROM customers'
  const [all] = await rows(analyst, sql)
  const [mine] = await rows(support, sql)
  assert.deepEqual(all, [String(DEMO_COUNTS.customers), String(DEMO_REGIONS.length), 'APAC'])
  const [[regionCount]] = (await rows(analyst, `SELECT count(*) FROM customers WHERE region = '${SUPPORT_REGION}'`)) as [[string]]
  assert.deepEqual(mine, [regionCount, '1', SUPPORT_REGION])
  assert.ok(Number(regionCount) > 0 && Number(regionCount) < DEMO_COUNTS.customers)

  const listSql = 'SELECT id, region FROM customers ORDER BY id LIMIT 20'
  const supportRows = await rows(support, listSql)
  assert.ok(supportRows.length > 0 && supportRows.every((row) => row[1] === SUPPORT_REGION))
  assert.notDeepEqual(await rows(analyst, listSql), supportRows)
})

test('the support key cannot read orders: refused by the policy, the same way as a missing table', async () => {
  const refused = await call(support, 'query', { sql: 'SELECT * FROM orders' })
  assertRefused(refused, 'ERR_POLICY_DENIED')
  assert.doesNotMatch(textOf(refused), /permission denied|42501|demo_support/)
  assertRefused(await call(support, 'query', { sql: 'SELECT * FROM order_summary' }), 'ERR_POLICY_DENIED')
  assertRefused(await call(support, 'query', { sql: 'SELECT * FROM no_such_table' }), 'ERR_POLICY_DENIED')
  // A forbidden table looks like a missing one to describe_table, and list_tables does not show it.
  assertRefused(await call(support, 'describe_table', { table: 'orders' }), 'ERR_EXEC_UNDEFINED_OBJECT')
  const listed = await call(support, 'list_tables', {})
  assert.deepEqual((listed.structuredContent?.tables as { name: string }[]).map((t) => t.name).sort(), ['customers', 'products'])
})

test('the analyst gets the customers\u2019 PII masked, whatever the statement does with it', async () => {
  const [[name, email, phone]] = (await rows(analyst, 'SELECT name, email, phone FROM customers ORDER BY id LIMIT 1')) as [[string, string, string]]
  assert.match(name, /^.\*\*\*$/)
  assert.match(email, /^[0-9a-f]{64}$/)
  assert.match(phone, /^\*\*\*\d{4}$/)
  // Through an expression, a subquery and a predicate: still the masked values.
  assert.deepEqual(await rows(analyst, "SELECT count(*) FROM customers WHERE email LIKE '%@%'"), [['0']])
  const [[lower]] = (await rows(analyst, 'SELECT lower(e) FROM (SELECT email AS e FROM customers ORDER BY id LIMIT 1) s')) as [[string]]
  assert.equal(lower, email)
  const text = textOf(await call(analyst, 'query', { sql: 'SELECT * FROM customers LIMIT 50' }))
  assert.doesNotMatch(text, /@/)
  const described = await call(analyst, 'describe_table', { table: 'customers' })
  const columns = described.structuredContent?.columns as { name: string; mask?: string }[]
  assert.deepEqual(columns.filter((c) => c.mask).map((c) => `${c.name}:${c.mask}`), ['name:partial', 'email:hash', 'phone:partial'])
})

test('the analyst reads orders in full; a view over the masked names is refused, not unmasked', async () => {
  assert.deepEqual(await rows(analyst, 'SELECT count(*) FROM orders'), [[String(DEMO_COUNTS.orders)]])
  assertRefused(await call(analyst, 'query', { sql: 'SELECT count(*) FROM order_summary' }), 'ERR_POLICY_DENIED')
})

test('tools and limits follow the inline policy', async () => {
  assert.equal((await analyst.listTools()).tools.length, 5)
  assert.deepEqual((await support.listTools()).tools.map((t) => t.name).sort(), ['describe_table', 'list_tables', 'query'])
  assertRefused(await call(support, 'explain', { sql: 'SELECT 1' }), 'ERR_POLICY_DENIED')
  const capped = await call(support, 'query', { sql: 'SELECT * FROM products' })
  assert.equal(capped.structuredContent?.row_count, 100, textOf(capped))
  assert.equal(capped.structuredContent?.truncated, true)
})

function post(headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(server.url)
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} })
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      },
      (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

test('a wrong key or no key gets 401, and no demo key reaches the log', async () => {
  const wrong = await post({ authorization: 'Bearer demo-intruder-key' })
  assert.equal(wrong.status, 401)
  assert.equal(JSON.parse(wrong.body).error.code, 'ERR_AUTH_INVALID')
  assert.equal((await post({})).status, 401)
  assert.doesNotMatch(server.stderr(), /demo-(analyst|support|intruder)-key/)
})
