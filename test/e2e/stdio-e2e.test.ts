import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { ADMIN_URL, readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML } from '../helpers/e2e-fixture.js'
import { assertBuilt, CLI, runCli, startHttpCli, writeTempConfig } from '../helpers/cli-process.js'
import { checkReads, checkRefusals, checkToolList } from './tool-scenarios.js'

let client: Client
let stderr = ''

before(async () => {
  assertBuilt()
  await setupE2eDatabase()
  const config = writeTempConfig(
    `${SHOP_SOURCE_YAML}limits:\n  maxRows: 50\n`,
  )
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, '--config', config],
    env: { ...process.env, E2E_DB_URL: readerUrl() } as Record<string, string>,
    stderr: 'pipe',
  })
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  client = new Client({ name: 'e2e-stdio', version: '1.0.0' })
  await client.connect(transport)
})

after(async () => {
  await client?.close()
})

test('stdio: tools/list shows the five tools with strict schemas and read-only annotations', async () => {
  await checkToolList(client)
})

test('stdio: reads return typed, capped, fenced results', async () => {
  await checkReads(client, 50)
})

test('stdio: refusals carry stable codes and no driver text', async () => {
  await checkRefusals(client)
})

test('stdio: the server logs to stderr only, and never the connection URL', () => {
  assert.match(stderr, /sqlwarden serving stdio/)
  assert.doesNotMatch(stderr, /sqlwarden_e2e_reader@/)
})

test('start-up refuses a superuser role unless --allow-unsafe-role, and then warns loudly', async () => {
  const refused = await runCli(['--db', ADMIN_URL, '--http', '127.0.0.1:0'])
  assert.equal(refused.code, 2)
  assert.match(refused.stderr, /ERR_CONFIG_UNSAFE_ROLE/)
  assert.equal(refused.stdout, '')
})

test('a bad flag or config stops the start with a message naming it', async () => {
  const bad = await runCli(['--max-rowz', '5'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /ERR_CONFIG_INVALID.*max-rowz/)
  const unset = await runCli(['--config', writeTempConfig('sources:\n  a:\n    kind: postgres\n    url: ${NOPE_UNSET_VAR}\n')])
  assert.equal(unset.code, 2)
  assert.match(unset.stderr, /NOPE_UNSET_VAR/)
  const bind = await runCli(['--http', '0.0.0.0:8765'])
  assert.equal(bind.code, 2)
  assert.match(bind.stderr, /non-loopback/)
})

test('--allow-unsafe-role starts on a superuser role, and says so loudly', async () => {
  const server = await startHttpCli(['--db', ADMIN_URL, '--allow-unsafe-role', '--http', '127.0.0.1:0'])
  try {
    assert.match(server.stderr(), /UNSAFE: role postgres has SUPERUSER/)
  } finally {
    await server.stop()
  }
})

test('sqlwarden doctor: OK for the least-privilege role, REFUSED (exit 1) with advice for a superuser', async () => {
  const good = await runCli(['doctor', '--db', readerUrl()])
  assert.equal(good.code, 0, good.stderr)
  assert.match(good.stdout, /role sqlwarden_e2e_reader/)
  assert.match(good.stdout, /verdict: OK/)
  assert.match(good.stdout, /connection: direct to PostgreSQL/)
  const bad = await runCli(['doctor', '--db', ADMIN_URL])
  assert.equal(bad.code, 1)
  assert.match(bad.stdout, /verdict: REFUSED/)
  assert.match(bad.stdout, /CREATE ROLE sqlwarden_reader/)
  assert.doesNotMatch(bad.stdout + bad.stderr, /postgres:\/\//)
})
