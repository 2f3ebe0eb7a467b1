/**
 * Writes end to end (issue 3) through the real CLI and the MCP SDK's Client, against the loopback
 * PostgreSQL: the user's confirmation over stdio (2025-era elicitation and the 2026-07-28
 * input-required flow) and over stateless HTTP (input-required; a 2025-era HTTP request cannot be
 * asked and is refused). Accept writes the row; decline, a client without elicitation, or a
 * principal without write access writes nothing. The mapped role's grants are the second layer.
 * Unique schema and role names; everything is dropped afterwards.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { ADMIN_URL } from '../helpers/e2e-fixture.js'
import { assertBuilt, CLI, startHttpCli, writeTempConfig, type HttpServerProcess } from '../helpers/cli-process.js'
import { uniqueName } from '../helpers/postgres-env.js'
import { assertRefused, call } from './tool-scenarios.js'

const schema = uniqueName('sw_write')
const login = uniqueName('sw_wlogin')
const writer = uniqueName('sw_writer')
const reader = uniqueName('sw_wreader')
const noInsert = uniqueName('sw_wnoins')
let policyFile = ''
const opened: Client[] = []
let http: HttpServerProcess | null = null

function loginUrl(): string {
  const url = new URL(ADMIN_URL)
  url.username = login
  url.password = ''
  return url.toString()
}

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

async function names(): Promise<string[]> {
  return admin(async (c) => (await c.query(`SELECT name FROM ${schema}.items ORDER BY id`)).rows.map((r) => String(r.name)))
}

function sourceYaml(): string {
  return `sources:\n  shop:\n    kind: postgres\n    url: \${WRITE_DB_URL}\n    searchPath: [${schema}]\n`
}

before(async () => {
  assertBuilt()
  await admin(async (c) => {
    await c.query(`CREATE ROLE ${login} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE`)
    for (const role of [writer, reader, noInsert]) {
      await c.query(`CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOBYPASSRLS`)
      await c.query(`GRANT ${role} TO ${login}`)
    }
    await c.query(`GRANT CONNECT ON DATABASE test TO ${login}`)
    await c.query(`CREATE SCHEMA ${schema}`)
    await c.query(`CREATE TABLE ${schema}.items (id int PRIMARY KEY, name text NOT NULL)`)
    await c.query(`INSERT INTO ${schema}.items VALUES (1, 'one')`)
    await c.query(`GRANT USAGE ON SCHEMA ${schema} TO ${writer}, ${reader}, ${noInsert}`)
    await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.items TO ${writer}`)
    await c.query(`GRANT SELECT ON ${schema}.items TO ${reader}, ${noInsert}`)
  })
  policyFile = writeTempConfig(
    [
      'version: 1',
      'principals: { alice: [writer], bob: [reader], carol: [noins] }',
      'roles:',
      '  writer:',
      `    sources: { shop: { dbRole: ${writer}, access: { write: [insert, update, delete] } } }`,
      '  reader:',
      `    sources: { shop: { dbRole: ${reader} } }`,
      '  noins:',
      // The policy allows inserts; the database role has no INSERT grant: the engine refuses.
      `    sources: { shop: { dbRole: ${noInsert}, access: { write: [insert] } } }`,
      '  nobody:',
      `    sources: { shop: { tools: [list_schemas] } }`,
      '',
    ].join('\n'),
  )
})

after(async () => {
  for (const client of opened) await client.close().catch(() => undefined)
  await http?.stop().catch(() => undefined)
  await admin(async (c) => {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await c.query(`REVOKE CONNECT ON DATABASE test FROM ${login}`)
    for (const role of [writer, reader, noInsert, login]) await c.query(`DROP ROLE IF EXISTS ${role}`)
  })
})

type Answer = 'accept' | 'decline' | 'cancel' | 'accept-unticked'

interface Asked {
  readonly messages: string[]
}

/** A client of the real CLI over stdio, as `principal`, answering confirmations with `answer`. */
async function stdioClient(principal: string, answer: Answer | null, era: 'legacy' | 'modern'): Promise<{ client: Client; asked: Asked }> {
  const config = writeTempConfig(`${sourceYaml()}policy: ${policyFile}\nauth:\n  stdio: { principal: nobody, roles: [nobody] }\n`)
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, '--config', config],
    env: { ...process.env, WRITE_DB_URL: loginUrl(), SQLWARDEN_PRINCIPAL: principal } as Record<string, string>,
    stderr: 'ignore',
  })
  return connect(transport, answer, era)
}

async function connect(
  transport: StdioClientTransport | StreamableHTTPClientTransport,
  answer: Answer | null,
  era: 'legacy' | 'modern',
): Promise<{ client: Client; asked: Asked }> {
  const asked: Asked = { messages: [] }
  const client = new Client(
    { name: 'write-e2e', version: '1.0.0' },
    {
      capabilities: answer === null ? {} : { elicitation: { form: {} } },
      ...(era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
    },
  )
  if (answer !== null) {
    client.setRequestHandler('elicitation/create', async (request) => {
      asked.messages.push(String((request.params as { message?: unknown }).message))
      if (answer === 'accept') return { action: 'accept', content: { confirm: true } }
      if (answer === 'accept-unticked') return { action: 'accept', content: { confirm: false } }
      return { action: answer }
    })
  }
  await client.connect(transport)
  opened.push(client)
  return { client, asked }
}

for (const era of ['legacy', 'modern'] as const) {
  describe(`stdio, ${era === 'legacy' ? '2025-era elicitation' : '2026-07-28 input-required'}`, () => {
    test('accept: the user is asked about exactly this statement, and the row is written', async () => {
      const id = era === 'legacy' ? 10 : 20
      const { client, asked } = await stdioClient('alice', 'accept', era)
      const tools = await client.listTools()
      const execute = tools.tools.find((t) => t.name === 'execute')
      assert.ok(execute, 'execute is listed for a principal with write access')
      assert.deepEqual(execute.annotations, {
        title: 'Write to the database (asks the user first)',
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: false,
      })
      const r = await call(client, 'execute', { sql: 'INSERT INTO items (id, name) VALUES ($1, $2) RETURNING id, name', params: [id, `written-${era}`] })
      assert.equal(r.isError, undefined, JSON.stringify(r.content))
      assert.deepEqual(r.structuredContent?.['statement_class'], 'insert')
      assert.equal(r.structuredContent?.['row_count'], 1)
      assert.deepEqual((r.structuredContent?.['returning'] as { rows: unknown[] }).rows, [[id, `written-${era}`]])
      assert.equal(asked.messages.length, 1)
      const message = asked.messages[0] ?? ''
      assert.match(message, /Principal: alice/)
      assert.match(message, /Source: shop/)
      assert.match(message, /INSERT on items/)
      assert.ok(message.endsWith('INSERT INTO items (id, name) VALUES ($1, $2) RETURNING id, name'), message)
      assert.ok(message.includes(`[${id},"written-${era}"]`), message)
      assert.ok((await names()).includes(`written-${era}`))
    })

    test('decline, cancel or an unticked box: nothing is written, ERR_WRITE_DECLINED', async () => {
      for (const answer of ['decline', 'cancel', 'accept-unticked'] as const) {
        const { client, asked } = await stdioClient('alice', answer, era)
        const r = await call(client, 'execute', { sql: "UPDATE items SET name = 'declined' WHERE id = 1" })
        assertRefused(r, 'ERR_WRITE_DECLINED')
        assert.equal(asked.messages.length, 1)
      }
      assert.ok(!(await names()).includes('declined'))
    })

    test('a client without elicitation: ERR_WRITE_CONFIRMATION_UNAVAILABLE, nothing written', async () => {
      const { client } = await stdioClient('alice', null, era)
      const r = await call(client, 'execute', { sql: 'DELETE FROM items' })
      assertRefused(r, 'ERR_WRITE_CONFIRMATION_UNAVAILABLE')
      assert.ok((await names()).length >= 1)
    })
  })
}

test('stdio: DDL through execute is refused before anyone is asked', async () => {
  const { client, asked } = await stdioClient('alice', 'accept', 'legacy')
  for (const sql of ['DROP TABLE items', 'TRUNCATE items', 'CREATE TABLE x (a int)', 'MERGE INTO items USING items s ON true WHEN MATCHED THEN DELETE']) {
    assertRefused(await call(client, 'execute', { sql }), 'ERR_SQL_NOT_DML')
  }
  assertRefused(await call(client, 'execute', { sql: 'WITH d AS (DELETE FROM items RETURNING *) INSERT INTO items SELECT id + 100, name FROM d' }), 'ERR_SQL_FORBIDDEN_CONSTRUCT')
  assert.equal(asked.messages.length, 0)
  assert.ok((await names()).includes('one'))
})

test('stdio: query still refuses every write, even for a principal that may write', async () => {
  const { client, asked } = await stdioClient('alice', 'accept', 'legacy')
  assertRefused(await call(client, 'query', { sql: "INSERT INTO items VALUES (99, 'via-query')" }), 'ERR_SQL_NOT_READ_ONLY')
  assert.equal(asked.messages.length, 0)
  assert.ok(!(await names()).includes('via-query'))
})

test('stdio: a principal without write access does not see execute and is refused calling it', async () => {
  const { client, asked } = await stdioClient('bob', 'accept', 'legacy')
  const tools = (await client.listTools()).tools.map((t) => t.name)
  assert.ok(!tools.includes('execute'), tools.join(','))
  assert.ok(tools.includes('query'))
  assertRefused(await call(client, 'execute', { sql: "INSERT INTO items VALUES (98, 'bob')" }), 'ERR_POLICY_DENIED')
  assert.equal(asked.messages.length, 0)
  assert.ok(!(await names()).includes('bob'))
})

test('stdio: the write class must be granted (carol may insert, not delete)', async () => {
  const { client, asked } = await stdioClient('carol', 'accept', 'legacy')
  assertRefused(await call(client, 'execute', { sql: 'DELETE FROM items' }), 'ERR_POLICY_DENIED')
  assert.equal(asked.messages.length, 0)
})

test('stdio: the mapped role is the backstop: no INSERT grant, ERR_EXEC_PERMISSION_DENIED after confirmation', async () => {
  const { client, asked } = await stdioClient('carol', 'accept', 'legacy')
  const r = await call(client, 'execute', { sql: "INSERT INTO items VALUES (97, 'carol')" })
  assertRefused(r, 'ERR_EXEC_PERMISSION_DENIED')
  assert.equal(asked.messages.length, 1)
  assert.ok(!(await names()).includes('carol'))
})

describe('stateless HTTP', () => {
  before(async () => {
    const config = writeTempConfig(
      `${sourceYaml()}http:\n  listen: 127.0.0.1:0\npolicy: ${policyFile}\nauth:\n  stdio: { principal: alice, roles: [writer] }\n`,
    )
    http = await startHttpCli(['--config', config], { WRITE_DB_URL: loginUrl() })
  })

  test('2026-07-28: the input-required flow asks, and accept writes the row', async () => {
    const server = http as HttpServerProcess
    const { client, asked } = await connect(new StreamableHTTPClientTransport(new URL(server.url)), 'accept', 'modern')
    const r = await call(client, 'execute', { sql: "INSERT INTO items VALUES (30, 'over-http')" })
    assert.equal(r.isError, undefined, JSON.stringify(r.content))
    assert.equal(asked.messages.length, 1)
    assert.ok((await names()).includes('over-http'))
  })

  test('2026-07-28: decline writes nothing', async () => {
    const server = http as HttpServerProcess
    const { client } = await connect(new StreamableHTTPClientTransport(new URL(server.url)), 'decline', 'modern')
    assertRefused(await call(client, 'execute', { sql: "INSERT INTO items VALUES (31, 'declined-http')" }), 'ERR_WRITE_DECLINED')
    assert.ok(!(await names()).includes('declined-http'))
  })

  test('2025-era over stateless HTTP cannot be asked: refused, never run', async () => {
    const server = http as HttpServerProcess
    const { client, asked } = await connect(new StreamableHTTPClientTransport(new URL(server.url)), 'accept', 'legacy')
    assertRefused(await call(client, 'execute', { sql: "INSERT INTO items VALUES (32, 'legacy-http')" }), 'ERR_WRITE_CONFIRMATION_UNAVAILABLE')
    assert.equal(asked.messages.length, 0)
    assert.ok(!(await names()).includes('legacy-http'))
  })
})
